"""Link-loss alerts people can trust, at x5: a stalled service is not a lost link; a real cut is, until it ends.

The service runs in this test's event loop (so a blocking sleep stalls it as a CPU spike would)
and the simulated drone in a thread of its own, so it keeps flying and talking meanwhile. The
service keeps its default link-loss time (3.5 vehicle seconds, 0.7 s of wall time at x5).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dfr.main import create_app
from dfr.service import Run
from dfr.settings import FlightSettings, Settings, WeatherSettings
from flight import LinkState, VehicleEvent, VehicleEventKind, VehicleId
from simulator.vehicle import FleetConfig, SimDrone, SimFleet, load_fleet_file
from telemetry import AlertBoard
from tests.dfr.video_stack import demo_fleet_file, drone_ports

pytestmark = [pytest.mark.integration, pytest.mark.sim, pytest.mark.timeout(120)]

SPEEDUP = 5.0


@contextlib.contextmanager
def fleet_in_a_thread(config: FleetConfig) -> Iterator[Callable[[Callable[[SimDrone], Any]], None]]:
    """Run the simulated fleet on its own loop; yields a function that runs a call on drone 0 there."""
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def main() -> None:
        holder["loop"] = asyncio.get_running_loop()
        holder["stop"] = stop = asyncio.Event()
        async with SimFleet(config) as fleet:
            holder["fleet"] = fleet
            started.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="sim-fleet", daemon=True)
    thread.start()
    assert started.wait(30), "the simulated fleet did not start"
    loop: asyncio.AbstractEventLoop = holder["loop"]

    def on_drone(call: Callable[[SimDrone], Any]) -> None:
        loop.call_soon_threadsafe(call, holder["fleet"].drone(0))

    try:
        yield on_drone
    finally:
        loop.call_soon_threadsafe(holder["stop"].set)
        thread.join(30)


@contextlib.asynccontextmanager
async def service(
    tmp_path: Path,
) -> AsyncIterator[tuple[Any, Callable[[Callable[[SimDrone], Any]], None]]]:
    mavlink_port, video_port = drone_ports(set())
    fleet_file = demo_fleet_file(tmp_path, [(mavlink_port, video_port)])
    sim_config = load_fleet_file(
        fleet_file, speedup=SPEEDUP, gcs_base_port=None, video_base_port=video_port
    )
    settings = Settings(
        mode="test",
        data_dir=tmp_path / "data",
        fleet_file=fleet_file,
        speedup=SPEEDUP,
        weather=WeatherSettings(static_wind_mps=3.0),
        # The vehicle's own failsafe stays out of the test: it is the service's judgement under test.
        flight=FlightSettings(dll_timeout_s=120.0),
    )
    app = create_app(settings, run=Run.LINKS | Run.DISPATCH)
    with fleet_in_a_thread(sim_config) as on_drone:
        async with app.router.lifespan_context(app):
            yield app.state.service, on_drone


def link_alerts(svc: Any) -> list[dict[str, Any]]:
    return [a for a in AlertBoard(svc.hub).alerts() if a["kind"] == "link_lost"]


async def test_a_stall_of_the_service_raises_no_alert_and_a_real_cut_raises_one_that_clears(
    tmp_path: Path,
) -> None:
    async with service(tmp_path) as (svc, on_drone):
        link = svc.fleet.vehicle(VehicleId("D1"))
        states: list[str] = []

        def on_event(event: VehicleEvent) -> None:
            if event.kind == VehicleEventKind.LINK:
                states.append(str(event.extra.get("state")))

        link.add_listener(lambda _: None, on_event)
        async with asyncio.timeout(30):
            while link.link_state != LinkState.CONNECTED:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)

        time.sleep(1.0)  # noqa: ASYNC251 - a 1 s CPU stall of the service: 5 s of vehicle time
        await asyncio.sleep(1.0)
        assert "lost" not in states, states
        assert link_alerts(svc) == []

        # A real cut: 5 s of wall time, both directions.
        on_drone(lambda d: d.fault_link_cut(5.0 * SPEEDUP, inbound=True, outbound=True))
        async with asyncio.timeout(10):
            while not link_alerts(svc):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        (raised,) = link_alerts(svc)
        assert raised["state"] == "active" and raised["drone_id"] == "D1", raised
        assert "no heartbeat" in raised["text"], raised
        async with asyncio.timeout(20):
            while link_alerts(svc)[0]["state"] != "resolved":  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        (cleared,) = link_alerts(svc)
        assert cleared["id"] == raised["id"] and cleared["resolution"].startswith("link back")
        assert link.link_state == LinkState.CONNECTED
        assert states.count("lost") == 1, states
