"""CAD outage during a flight (see the .md beside this file)."""

from __future__ import annotations

from typing import Any

from simulator.scenarios import flying
from simulator.scenarios.steps import FleetScenario

NOTES = (
    "Outage note 1: caller sees two people at the back door",
    "Outage note 2: one suspect leaving northbound on foot",
    "Outage note 3: officers two minutes out",
)
OUTAGE_SIM_S = 120.0
DELIVERY_TIMEOUT_S = 60.0


class CadOutage(FleetScenario):
    """CAD outage during a flight."""

    default_timeout_s = 300.0

    async def run(self) -> None:
        scene, incident = self.call_at(15.0, 2000.0, priority=1)
        ref = incident.incident_id

        self.begin_test_case("Outage")
        self.begin_test_step("Launch")
        with self.check("Drone airborne", [ref]) as check:
            launch = await self.launch_step(check, incident, auto=True)
        assert launch.drone_id is not None
        call_id = launch.call_id
        dispatcher = self.service.client("dispatcher")

        self.begin_test_step("CAD down")
        before = len(await flying.cad_events(self.cad, ref))
        await self.cad.set_outage("503")
        self.record_event("cad_down", "CAD answers 503")
        with self.check("Notes held", [ref]) as check:
            for text in NOTES:
                r = await dispatcher.post(f"/calls/{call_id}/notes", json={"text": text})
                if r.status_code != 201:
                    check.record_failed(f"POST notes answered {r.status_code}", r.text[:500])
            self.record_event("notes_posted", "Dispatcher added three notes")
            await self.sleep(
                flying.wall_s(self.service, OUTAGE_SIM_S, floor_s=3.0) / 3.0,
                f"CAD stays down for {OUTAGE_SIM_S:.0f} s (simulated)",
            )
            detail = await flying.call_detail(self.service, call_id)
            outbound: list[dict[str, Any]] = [] if detail is None else detail.get("outbound", [])
            dead = [o for o in outbound if o.get("state") == "dead"]
            arrived = (await flying.cad_events(self.cad, ref))[before:]
            if dead:
                check.record_failed(
                    f"the service gave up on {len(dead)} event(s) during the outage",
                    str(dead)[:500],
                )
            elif arrived:
                check.record_failed(f"CAD received {len(arrived)} event(s) while answering 503")
            elif sum(1 for o in outbound if o.get("state") in ("pending", "waiting")) < len(NOTES):
                check.record_failed(
                    "the notes are not held for delivery",
                    str([(o.get("kind"), o.get("state")) for o in outbound]),
                )

        self.begin_test_step("CAD back")
        await self.cad.set_outage("none")
        self.record_event("cad_back", "CAD answers again")
        with self.check("Notes delivered after", [ref]) as check:

            async def all_delivered() -> bool:
                d = await flying.call_detail(self.service, call_id)
                rows = [] if d is None else d.get("outbound", [])
                return bool(rows) and all(o.get("state") == "delivered" for o in rows)

            delivered = await self.wait_until(
                all_delivered, DELIVERY_TIMEOUT_S, "everything delivered"
            )
            received = await self.cad.received(ref)
            keys = [str(e.get("idempotency_key")) for e in received]
            texts = [flying.event_text(e) for e in received if flying.event_kind(e) == "note"]
            ours = [t for t in texts if t in NOTES]
            if not delivered:
                d = await flying.call_detail(self.service, call_id)
                check.record_failed(
                    f"not everything was delivered within {DELIVERY_TIMEOUT_S:.0f} s of CAD returning",
                    str([(o.get("kind"), o.get("state")) for o in (d or {}).get("outbound", [])]),
                )
            elif len(keys) != len(set(keys)):
                check.record_failed(f"CAD received an event twice: {keys}")
            elif ours != list(NOTES):
                check.record_failed(f"the notes arrived as {ours}, expected {list(NOTES)} in order")
            else:
                self.record_event(
                    "delivered", "CAD has every note once, in order", latency_from="cad_back"
                )

    async def cleanup(self) -> None:
        with self.check("Fleet landed", self.fleet.vehicle_ids()) as check:
            await self.cad.set_outage("none")
            await self.fleet_landed_step(check, 120.0)
