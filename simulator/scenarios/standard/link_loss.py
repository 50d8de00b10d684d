"""Link loss in flight (see the .md beside this file)."""

from __future__ import annotations

from simulator.scenarios import flying
from simulator.scenarios.steps import FleetScenario
from simulator.scenarios.stream_watcher import StreamWatcher

CUT_SIM_S = 60.0
#: COM_DL_LOSS_T the service sets (DFR_FLIGHT__DLL_TIMEOUT_S default) plus PX4's reaction margin.
RTL_AFTER_SIM_S = 10.0 + 20.0
RETURN_TIMEOUT_S = 90.0


class LinkLoss(FleetScenario):
    """Link loss in flight."""

    default_timeout_s = 300.0
    injects_vehicle_faults = True

    async def run(self) -> None:
        scene, incident = self.call_at(30.0, 2500.0, priority=1)
        ref = incident.incident_id
        stream = StreamWatcher(self.service)
        await stream.start()
        try:
            await self._play(incident, ref, stream)
        finally:
            await stream.stop()

    async def _play(self, incident: flying.SimIncident, ref: str, stream: StreamWatcher) -> None:
        self.begin_test_case("Link loss")
        self.begin_test_step("Launch")
        with self.check("Drone airborne", [ref]) as check:
            launch = await self.launch_step(check, incident, auto=True)
        flown, flight_id = launch.in_the_air()
        await self.wait_en_route(flight_id)

        self.begin_test_step("Cut link")
        await self.fleet.inject(flown, "link_cut", duration_s=CUT_SIM_S, direction="both")
        self.record_event("link_cut", f"Link to {flown} cut", f"{CUT_SIM_S:.0f} s simulated")
        cut_at = self.fleet.observed(flown)
        modes_before = 0 if cut_at is None else len(cut_at.modes_seen)
        with self.check("Vehicle returns", [flown]) as check:

            async def rtl() -> bool:
                seen = self.fleet.observed(flown)
                return seen is not None and any(
                    "RTL" in mode.upper() for _, mode in seen.modes_seen[modes_before:]
                )

            budget = flying.wall_s(self.service, RTL_AFTER_SIM_S, floor_s=10.0)
            if not await self.wait_until(rtl, budget, f"{flown} switching to RTL on its own"):
                seen = self.fleet.observed(flown)
                check.record_failed(
                    f"{flown} did not switch to RTL within {budget:.0f} s of the link cut",
                    f"modes since the cut: {[] if seen is None else seen.modes_seen[modes_before:]}",
                )
            else:
                self.record_event(
                    "rtl", f"{flown} returning (vehicle failsafe)", latency_from="link_cut"
                )
        with self.check("Alert shown", [flown]) as check:

            async def alerted() -> bool:
                return any(
                    a.get("kind") == "link_lost" and a.get("drone_id") == flown
                    for a in stream.alerts()
                )

            if not await self.wait_until(alerted, 30.0, "a link-loss alert on the stream"):
                check.record_failed(
                    "the live stream showed no link_lost alert for the drone",
                    f"alerts seen: {stream.alerts()[:10]}",
                )
            else:
                self.record_event("alert", "Link-loss alert on the stream", latency_from="link_cut")
        with self.check("Link loss noted to CAD", [ref, flown]) as check:
            await self.cad_note_step(
                check, ref, "link lost", 30.0, "CAD received no note saying the link was lost"
            )

        self.begin_test_step("Recover")
        with self.check("Flight shows the loss and the return", [flown]) as check:
            home = await flying.wait_landed_at_dock(self, self.fleet, flown, RETURN_TIMEOUT_S)
            detail = await flying.wait_flight_state(
                self,
                self.service,
                flight_id,
                flying.FINISHED_FLIGHT_STATES,
                30.0,
                "the flight finished in the service",
            )
            states = [] if detail is None else flying.flight_states(detail)
            if not home:
                check.record_failed(
                    f"{flown} did not land at its dock", flying.where_is(self.fleet, flown)
                )
            elif "link_lost" not in states or not {"returning", "landed"} & set(
                states[states.index("link_lost") :]
            ):
                check.record_failed(
                    "the flight does not show link_lost then returning or landed",
                    f"states: {states}",
                )
            else:
                self.record_event("landed", f"{flown} landed at its dock", latency_from="link_cut")

    async def cleanup(self) -> None:
        with self.check("Fleet landed", self.fleet.vehicle_ids()) as check:
            await self.fleet_landed_step(check, 120.0)
