"""The productivity notebook template runs top to bottom (nbclient, a real kernel)."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook test needs the dev extra")
nbclient = pytest.importorskip("nbclient", reason="the notebook test needs the dev extra")

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "productivity_analysis_template.ipynb"


@pytest.mark.slow
def test_the_template_runs_top_to_bottom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # no warehouse there: the notebook simulates one in a temporary workspace
    monkeypatch.setenv("CODEX_DS_WAREHOUSE", str(tmp_path / "absent" / "warehouse.duckdb"))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # plots render inline (PNG outputs)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        "the template is committed without outputs"
    )
    nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # odds ratios + calibration, linkage scatter, segments
    text = "".join(o.get("text", "") for o in outputs)
    assert "simulated" in text and "AUC" in text and "k = " in text
