"""The TOML fleet file creates or updates the agency, docks and drones by id, never duplicating."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dfr.db import session_scope
from dfr.errors import FleetFileError
from dfr.fleet import DEMO_FLEET_FILE, apply_fleet_file, read_fleet_file
from dfr.models import Dock, Drone

pytestmark = pytest.mark.databases


def test_demo_fleet_has_three_docks_and_four_drones_in_colorado_springs() -> None:
    fleet = read_fleet_file(DEMO_FLEET_FILE)
    assert fleet.agency.timezone == "America/Denver"
    assert len(fleet.docks) == 3 and len(fleet.drones) == 4
    for dock in fleet.docks:
        assert 38.7 < dock.lat < 39.0 and -104.9 < dock.lon < -104.6


def test_applying_twice_updates_by_id_and_never_duplicates(engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as session:
        apply_fleet_file(session, read_fleet_file(DEMO_FLEET_FILE))
    changed = tmp_path / "fleet.toml"
    changed.write_text(
        DEMO_FLEET_FILE.read_text().replace("cruise_speed_mps = 15.0", "cruise_speed_mps = 12.0", 1)
    )
    with session_scope(engine) as session:
        apply_fleet_file(session, read_fleet_file(changed))
    with Session(engine) as session:
        drones = session.exec(select(Drone)).all()
        assert len(drones) == 4 and len(session.exec(select(Dock)).all()) == 3
        assert {d.id: d.cruise_speed_mps for d in drones}["D1"] == 12.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[agency]\nid='a'\nname='A'\n[[drones]]\nid='X'\ndock='nope'\nmavlink_url='udpin://127.0.0.1:1'\n",
            "unknown dock",
        ),
        ("[agency]\nid='a'\nname='A'\n[[docks]]\nid='d'\nname='D'\nlat=95\nlon=0\n", "latitude"),
        (
            "[agency]\nid='a'\nname='A'\n[[docks]]\nid='d'\nname='D'\nlat=1\nlon=0\n[[docks]]\nid='d'\nname='E'\nlat=1\nlon=0\n",
            "duplicate",
        ),
        ("[agency\n", "not valid TOML"),
    ],
)
def test_bad_fleet_file_is_refused_with_the_reason(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(text)
    with pytest.raises(FleetFileError, match=message):
        read_fleet_file(path)


def test_unnamed_drones_are_named_by_id_and_survive_reapplying(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(
        "[agency]\nid='a'\nname='A'\n[[docks]]\nid='d'\nname='D'\nlat=38.8\nlon=-104.7\n"
        "[[drones]]\nid='X1'\ndock='d'\nmavlink_url='udpin://127.0.0.1:24601'\n"
        "[[drones]]\nid='X2'\ndock='d'\nmavlink_url='udpin://127.0.0.1:24602'\n"
    )
    for _ in range(2):  # a service restart applies the same file again
        with session_scope(engine) as session:
            apply_fleet_file(session, read_fleet_file(path))
    with Session(engine) as session:
        assert sorted(d.name for d in session.exec(select(Drone)).all()) == ["X1", "X2"]
