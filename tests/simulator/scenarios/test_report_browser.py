"""The HTML report renders in headless Chromium and lists every scenario."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from simulator.scenarios.config import ScenarioEntry, resolve_scenario, standard_scenario_names
from simulator.scenarios.record import (
    CheckOutcome,
    MapPoint,
    RunRecord,
    ScenarioOutcome,
    Track,
    TrackPoint,
)
from simulator.scenarios.report import write_report
from simulator.scenarios.runner import _record_without_run
from tests.browser import CHROMIUM, chromium_launch

pytestmark = pytest.mark.browser


def _run_record() -> RunRecord:
    run = RunRecord(name="browser-check", started_at=datetime.now(UTC), speedup=20)
    for name in standard_scenario_names():
        entry = ScenarioEntry(resolve_scenario(name), 60, {}, name)
        record = _record_without_run(entry, ScenarioOutcome.PASSED, "")
        record.error = None
        record.points.append(MapPoint(label="Dock", kind="dock", lat=38.83, lon=-104.74))
        record.tracks.append(
            Track(
                vehicle_id="D1",
                points=[
                    TrackPoint(t_s=i, lat=38.83 + i * 1e-3, lon=-104.74, alt_m=60) for i in range(5)
                ],
            )
        )
        run.scenarios.append(record)
    run.scenarios[0].checks()  # records built from the narratives
    assert all(c.outcome is CheckOutcome.NOT_RUN for s in run.scenarios for c in s.checks())
    return run


def test_report_renders_in_chromium_and_lists_every_scenario(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("chromium missing: run scripts/setup-system.sh")
    from playwright.sync_api import sync_playwright

    run = _run_record()
    files = write_report(run, tmp_path)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**chromium_launch())
        try:
            page = browser.new_page()
            page.goto(files.html.as_uri())
            rows = page.locator("#summary tr").count()
            titles = page.locator("section.scenario h2").all_inner_texts()
            maps = page.locator("svg.map").count()
            artifacts = Path("test-artifacts")
            artifacts.mkdir(exist_ok=True)
            page.screenshot(path=str(artifacts / "scenario-report.png"), full_page=False)
        finally:
            browser.close()
    assert rows == len(run.scenarios) + 1
    for record in run.scenarios:
        assert any(record.title in t for t in titles), record.title
    assert maps == len(run.scenarios)
    shutil.copy(files.html, Path("test-artifacts") / "scenario-report.html")
