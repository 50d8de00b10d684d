"""Privacy in transit, and a pilot lifting it for a search (see the .md beside this file)."""

from __future__ import annotations

from typing import Any

from simulator.scenarios import flying
from simulator.scenarios.framework import PendingCheck
from simulator.scenarios.steps import FleetScenario

LIFT_REASON = "search: suspect fled on foot"
HORIZON_TOLERANCE_DEG = 1.0
#: Looking down at the scene: well below the horizon (the orbit's geometry sets the exact angle).
SCENE_PITCH_BELOW_DEG = -30.0
#: Where the service points the camera once privacy is lifted (its default search pitch).
SEARCH_PITCH_DEG = -45.0
#: The recorder closes a segment every 10 s of video (wall time: the camera streams in real time).
SEGMENT_TIMEOUT_S = 30.0
EN_ROUTE_TIMEOUT_S = 20.0
ON_SCENE_TIMEOUT_S = 90.0


class PrivacyInTransit(FleetScenario):
    """Privacy in transit, and a pilot lifting it for a search."""

    default_timeout_s = 300.0

    async def run(self) -> None:
        await self._private_flight()
        await self._lifted_flight()

    async def _private_flight(self) -> None:
        _, incident = self.call_at(
            10.0, 1200.0, call_type="SUSP", call_type_text="Suspicious person", priority=2
        )
        ref = incident.incident_id
        self.begin_test_case("Private flight")
        self.begin_test_step("Launch")
        with self.check("Drone airborne", [ref]) as check:
            launch = await self.launch_step(check, incident, drone_id="D1")
        flown, flight_id = launch.in_the_air()

        self.begin_test_step("En route")
        with self.check("Camera at the horizon, nothing recorded", [flown]) as check:
            await self._horizon_until_on_scene(check, flown, flight_id)

        self.begin_test_step("On scene")
        with self.check("Camera on the scene", [flown]) as check:
            if not await self._pitch(flown, lambda p: p <= SCENE_PITCH_BELOW_DEG, 10.0):
                check.record_failed(
                    "the camera did not turn down to the scene within 10 s of arriving",
                    f"gimbal pitch {self._pitch_now(flown)}",
                )
        with self.check("Recorded on scene", [flown]) as check:
            recording = await self._segments(flight_id, SEGMENT_TIMEOUT_S)
            if recording is None:
                check.record_failed(
                    f"no recording segment within {SEGMENT_TIMEOUT_S:.0f} s on scene",
                    str(await self._recording(flight_id)),
                )
            else:
                check.record_passed(f"{recording['segments']} segment(s) on scene")

        # The cleanup lands both drones together; the call simply ends here.
        await self.cancel_call(launch.call_id, "Nothing found")

    async def _lifted_flight(self) -> None:
        _, incident = self.call_at(
            200.0, 1500.0, call_type="SUSP", call_type_text="Suspicious person", priority=2
        )
        ref = incident.incident_id
        self.begin_test_case("Privacy lifted")
        self.begin_test_step("Launch")
        with self.check("Drone airborne", [ref]) as check:
            launch = await self.launch_step(check, incident, drone_id="D2")
        flown, flight_id = launch.in_the_air()
        await self.wait_en_route(flight_id, EN_ROUTE_TIMEOUT_S)

        self.begin_test_step("Pilot lifts privacy")
        with self.check("Lift shown on the flight", [flown]) as check:
            lifted = await self.service.client("pilot").post(
                f"/flights/{flight_id}/privacy", json={"reason": LIFT_REASON}
            )
            self.record_event("privacy_lifted", "Pilot lifted privacy in transit", LIFT_REASON)
            detail = await flying.flight_detail(self.service, flight_id) or {}
            if lifted.status_code != 200:
                check.record_failed(
                    f"POST /flights/{flight_id}/privacy answered {lifted.status_code}",
                    lifted.text[:500],
                )
            elif detail.get("privacy_lift_reason") != LIFT_REASON:
                check.record_failed("the flight does not show the lift's reason", str(detail))
        with self.check("Lift audited", [flown]) as check:
            await self._audited(check, flight_id)
        with self.check("Lift noted to CAD", [ref, flown]) as check:
            await self.cad_note_step(
                check, ref, "privacy in transit lifted", 20.0, "CAD got no note of the lift"
            )
        with self.check("Camera searching and recording", [flown]) as check:
            if not await self._pitch(
                flown, lambda p: abs(p - SEARCH_PITCH_DEG) <= HORIZON_TOLERANCE_DEG, 10.0
            ):
                check.record_failed(
                    "the camera did not turn to the search pitch within 10 s of the lift",
                    f"gimbal pitch {self._pitch_now(flown)}",
                )
            elif await self._recording_started(flight_id, 10.0) is None:
                check.record_failed(
                    "no recording within 10 s of the lift", str(await self._recording(flight_id))
                )

    async def _horizon_until_on_scene(
        self, check: PendingCheck, flown: str, flight_id: int
    ) -> None:
        # The first command after take-off takes a moment: the level camera is awaited first.
        if not await self._pitch(flown, lambda p: abs(p) <= HORIZON_TOLERANCE_DEG, 10.0):
            check.record_failed(
                "the camera was not turned to the horizon within 10 s en route",
                f"gimbal pitch {self._pitch_now(flown)}",
            )
            return
        samples = 0
        problems: list[str] = []

        async def arrived() -> bool:
            nonlocal samples
            # The camera and the recorder are read before the flight's state: a flight still en
            # route after them was en route when they were read (its states only move forward).
            # Read the other way round, the recording the arrival starts could count as en route.
            pitch = self._pitch_now(flown)
            recording = await self._recording(flight_id)
            detail = await flying.flight_detail(self.service, flight_id) or {}
            if detail.get("state") != "en_route":
                return True
            samples += 1
            if pitch is None or abs(pitch) > HORIZON_TOLERANCE_DEG:
                problems.append(f"sample {samples}: pitch {pitch}")
            if recording:
                problems.append(f"sample {samples}: a recording exists en route: {recording}")
            return False

        if not await self.wait_until(arrived, ON_SCENE_TIMEOUT_S, "the flight on scene"):
            check.record_failed(f"the flight was not on scene within {ON_SCENE_TIMEOUT_S:.0f} s")
        elif problems:
            check.record_failed(
                f"{len(problems)} of {samples} samples en route broke privacy",
                "\n".join(problems[:20]),
            )
        else:
            check.record_passed(f"{samples} samples en route: horizon, no recording")

    def _pitch_now(self, vehicle_id: str) -> float | None:
        seen = self.fleet.observed(vehicle_id)
        return None if seen is None else seen.gimbal_pitch_deg

    async def _pitch(self, vehicle_id: str, wanted: Any, timeout_s: float) -> bool:
        async def there() -> bool:
            pitch = self._pitch_now(vehicle_id)
            return pitch is not None and bool(wanted(pitch))

        return await self.wait_until(there, timeout_s, f"{vehicle_id}'s camera pitch")

    async def _recording(self, flight_id: int) -> dict[str, Any]:
        listing = await flying.get_json(
            self.service.client("analyst"), f"/flights/{flight_id}/recordings"
        )
        if not listing or not listing.get("count"):
            return {}
        return dict(listing["data"][0])

    async def _segments(self, flight_id: int, timeout_s: float) -> dict[str, Any] | None:
        found: dict[str, Any] = {}

        async def written() -> bool:
            nonlocal found
            found = await self._recording(flight_id)
            return int(found.get("segments") or 0) >= 1

        ok = await self.wait_until(written, timeout_s, "a recording segment on scene", poll_s=1.0)
        return found if ok else None

    async def _recording_started(self, flight_id: int, timeout_s: float) -> dict[str, Any] | None:
        found: dict[str, Any] = {}

        async def started() -> bool:
            nonlocal found
            found = await self._recording(flight_id)
            return bool(found)

        ok = await self.wait_until(started, timeout_s, "the recording after the lift")
        return found if ok else None

    async def _audited(self, check: PendingCheck, flight_id: int) -> None:
        path = f"/api/v1/flights/{flight_id}/privacy"
        rows: list[dict[str, Any]] = []

        async def found() -> bool:
            nonlocal rows
            page = await flying.get_json(self.service.client("admin"), f"/audit?path_prefix={path}")
            rows = [r for r in (page or {}).get("data", []) if r.get("path") == path]
            return bool(rows)

        if not await self.wait_until(found, 10.0, "the lift in the audit log"):
            check.record_failed(f"no audit row for POST {path}")
        elif LIFT_REASON not in str(rows[0].get("detail")) or rows[0].get("actor") != (
            "scenario-pilot"
        ):
            check.record_failed("the audit row does not name the pilot and the reason", str(rows))

    async def cleanup(self) -> None:
        with self.check("Fleet landed", self.fleet.vehicle_ids()) as check:
            await self.fleet_landed_step(check, 90.0)
