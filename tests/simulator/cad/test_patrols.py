"""The simulated CAD's patrol units: they drive their beats, and every report is one DFR accepts."""

from __future__ import annotations

from datetime import UTC, datetime

from dfr.cad_units import CadUnitReport
from simulator.cad.incidents import DOCKS, haversine_m
from simulator.cad.patrols import Patrols


def test_patrol_units_move_along_their_beats_near_the_docks() -> None:
    patrols = Patrols(6, seed=3)
    now = datetime.now(UTC)
    first = patrols.reports(5.0, now)
    second = patrols.reports(5.0, now)
    assert [r["unit_id"] for r in first] == [r["unit_id"] for r in second]
    assert len({r["unit_id"] for r in first}) == 6
    for before, after in zip(first, second, strict=True):
        moved_m = haversine_m(before["lat"], before["lon"], after["lat"], after["lon"])
        assert 20 < moved_m < 100  # 8-15 m/s for 5 s
        assert min(haversine_m(after["lat"], after["lon"], d[1], d[2]) for d in DOCKS) < 2_100
        CadUnitReport.model_validate(after)
