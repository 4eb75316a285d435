"""The real dashboard server (``codex-ds dashboard``) driven by headless Chromium: every
page loads with its charts (screenshots to docs/img/), a sidebar filter changes what is
shown, and ``codex-ds ingest`` writes to the warehouse while the dashboard has it open."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
sync_api = pytest.importorskip("playwright.sync_api", reason="the e2e extra is not installed")

from codex_ds.dashboard.app import PAGES  # noqa: E402
from codex_ds.dashboard.browser import chromium_path, path_of, served, wait_rendered  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "docs" / "img"
CHROMIUM = chromium_path()
DATA = REPO / "tests" / "data"


@pytest.fixture(scope="module")
def server(
    simulated_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    if CHROMIUM is None:
        pytest.fail("Chromium is missing: apt-get install -y chromium (scripts/test.sh does)")
    home = tmp_path_factory.mktemp("browser_ws")
    shutil.copy2(simulated_home / "warehouse.duckdb", home / "warehouse.duckdb")
    with served(home, home / "dashboard.log") as base:
        yield base, home


@pytest.fixture(scope="module")
def browser_page(server: tuple[str, Path]) -> Iterator[object]:
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            yield page
        finally:
            browser.close()


def test_every_page_loads_with_its_charts(server: tuple[str, Path], browser_page: object) -> None:
    base, _ = server
    page = browser_page
    IMAGES.mkdir(parents=True, exist_ok=True)
    for _, title, url, _ in PAGES:
        page.goto(f"{base}/{path_of(url)}")  # type: ignore[attr-defined]
        wait_rendered(page, title)
        assert page.locator('[data-testid="stException"]').count() == 0  # type: ignore[attr-defined]
        charts = page.locator('[data-testid="stPlotlyChart"]')  # type: ignore[attr-defined]
        if url not in ("copilot", "data-quality"):  # no Copilot data, no quarantine yet
            charts.first.wait_for(timeout=30_000)
            page.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=30_000)  # type: ignore[attr-defined]
        shot = str(IMAGES / f"dashboard_{url.replace('-', '_')}.png")
        if url == "experiments":  # forest plot, power, sequential monitoring: a tall shot
            page.wait_for_function(  # type: ignore[attr-defined]
                "document.querySelectorAll('.js-plotly-plot .main-svg').length >= 3",
                timeout=30_000,
            )
            assert charts.count() >= 3
            page.set_viewport_size({"width": 1400, "height": 2900})  # type: ignore[attr-defined]
            page.wait_for_timeout(500)  # type: ignore[attr-defined]
            page.screenshot(path=shot)  # type: ignore[attr-defined]
            page.set_viewport_size({"width": 1400, "height": 1000})  # type: ignore[attr-defined]
        else:
            page.screenshot(path=shot)  # type: ignore[attr-defined]


def _acceptance_card(page: object) -> str:
    card = page.locator('[data-testid="stMetric"]', has_text="Acceptance rate")  # type: ignore[attr-defined]
    return str(card.locator('[data-testid="stMetricValue"]').inner_text()).strip()


def test_a_sidebar_filter_changes_what_is_shown(
    server: tuple[str, Path], browser_page: object
) -> None:
    base, _ = server
    page = browser_page
    page.goto(f"{base}/")  # type: ignore[attr-defined]
    wait_rendered(page, "Overview")
    before = _acceptance_card(page)
    sidebar = page.locator('[data-testid="stSidebar"]')  # type: ignore[attr-defined]
    sidebar.locator('[data-testid="stSelectbox"]', has_text="Editor").click()
    page.locator('[role="option"]', has_text="vscode").first.click()  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        """(before) => {
            const cards = [...document.querySelectorAll('[data-testid="stMetric"]')];
            const card = cards.find(c => c.innerText.includes('Acceptance rate'));
            const app = document.querySelector('[data-testid="stApp"]');
            return card && app.getAttribute('data-test-script-state') === 'notRunning'
                && !card.innerText.includes(before);
        }""",
        arg=before,
        timeout=60_000,
    )
    after = _acceptance_card(page)
    assert before != after and after.endswith("%")


def test_ingest_while_the_dashboard_is_open(
    server: tuple[str, Path], browser_page: object
) -> None:
    base, home = server
    page = browser_page
    page.goto(f"{base}/data-quality")  # type: ignore[attr-defined]
    wait_rendered(page, "Data Quality")
    assert "Nothing quarantined" in page.inner_text("body")  # type: ignore[attr-defined]
    files = [DATA / "copilot" / "organization-2-day-report.json",
             DATA / "continue" / "autocomplete_malformed.jsonl"]
    ingest = subprocess.run(
        [sys.executable, "-m", "codex_ds", "--home", str(home), "ingest", "--json",
         *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # 3: loaded, with some rows of the malformed file quarantined (1 would be "cannot open")
    assert ingest.returncode == 3, ingest.stderr
    page.reload()  # type: ignore[attr-defined]
    wait_rendered(page, "Data Quality")
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for(timeout=30_000)  # type: ignore[attr-defined]
    body = page.inner_text("body")  # type: ignore[attr-defined]
    assert "Nothing quarantined" not in body
    page.screenshot(path=str(IMAGES / "dashboard_data_quality.png"))  # type: ignore[attr-defined]
    page.goto(f"{base}/copilot")  # type: ignore[attr-defined]
    wait_rendered(page, "Copilot")
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for(timeout=30_000)  # type: ignore[attr-defined]
    page.screenshot(path=str(IMAGES / "dashboard_copilot.png"))  # type: ignore[attr-defined]
