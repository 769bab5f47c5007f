"""The chart UI end to end: a real study materialized into a temporary data directory, the API
(uvicorn) serving it and the built frontend, and headless Chromium driven by Playwright.

Needs ``frontend/dist`` (``cd frontend && npm ci && npm run build``) and Chromium at
``/usr/bin/chromium`` (or ``MAESTRO_CHROMIUM``); skipped otherwise. Screenshots go to
``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.support.processes import stop, wait_until

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "frontend" / "dist"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("MAESTRO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MONTHS = ["2018-01-01", "2018-02-01", "2018-03-01", "2018-04-01", "2018-05-01", "2018-06-01"]
STUDY = "BTC/USD@1h|ema_cross"
STUDY_ID = "ema_cross.BTC-USD.1h"
TINY = {"n_splits": 3, "n_trials": 12, "min_trades": 1}
# A cpcv study beside it: 4 groups, 2 tested per split: 6 splits, 3 backtest paths.
CPCV_STUDY = "BTC/USD@1h|macd"
CPCV_STUDY_ID = "macd.BTC-USD.1h"
TINY_CPCV = {"scheme": "cpcv", "n_groups": 4, "n_test_groups": 2, "n_trials": 8, "min_trades": 1}
VERDICTS = ("robust", "fragile", "overfit", "insufficient")
# Bounds each wait of the page for what it should show (they return as soon as it does).
TIMEOUT_MS = 120_000

if not (DIST / "index.html").is_file():
    pytest.skip(
        "frontend/dist/index.html is missing: build the UI first "
        "(cd frontend && npm ci && npm run build)",
        allow_module_level=True,
    )
if not Path(CHROMIUM).is_file():
    pytest.skip(f"no Chromium at {CHROMIUM} (set MAESTRO_CHROMIUM)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="Python playwright is not installed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """Six months of BTC bars, a small walk-forward study and a small cpcv study with their
    reports, and the leaderboard (materialized exactly as tests/test_studies.py does)."""
    import dagster as dg

    from maestro_pipeline.defs.market_data import market_data_assets
    from maestro_pipeline.defs.reports import leaderboard, strategy_report
    from maestro_pipeline.defs.resources import build_resources
    from maestro_pipeline.defs.studies import walk_forward_study
    from maestro_pipeline.settings import Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("data"))
    resources = build_resources(settings)
    instance = dg.DagsterInstance.local_temp(str(tmp_path_factory.mktemp("dagster_home")))
    for month in MONTHS:
        assert dg.materialize(
            market_data_assets,
            partition_key=f"{month}|BTC/USD",
            resources=resources,
            instance=instance,
        ).success
    assert dg.materialize(
        [walk_forward_study, strategy_report],
        partition_key=STUDY,
        resources=resources,
        instance=instance,
        run_config={"ops": {"walk_forward_study": {"config": TINY}}},
    ).success
    assert dg.materialize(
        [walk_forward_study, strategy_report],
        partition_key=CPCV_STUDY,
        resources=resources,
        instance=instance,
        run_config={"ops": {"walk_forward_study": {"config": TINY_CPCV}}},
    ).success
    assert dg.materialize([leaderboard], resources=resources, instance=instance).success
    return settings.data_dir


@pytest.fixture(scope="module")
def base_url(data_dir: Path, tmp_path_factory):
    """The API (and the built UI at /) on a free port over the materialized data, with a
    user strategy folder holding a sound and a broken strategy."""
    from tests.support.strategy_files import SOUND, SYNTAX_ERROR, write

    strategies = write(tmp_path_factory.mktemp("strategies"), mine=SOUND, broken=SYNTAX_ERROR)
    port = _free_port()
    env = {
        **os.environ,
        "MAESTRO_STRATEGY_PATH": str(strategies),
        "MAESTRO_DATA_DIR": str(data_dir),
        # Nothing listens there: POST /optimization answers 503.
        "MAESTRO_DAGSTER_URL": f"http://127.0.0.1:{_free_port()}",
    }
    env.pop("MAESTRO_FRONTEND_DIST", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        with urllib.request.urlopen(f"{url}/api/v2/health", timeout=5) as res:
            return res.status == 200

    try:
        wait_until(healthy, "the API answering /api/v2/health", process=proc, interval=0.25)
        yield url
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()
    assert not errors, f"uncaught page errors: {errors}"


def _drawn(page, container: str) -> bool:
    """Whether some canvas inside ``container`` gets pixels other than the background (charts
    paint on animation frames: this waits for the first painted one, up to TIMEOUT_MS)."""
    return page.wait_for_function(
        """(sel) => [...document.querySelectorAll(sel + ' canvas')].some((c) => {
            if (!c.width || !c.height) return false;
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            const seen = new Set();
            for (let i = 0; i < d.length; i += 4 * 97) {
                if (d[i + 3]) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
                if (seen.size > 3) return true;
            }
            return false;
        })""",
        arg=container,
    ).json_value()


def test_leaderboard_lists_the_study(page, base_url):
    page.goto(f"{base_url}/")
    row = page.locator(f'[data-testid="leaderboard-row"][data-study-id="{STUDY_ID}"]')
    row.wait_for()
    assert "ema_cross" in row.inner_text()
    assert "BTC/USD" in row.inner_text()
    page.screenshot(path=ARTIFACTS / "leaderboard.png", full_page=True)


def test_study_page_draws_candles_markers_and_equity(page, base_url):
    page.goto(f"{base_url}/")
    page.locator(f'[data-testid="leaderboard-row"][data-study-id="{STUDY_ID}"]').click()
    page.wait_for_url(f"**/#/study/{STUDY_ID}")
    view = page.locator('[data-testid="study-view"][data-ready="true"]')
    view.wait_for()
    assert int(view.get_attribute("data-candle-count")) > 1000
    assert int(view.get_attribute("data-marker-count")) > 0
    assert page.locator('[data-testid="price-chart"] canvas').count() > 0
    assert page.locator('[data-testid="equity-chart"] canvas').count() > 0
    assert _drawn(page, '[data-testid="price-chart"]')
    assert _drawn(page, '[data-testid="equity-chart"]')
    assert page.locator('[data-testid="folds-table"] tbody tr').count() == TINY["n_splits"]
    version = page.locator('[data-testid="strategy-version"] code').inner_text()
    assert len(version) == 12 and int(version, 16) >= 0
    page.locator('[data-testid="importances"]').wait_for()
    href = page.locator('[data-testid="report-link"]').get_attribute("href")
    with urllib.request.urlopen(f"{base_url}{href}") as res:
        assert res.headers["content-type"].startswith("text/html")
    page.screenshot(path=ARTIFACTS / "study.png", full_page=True)


def test_invalid_study_id_shows_the_error_state(page, base_url):
    page.goto(f"{base_url}/#/study/nope.BTC-USD.1h")
    error = page.locator('[data-testid="error"]')
    error.wait_for()
    assert "unknown strategy" in error.inner_text()
    page.goto(f"{base_url}/#/study/not-a-study-id")
    page.locator('[data-testid="error"]').wait_for()
    page.screenshot(path=ARTIFACTS / "study_error.png", full_page=True)


def test_bars_explorer_switches_timeframe(page, base_url):
    page.goto(f"{base_url}/#/bars?symbol=BTC-USD&tf=1h")
    hourly = page.locator('[data-testid="bars-view"][data-timeframe="1h"][data-ready="true"]')
    hourly.wait_for()
    n_hourly = int(hourly.get_attribute("data-candle-count"))
    page.click('[data-testid="tf-4h"]')
    four = page.locator('[data-testid="bars-view"][data-timeframe="4h"][data-ready="true"]')
    four.wait_for()
    n_four = int(four.get_attribute("data-candle-count"))
    assert 0 < n_four < n_hourly
    assert "tf=4h" in page.url
    assert _drawn(page, '[data-testid="bars-chart"]')
    page.screenshot(path=ARTIFACTS / "bars_4h.png", full_page=True)


def test_submit_shows_the_api_error(page, base_url):
    page.goto(f"{base_url}/#/submit")
    page.locator('[data-testid="submit-form"]').wait_for()
    page.click('[data-testid="submit-button"]')
    error = page.locator('[data-testid="submit-error"]')
    error.wait_for()
    assert "Dagster" in error.inner_text()
    page.click('[data-testid="watch-button"]')
    status = page.locator('[data-testid="progress-status"]')
    status.wait_for()
    assert status.inner_text() == "completed"
    page.screenshot(path=ARTIFACTS / "submit.png", full_page=True)


def test_submit_lists_user_strategies_and_the_broken_one_with_its_error(page, base_url):
    page.goto(f"{base_url}/#/submit")
    page.locator('[data-testid="submit-form"]').wait_for()
    page.locator('[data-testid="broken-strategy"]').wait_for()
    select = page.locator('select[name="strategy"]')
    assert select.locator('option[value="range_break"]').is_enabled()
    broken = select.locator('option[value="broken_syntax"]')
    assert broken.is_disabled() and broken.inner_text() == "broken_syntax (broken)"
    notice = page.locator('[data-testid="broken-strategy"]').inner_text()
    assert "broken_syntax" in notice and "broken.py, line" in notice and "SyntaxError" in notice
    select.select_option("range_break")
    assert "range_break" in page.locator('[data-testid="strategy-rule"]').inner_text()
    page.screenshot(path=ARTIFACTS / "submit_user_strategies.png", full_page=True)


def _api(base_url: str, path: str):
    with urllib.request.urlopen(f"{base_url}/api/v2{path}", timeout=30) as res:
        return json.loads(res.read())


def test_leaderboard_shows_verdicts_and_filters_by_them(page, base_url):
    board = _api(base_url, "/leaderboard")["rows"]
    verdicts = {row["study_id"]: row["verdict"] for row in board}
    assert set(verdicts) == {STUDY_ID, CPCV_STUDY_ID} and set(verdicts.values()) <= set(VERDICTS)
    page.goto(f"{base_url}/")
    page.locator('[data-testid="leaderboard-row"]').nth(1).wait_for()
    for study_id, verdict in verdicts.items():
        row = page.locator(f'[data-testid="leaderboard-row"][data-study-id="{study_id}"]')
        assert row.get_attribute("data-verdict") == verdict
        assert row.locator(f".badge-{verdict}").inner_text() == verdict
    # Filter on the cpcv study's verdict: exactly the studies with that verdict remain.
    wanted = verdicts[CPCV_STUDY_ID]
    page.click(f'[data-testid="verdict-filter-{wanted}"]')
    page.wait_for_url(f"**verdict={wanted}*")
    page.locator(f'[data-testid="leaderboard-view"][data-verdicts="{wanted}"]').wait_for()
    rows = page.locator('[data-testid="leaderboard-row"]')
    rows.first.wait_for()
    shown = {rows.nth(i).get_attribute("data-study-id") for i in range(rows.count())}
    assert shown == {s for s, v in verdicts.items() if v == wanted}
    assert (
        page.locator(f'[data-testid="verdict-filter-{wanted}"]').get_attribute("aria-pressed")
        == "true"
    )
    page.screenshot(path=ARTIFACTS / "leaderboard_verdict_filter.png", full_page=True)
    # A verdict no study has: the empty state says so.
    absent = next(v for v in VERDICTS if v not in verdicts.values())
    page.goto(f"{base_url}/#/?verdict={absent}")
    assert f"No study is {absent}" in page.locator('[data-testid="empty"]').inner_text()
    page.click('[data-testid="verdict-filter-all"]')
    page.locator('[data-testid="leaderboard-row"]').nth(1).wait_for()


def test_study_page_shows_verdict_bootstrap_heatmap_and_cross_check(page, base_url):
    validation = _api(base_url, f"/optimization/{STUDY_ID}/validation")
    plateau = _api(base_url, f"/optimization/{STUDY_ID}/plateau")
    page.goto(f"{base_url}/#/study/{STUDY_ID}")
    panel = page.locator(f'[data-testid="verdict-panel"][data-verdict="{validation["verdict"]}"]')
    panel.wait_for()
    assert page.locator('[data-testid="verdict"]').inner_text().lower() == validation["verdict"]
    reasons = page.locator('[data-testid="verdict-reasons"] li')
    assert [reasons.nth(i).inner_text() for i in range(reasons.count())] == validation["reasons"]
    checks = page.locator('[data-testid="verdict-checks"] tbody tr')
    assert checks.count() == len(validation["checks"])
    # The bootstrap fan under the OOS equity, and its intervals.
    assert _drawn(page, '[data-testid="fan-chart"]')
    assert page.locator('[data-testid="bootstrap-table"] tbody tr').count() == 4
    assert "%" in page.locator('[data-testid="probability-of-loss"]').inner_text()
    # The heatmap: one coloured cell per measured bin, a ring per chosen cell.
    heatmap = page.locator('[data-testid="plateau-heatmap"]')
    measured = sum(v is not None for row in plateau["heatmap"]["values"] for v in row)
    assert int(heatmap.get_attribute("data-cells")) == measured > 0
    assert page.locator('[data-testid="heatmap-chosen"]').count() >= 1
    # The engine cross-check: its table when the study has one, else "not available".
    section = page.locator('[data-testid="cross-check"], [data-testid="cross-check-unavailable"]')
    section.first.wait_for()
    if page.locator('[data-testid="cross-check-unavailable"]').count():
        assert "Not available" in section.first.inner_text()
    else:
        check = _api(base_url, f"/optimization/{STUDY_ID}/cross-check")
        rows = page.locator('[data-testid="cross-check-table"] tbody tr')
        assert check["unsupported"] or rows.count() == len(check["folds"])
    # A walk-forward study has no cpcv paths.
    assert page.locator('[data-testid="cpcv-section"]').count() == 0
    assert page.locator('[data-testid="scheme"]').inner_text() == "walk-forward"
    page.locator('[data-testid="study-view"][data-ready="true"]').wait_for()
    page.screenshot(path=ARTIFACTS / "study_validation.png", full_page=True)


def test_cpcv_study_page_shows_the_paths_and_their_sharpe_distribution(page, base_url):
    cpcv = _api(base_url, f"/optimization/{CPCV_STUDY_ID}/cpcv")
    page.goto(f"{base_url}/#/study/{CPCV_STUDY_ID}")
    page.locator('[data-testid="cpcv-section"]').wait_for()
    assert page.locator('[data-testid="scheme"]').inner_text() == "cpcv"
    chart = page.locator(f'[data-testid="cpcv-paths-chart"][data-paths="{cpcv["n_paths"]}"]')
    chart.wait_for()
    assert _drawn(page, '[data-testid="cpcv-paths-chart"]')
    distribution = page.locator('[data-testid="cpcv-distribution"]')
    assert int(distribution.get_attribute("data-paths")) == cpcv["n_paths"] == 3
    assert distribution.locator("circle").count() == cpcv["n_paths"]
    assert page.locator('[data-testid="folds-table"] tbody tr').count() == cpcv["n_splits"] == 6
    page.locator('[data-testid="verdict-panel"]').wait_for()
    assert _drawn(page, '[data-testid="fan-chart"]')
    page.locator('[data-testid="plateau-heatmap"]').wait_for()
    view = page.locator('[data-testid="study-view"][data-ready="true"]')
    view.wait_for()
    assert int(view.get_attribute("data-candle-count")) > 1000
    assert _drawn(page, '[data-testid="price-chart"]')
    page.screenshot(path=ARTIFACTS / "study_cpcv.png", full_page=True)
