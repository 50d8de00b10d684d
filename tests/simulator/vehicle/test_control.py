"""Fault-injection API over HTTP on loopback, fleet file loading and the true-state view."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from simulator.vehicle import SimConfigError, SimFleet, build_fleet_config, load_fleet_file
from simulator.vehicle.control import ControlServer
from tests.conftest import free_udp_ports

from .conftest import HOME

pytestmark = [pytest.mark.sim, pytest.mark.timeout(60)]


async def test_control_api_reports_state_and_applies_faults_and_refuses_bad_input() -> None:
    api, client, _ = free_udp_ports(3)
    cfg = build_fleet_config(
        2, [HOME], speedup=10, api_base_port=api, client_base_port=client + 1000, gcs_base_port=None
    )
    async with SimFleet(cfg) as fleet:
        server = ControlServer(fleet, 0)
        await server.start()
        try:
            base = f"http://127.0.0.1:{server.port}"
            async with httpx.AsyncClient(timeout=5.0) as http:
                drones = (await http.get(f"{base}/drones")).json()
                assert [d["system_id"] for d in drones] == [1, 2]
                one = (await http.get(f"{base}/drones/1")).json()
                assert (
                    one["mode"] == "LOITER"
                    and one["armed"] is False
                    and one["battery_fraction"] == 1.0
                )
                r = await http.post(f"{base}/drones/1/faults/battery_drop", json={"fraction": 0.3})
                assert r.status_code == 200
                assert abs(fleet.drone(1).snapshot().battery_fraction - 0.3) < 0.01
                r = await http.post(
                    f"{base}/drones/0/faults/wind", json={"speed_mps": 9, "from_deg": 180}
                )
                assert r.status_code == 200 and fleet.drone(0).wind.speed_mps == 9
                r = await http.post(
                    f"{base}/drones/0/faults/link_cut",
                    json={"duration_s": 5, "direction": "from_vehicle"},
                )
                assert r.status_code == 200 and fleet.drone(0).links[0].cut is not None
                r = await http.post(f"{base}/drones/0/faults/gps_loss", json={"duration_s": 5})
                assert r.status_code == 200 and not fleet.drone(0).gps_ok()
                # bad input changes nothing
                for path, body in [
                    ("/drones/0/faults/battery_drop", {"fraction": 2}),
                    ("/drones/0/faults/wind", {"speed_mps": "x"}),
                    ("/drones/0/faults/link_cut", {"duration_s": 5, "direction": "sideways"}),
                    ("/drones/0/faults/explode", {}),
                ]:
                    assert (await http.post(base + path, json=body)).status_code == 400
                assert (
                    await http.post(f"{base}/drones/0/faults/wind", content=b"{nope")
                ).status_code == 400
                assert (await http.get(f"{base}/drones/9")).status_code == 404
                assert fleet.drone(0).wind.speed_mps == 9
        finally:
            await server.stop()


def test_fleet_file_maps_client_port_and_dock(tmp_path: Path) -> None:
    f = tmp_path / "fleet.toml"
    f.write_text(
        '[[docks]]\nid = "a"\nlat = 38.8339\nlon = -104.747\nalt_amsl_m = 1840.0\n'
        '[[drones]]\nid = "D1"\ndock = "a"\nmavlink_url = "udpin://127.0.0.1:24540"\n'
        '[[drones]]\nid = "D2"\ndock = "a"\nmavlink_url = "udpin://127.0.0.1:24541"\n'
    )
    cfg = load_fleet_file(f, gcs_base_port=None)
    assert [(d.client_port, d.api_port, d.system_id) for d in cfg.drones] == [
        (24540, 24580, 1),
        (24541, 24581, 2),
    ]
    assert cfg.drones[0].home_alt_amsl_m == 1840.0
    f.write_text(
        '[[drones]]\nid = "D1"\ndock = "nowhere"\nmavlink_url = "udpin://127.0.0.1:24540"\n'
    )
    with pytest.raises(SimConfigError):
        load_fleet_file(f)


def test_bad_fleet_parameters_are_refused() -> None:
    with pytest.raises(SimConfigError):
        build_fleet_config(0, [HOME])
    with pytest.raises(SimConfigError):
        build_fleet_config(1, [(95.0, 0.0, 0.0)])
    with pytest.raises(SimConfigError):
        SimFleet(build_fleet_config(1, [HOME], speedup=80.0))
