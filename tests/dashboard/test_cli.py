"""``codex-ds dashboard``: the command line it runs, and the message without the extra."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codex_ds.cli import dashboard as dashboard_cli
from codex_ds.cli.main import app


def test_streamlit_command_runs_the_app_file_on_the_given_address() -> None:
    cmd = dashboard_cli.streamlit_command("127.0.0.1", 8600)
    assert cmd[1:5] == ["-m", "codex_ds.dashboard.serve", "run", str(dashboard_cli.APP_FILE)]
    assert Path(cmd[4]).is_file() and Path(cmd[4]).name == "app.py"
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.port") + 1] == "8600"
    # no pages/ folder beside the entrypoint: Streamlit would hijack deep links with it
    assert not (Path(cmd[4]).parent / "pages").exists()


def test_without_the_extra_the_command_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "streamlit" else real(name)
    )
    result = CliRunner().invoke(app, ["--home", str(tmp_path), "dashboard"])
    assert result.exit_code == 1
    assert "pip install 'codex-ds[dashboard]'" in result.output


def test_the_server_preloads_everything_the_app_imports_but_its_cached_pages() -> None:
    # In a fresh interpreter: after serve.preload(), importing the app (what the first browser
    # session does) imports nothing but the dashboard's own modules and Streamlit's.
    code = (
        "import sys\n"
        "from codex_ds.dashboard import serve\n"
        "serve.preload()\n"
        "assert not any(m.startswith('codex_ds.dashboard.') and m != 'codex_ds.dashboard.serve'"
        " for m in sys.modules), 'a cached page module was preloaded'\n"
        "before = set(sys.modules)\n"
        "import codex_ds.dashboard.app\n"
        "new = sorted(m for m in set(sys.modules) - before\n"
        "             if not m.startswith(('codex_ds.dashboard', 'streamlit')))\n"
        "print(new)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
