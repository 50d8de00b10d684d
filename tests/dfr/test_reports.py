"""`dfr report`: the annual statutory reports (IL, TX) have one filled row per use; the monthly one sums."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]
from typer.testing import CliRunner

from dfr.cli import app
from dfr.db import make_engine, session_scope, upgrade_schema
from dfr.fleet import DEMO_FLEET_FILE, apply_fleet_file, read_fleet_file
from dfr.models import Call, CallLifecycle, Flight, FlightEvent, RecordingHold
from dfr.reports import IL_COLUMNS, TX_COLUMNS
from dfr.settings import Settings


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A database with the demo fleet, three flights in 2026 (two for calls) and one in 2025."""
    directory = tmp_path / "data"
    url = Settings(mode="test", data_dir=directory).database_url
    upgrade_schema(url)
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            apply_fleet_file(session, read_fleet_file(DEMO_FLEET_FILE))
            starts = [
                datetime(2026, 3, 4, 15, 0, tzinfo=UTC),
                datetime(2026, 3, 20, 2, 30, tzinfo=UTC),
                datetime(2026, 7, 1, 12, 0, tzinfo=UTC),
                datetime(2025, 12, 31, 12, 0, tzinfo=UTC),
            ]
            for i, start in enumerate(starts):
                call_id = None
                if i < 2:
                    call = Call(
                        agency_id="cspd",
                        cad_incident_id=f"CSPD-{i}",
                        call_type="BURGLARY" if i == 0 else "MVC",
                        call_type_text='=HYPERLINK("x")' if i == 1 else "",
                        category="property_crime" if i == 0 else "traffic",
                        priority=2,
                        lat=38.845,
                        lon=-104.76,
                        address="3150 N Powers Blvd" if i == 0 else None,
                        received_at=start,
                        lifecycle=CallLifecycle.CLEARED,
                    )
                    session.add(call)
                    session.flush()
                    call_id = call.id
                flight = Flight(
                    drone_id="D1",
                    call_id=call_id,
                    state="completed",
                    started_at=start,
                    ended_at=start + timedelta(minutes=30),
                )
                session.add(flight)
                session.flush()
                assert flight.id is not None
                if i == 2:
                    session.add(
                        RecordingHold(flight_id=flight.id, reason="Training: night approach")
                    )
                for state, minutes in (("on_scene", 3), ("returning", 13)):
                    session.add(
                        FlightEvent(
                            flight_id=flight.id,
                            at=start + timedelta(minutes=minutes),
                            to_state=state,
                        )
                    )
    finally:
        engine.dispose()
    return directory


def _rows(output: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(output)))


def test_the_annual_reports_for_a_year_with_3_flights_have_3_rows_with_every_column_filled(
    data_dir: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    for state, columns in (("IL", IL_COLUMNS), ("TX", TX_COLUMNS)):
        args = ["report", "annual", "--state", state, "--year", "2026", "--data-dir"]
        result = runner.invoke(app, [*args, str(data_dir)])
        assert result.exit_code == 0, result.output
        rows = _rows(result.stdout)
        assert len(rows) == 3, result.stdout
        assert tuple(rows[0]) == columns
        assert all(value.strip() for row in rows for value in row.values()), rows
    il = _rows(
        runner.invoke(
            app,
            ["report", "annual", "--state", "il", "--year", "2026", "--data-dir", str(data_dir)],
        ).stdout
    )
    assert il[0]["drones_owned"] == "4" and il[0]["location"] == "3150 N Powers Blvd"
    assert il[0]["date_of_use"] == "2026-03-04" and il[0]["time_of_use"] == "08:00"
    # 02:30 UTC on 20 March is the evening before in Colorado Springs.
    assert il[1]["date_of_use"] == "2026-03-19"
    assert [r["video_retained_for_training"] for r in il] == ["no", "no", "yes"]
    tx = _rows(
        runner.invoke(
            app,
            ["report", "annual", "--state", "TX", "--year", "2026", "--data-dir", str(data_dir)],
        ).stdout
    )
    assert [r["criminal_investigation"] for r in tx] == ["yes", "no", "no"]
    assert tx[1]["incident_type"].startswith("'=")  # CAD text is never a spreadsheet formula
    assert "10 min over the scene" in tx[0]["how_it_aided"]

    book = tmp_path / "il.xlsx"
    result = runner.invoke(
        app,
        [
            "report",
            "annual",
            "--state",
            "IL",
            "--year",
            "2026",
            "--xlsx",
            "--out",
            str(book),
            "--data-dir",
            str(data_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    sheet = load_workbook(book).active
    assert [c.value for c in sheet[1]] == list(IL_COLUMNS) and sheet.max_row == 4
    refused = runner.invoke(app, ["report", "annual", "--state", "CA", "--year", "2026"])
    assert refused.exit_code == 2


def test_the_monthly_report_counts_flights_and_hours_by_call_type(data_dir: Path) -> None:
    result = CliRunner().invoke(
        app, ["report", "monthly", "--month", "2026-03", "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 0, result.output
    rows = {r["call_type"]: r for r in _rows(result.stdout)}
    assert rows["BURGLARY"]["flights"] == "1" and rows["MVC"]["flight_hours"] == "0.50"
    assert rows["TOTAL"]["flights"] == "2" and rows["TOTAL"]["flight_hours"] == "1.00"
    bad = CliRunner().invoke(app, ["report", "monthly", "--month", "2026-13"])
    assert bad.exit_code == 2
