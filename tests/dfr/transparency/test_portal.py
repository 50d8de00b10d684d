"""The portal's rules: coarse paths, automatic publication after N days, figures and safe charts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from dfr.db import session_scope
from dfr.fleet import DEMO_FLEET_FILE, apply_fleet_file, read_fleet_file
from dfr.models import Flight
from dfr.transparency import TransparencyPolicy, coarse_path, portal_flights, portal_stats
from dfr.transparency.charts import bar_chart
from geofence import GeoPoint, distance_m
from tests.dfr.conftest import migrated_engine

DOCK = GeoPoint(38.8339, -104.7470)
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_a_path_is_snapped_to_the_grid_without_the_stretch_near_a_dock() -> None:
    track = [(DOCK.lat_deg + i * 0.0001, DOCK.lon_deg) for i in range(100)]  # ~1.1 km north
    cells = coarse_path(track, [DOCK], TransparencyPolicy())
    assert cells and len(cells) < 15  # ~100 m cells, each once
    assert len(set(cells)) == len(cells)
    for lon, lat in cells:
        assert distance_m(GeoPoint(lat, lon), DOCK) >= 300
        assert (lat, lon) not in track


def test_a_flight_publishes_itself_only_after_the_agencys_delay(tmp_path: Path) -> None:
    engine = migrated_engine(tmp_path / "dfr.sqlite")
    with session_scope(engine) as session:
        apply_fleet_file(session, read_fleet_file(DEMO_FLEET_FILE))
        for days in (31, 10):
            session.add(
                Flight(
                    drone_id="D1",
                    state="completed",
                    started_at=NOW - timedelta(days=days, minutes=20),
                    ended_at=NOW - timedelta(days=days),
                )
            )
    with session_scope(engine) as session:

        def published(policy: TransparencyPolicy) -> list[str]:
            flights = portal_flights(
                session, agency_id="cspd", policy=policy, now=NOW, recorded=lambda _: False
            )
            return [f.date for f in flights]

        assert published(TransparencyPolicy()) == []
        assert published(TransparencyPolicy(auto_publish_after_days=30)) == ["2026-10-31"]
        flights = portal_flights(
            session,
            agency_id="cspd",
            policy=TransparencyPolicy(auto_publish_after_days=5),
            now=NOW,
            recorded=lambda _: False,
        )
        assert len(flights) == 2 and flights[0].duration_s == 20 * 60
        assert flights[0].purpose.startswith("Pilot flight")
        stats = portal_stats(flights)
        assert stats.flights == 2 and stats.median_response_s is None
        assert stats.drone_first_known == 0 and stats.response_bins == ()
    engine.dispose()


def test_a_chart_shows_outside_text_as_text() -> None:
    svg = bar_chart("<script>alert(1)</script>", [("<b>", 3.0), ("w2", 1.0)])
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "<b>" not in svg
    assert svg.count("<rect") == 2 and "style=" not in svg
