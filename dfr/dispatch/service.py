"""The dispatcher: applies the policy to each call, stores the decision, launches and recalls.

It gathers the facts (stored call and drones, live vehicle state, a response plan per candidate
drone, the weather), asks the pure policy, and has the call ledger store the decision with the
call. A launch (by the dispatcher, or by the agency's auto-launch policy) hands the plan to the
flight service, which records the launch on the call in the flight's own transaction. Nothing
calls back into the dispatcher: flight transitions go from the flight service to the ledger.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dfr.airspace import AirspaceService
from dfr.approvals import approval_states, hold_for_supervisor
from dfr.call_ledger import AUTHOR, CallLedger
from dfr.db import session_scope
from dfr.dispatch.agency_policy import AgencyPolicy
from dfr.dispatch.facts import (
    Assignment,
    CallFacts,
    DockFacts,
    DroneFacts,
    RouteFacts,
)
from dfr.dispatch.policy import DispatchDecision, evaluate
from dfr.dispatch.routes import route_facts_from_plan, route_facts_from_rejection
from dfr.dispatch.weather import ManualWeatherSource
from dfr.errors import ConflictError, DfrError, LaunchRefusedError, NotFoundError
from dfr.flights import FlightService
from dfr.group_commit import GroupCommit
from dfr.keyed_locks import KeyedLocks
from dfr.metrics import Metrics
from dfr.models import Agency, Call, CallLifecycle, Dock, Drone, Flight, as_utc
from dfr.planning import performance_of, plan_for_drone
from flight import (
    Clock,
    FlightPhase,
    FlightPlan,
    PlanRejectedError,
    VehicleState,
)
from geofence import GeoPoint
from lifecycle import TaskOwner

log = logging.getLogger(__name__)
_ACTIVE_FLIGHT_STATES = [
    str(p) for p in FlightPhase if p not in (FlightPhase.COMPLETED, FlightPhase.ABORTED)
]


#: Calls decided in one transaction at most: a backlog's batch must not keep an urgent call waiting.
_MAX_DECISION_BATCH = 32
#: While CAD's calls are being stored, background decisions take at most this share of the time
#: (a pause after each batch): in a burst CAD gets its answers first, and the backlog is decided
#: most urgent first. The intake counts as busy until it has had nothing to store for a moment.
_DECISION_SHARE_IN_BURST = 0.25
_INTAKE_QUIET_S = 0.2


@dataclass(frozen=True, slots=True)
class _FleetView:
    """What every decision of a batch reads the same: drones by agency, docks, drone facts, zones."""

    drones: dict[str, list[Drone]]
    docks: dict[str, Dock]
    facts: dict[str, DroneFacts]
    zones: dict[str, tzinfo]


@dataclass(frozen=True, slots=True)
class _Evaluated:
    decision: DispatchDecision
    plans: dict[str, FlightPlan]
    lifecycle: CallLifecycle
    target: GeoPoint


class Dispatcher(TaskOwner):
    """Decides and launches for calls; one per service."""

    def __init__(
        self,
        *,
        engine: Engine,
        airspace: AirspaceService,
        weather: ManualWeatherSource,
        policy: AgencyPolicy,
        clock: Clock,
        flights: FlightService,
        ledger: CallLedger,
        metrics: Metrics,
        intake_idle_s: Callable[[], float] = lambda: math.inf,
    ) -> None:
        """`intake_idle_s`: seconds since CAD's calls were last being stored (0 while they are)."""
        super().__init__()
        self._intake_idle_s = intake_idle_s
        self._engine = engine
        self._airspace = airspace
        self.weather = weather
        self.policy = policy
        self._clock = clock
        self._flights = flights
        self._ledger = ledger
        self._decision_seconds = metrics.decision_seconds
        self._decision_batches = metrics.decision_batches
        self._call_locks: KeyedLocks[int] = KeyedLocks()
        # Decisions on threads of their own: a burst of calls must not take every shared worker
        # thread (flight events, lease renewals and call commits wait on those).
        self._threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dispatch")
        # Calls from CAD are decided in batches that share one read of the fleet and one commit;
        # the queue runs one batch at a time, so the second thread stays free for people's
        # decisions and launches. A stopped dispatcher's waiting calls are dropped, not decided.
        self._queue: GroupCommit[int, _Evaluated] = GroupCommit(
            self._decide_and_store,
            executor=self._threads,
            max_batch=_MAX_DECISION_BATCH,
            name="dispatch-decisions",
            shield=False,
            pause=self._yield_to_intake,
        )
        self._launch_lock = asyncio.Lock()

    async def _yield_to_intake(self, last_batch_s: float) -> None:
        if self._intake_idle_s() < _INTAKE_QUIET_S:
            share = _DECISION_SHARE_IN_BURST
            await asyncio.sleep(last_batch_s * (1.0 - share) / share)

    @property
    def calls_in_hand(self) -> int:
        """Calls being decided or launched now (or waiting for their turn to be)."""
        return len(self._call_locks)

    @property
    def decisions_waiting(self) -> int:
        """Calls submitted for a background decision whose batch has not started."""
        return self._queue.waiting

    @property
    def clock(self) -> Clock:
        """The clock decisions are made on."""
        return self._clock

    def submit(self, call_id: int, *, ended: bool = False, priority: int = 0) -> None:
        """Evaluate a stored or updated call in the background (or end its flight when CAD ended it).

        Background decisions are made in batches, the most urgent `priority` (1 highest; 0 for a
        call decided again, which goes first) before the rest of a backlog.
        """
        if not self.running:
            return
        coro = (
            self.end_call(call_id, "the call was ended in CAD")
            if ended
            else self._evaluate_and_launch(call_id, True, queued_rank=priority)
        )
        self._spawn(self._guard(coro, call_id))

    async def _guard(self, coro: Any, call_id: int) -> None:
        try:
            await coro
        except DfrError as exc:
            log.info("call %s: %s", call_id, exc, extra={"call_id": call_id})
        except Exception:
            log.exception("dispatch of call %s failed", call_id, extra={"call_id": call_id})

    # ------------------------------------------------------------------ facts

    def _fleet_view(self, session: Session, agency_ids: set[str]) -> _FleetView:
        """Drones, docks, their facts and the agencies' time zones: read once for a batch."""
        drones = session.exec(
            select(Drone).where(col(Drone.agency_id).in_(agency_ids)).order_by(col(Drone.id))
        ).all()
        docks = {d.id: d for d in session.exec(select(Dock)).all()}
        active: dict[str, Flight] = {}
        for flight in session.exec(
            select(Flight)
            .where(
                col(Flight.drone_id).in_([d.id for d in drones]),
                col(Flight.state).in_(_ACTIVE_FLIGHT_STATES),
            )
            .order_by(col(Flight.id))
        ):
            active.setdefault(flight.drone_id, flight)
        assigned_ids = {f.call_id for f in active.values() if f.call_id is not None}
        assigned = (
            {c.id: c for c in session.exec(select(Call).where(col(Call.id).in_(assigned_ids)))}
            if assigned_ids
            else {}
        )
        zones: dict[str, tzinfo] = {}
        for agency in session.exec(select(Agency).where(col(Agency.id).in_(agency_ids))):
            try:
                zones[agency.id] = ZoneInfo(agency.timezone)
            except (KeyError, ValueError):
                zones[agency.id] = ZoneInfo("UTC")
        by_agency: dict[str, list[Drone]] = {a: [] for a in agency_ids}
        facts: dict[str, DroneFacts] = {}
        for drone in drones:
            by_agency[drone.agency_id].append(drone)
            working = active.get(drone.id)
            other = (
                None
                if working is None or working.call_id is None
                else assigned.get(working.call_id)
            )
            facts[drone.id] = self._drone_facts(drone, docks[drone.dock_id], working, other)
        return _FleetView(drones=by_agency, docks=docks, facts=facts, zones=zones)

    def _drone_facts(
        self, drone: Drone, dock: Dock, active: Flight | None, assigned_call: Call | None
    ) -> DroneFacts:
        live = self._flights.live_state(drone.id)
        assignment: Assignment | None = None
        if assigned_call is not None and assigned_call.id is not None:
            assignment = Assignment(
                str(assigned_call.id), assigned_call.priority, assigned_call.call_type
            )
        problems: list[str] = []
        link_up = live is not None and live.available
        docked = live is not None and not live.armed and not live.in_air and active is None
        if live is not None and live.gps_fix_type is not None and live.gps_fix_type < 3:
            problems.append("no 3D GPS fix")
        if active is not None and active.call_id is None:
            problems.append(f"flying pilot flight {active.id}")
        return DroneFacts(
            drone_id=drone.id,
            name=drone.name,
            dock=DockFacts(
                dock_id=dock.id,
                name=dock.name,
                location=GeoPoint(dock.lat, dock.lon),
                response_radius_m=dock.response_radius_m,
            ),
            cruise_speed_mps=drone.cruise_speed_mps,
            climb_rate_mps=drone.climb_rate_mps,
            battery_capacity_wh=drone.battery_capacity_wh,
            hover_power_w=drone.hover_power_w,
            cruise_power_w=drone.cruise_power_w,
            battery_pct=None if live is None else live.battery_pct,
            link_up=link_up,
            docked=docked,
            in_maintenance=drone.in_maintenance,
            health_problems=tuple(problems),
            assignment=assignment,
            position=None if live is None else live.position,
        )

    def _route(
        self,
        drone: Drone,
        dock: Dock,
        target: GeoPoint,
        plans: dict[str, FlightPlan],
        shared: dict[tuple[object, ...], RouteFacts | FlightPlan],
    ) -> RouteFacts:
        now = self._clock.now()
        try:
            airspace = self._airspace.airspace()
        except DfrError as exc:
            return RouteFacts(legal=False, reasons=(str(exc),))
        airborne = self._airborne_state(drone.id)
        # Drones of one dock with the same airframe fly the same plan: plan it once per decision
        # (a drone flying another call, for preemption, goes from where it is: planned alone).
        key = None if airborne is not None else (dock.id, performance_of(drone))
        known = shared.get(key) if key is not None else None
        if isinstance(known, RouteFacts):
            return known
        if isinstance(known, FlightPlan):
            plan = known
        else:
            try:
                plan = plan_for_drone(airspace, drone, dock, target, now, airborne=airborne)
            except PlanRejectedError as exc:
                refused = route_facts_from_rejection(exc, airspace=airspace, now=now)
                if key is not None:
                    shared[key] = refused
                return refused
            if key is not None:
                shared[key] = plan
        plans[drone.id] = plan
        return route_facts_from_plan(
            plan, on_scene_min=self.policy.on_scene_min, airspace=airspace, now=now
        )

    def _airborne_state(self, drone_id: str) -> VehicleState | None:
        """The live state of a drone that is flying one of our flights, else None."""
        flights = self._flights
        if flights.active_flight_of(drone_id) is None:
            return None
        live = flights.live_state(drone_id)
        in_air = live is not None and live.in_air and live.position is not None
        return live if in_air else None

    def _evaluate(self, call: Call, view: _FleetView, approval: str) -> _Evaluated:
        assert call.id is not None
        target = GeoPoint(call.lat, call.lon)
        drones = view.drones.get(call.agency_id, [])
        docks = view.docks
        facts = [view.facts[d.id] for d in drones]
        by_id = {d.id: d for d in drones}
        plans: dict[str, FlightPlan] = {}
        shared: dict[tuple[object, ...], RouteFacts | FlightPlan] = {}

        def route_for(drone: DroneFacts) -> RouteFacts | None:
            record = by_id[drone.drone_id]
            return self._route(record, docks[record.dock_id], target, plans, shared)

        flags = call.flags or {}
        now = self._clock.now()
        decision = evaluate(
            CallFacts(
                call_id=str(call.id),
                call_type=call.call_type,
                priority=call.priority,
                location=target,
                category=call.category,
                in_progress=bool(flags.get("in_progress")),
                weapons=bool(flags.get("weapons")),
                outdoor=bool(flags.get("outdoor")),
                received_at=as_utc(call.received_at),
                approval=approval,
            ),
            facts,
            routes=route_for,
            weather=self.weather.current(now),
            agency=self.policy,
            now=now,
            tz=view.zones.get(call.agency_id, UTC),
        )
        return _Evaluated(decision, plans, call.lifecycle, target)

    # ------------------------------------------------------------------ decisions

    async def _decide(self, call_id: int) -> _Evaluated:
        """Decide now, beside the backlog: a person is waiting (or a launch re-checks)."""
        loop = asyncio.get_running_loop()
        result = (await loop.run_in_executor(self._threads, self._decide_and_store, [call_id]))[0]
        if isinstance(result, Exception):
            raise result
        return result

    def _decide_and_store(self, call_ids: list[int]) -> list[_Evaluated | Exception]:
        """Decide for `call_ids` and store the decisions in one transaction, each its own answer.

        When the transaction fails, each call is decided again alone, so one bad call never costs
        the others theirs.
        """
        started = time.perf_counter()
        try:
            results = self._decide_in_one_transaction(call_ids)
        except Exception as exc:
            if len(call_ids) == 1:
                return [exc]
            log.warning("deciding %d calls together failed (%s); one by one", len(call_ids), exc)
            return [self._decide_and_store([call_id])[0] for call_id in call_ids]
        # Each call of the batch waited for the whole batch: that is its decision's latency.
        elapsed_s = time.perf_counter() - started
        self._decision_batches.inc()
        for _ in call_ids:
            self._decision_seconds.observe(elapsed_s)
        return results

    def _decide_in_one_transaction(self, call_ids: list[int]) -> list[_Evaluated | Exception]:
        with session_scope(self._engine) as session:
            rows = session.exec(select(Call).where(col(Call.id).in_(call_ids)))
            calls = {c.id: c for c in rows if c.id is not None}
            view = self._fleet_view(session, {c.agency_id for c in calls.values()})
            approvals = approval_states(session, list(calls))
            previous = self._ledger.last_summaries(session, list(calls))
            results: list[_Evaluated | Exception] = []
            for call_id in call_ids:
                call = calls.get(call_id)
                if call is None:
                    results.append(NotFoundError("call", call_id))
                    continue
                try:
                    evaluated = self._evaluate(call, view, approvals.get(call_id, ""))
                except Exception as exc:  # the policy refused this call's facts: its answer alone
                    results.append(exc)
                    continue
                decision = evaluated.decision
                self._ledger.record_decision(
                    session, call, decision, previous_summary=previous.get(call_id)
                )
                # A call posted twice in one batch: its second decision follows the first.
                previous[call_id] = decision.summary
                hold_for_supervisor(session, call, decision)
                results.append(
                    _Evaluated(decision, evaluated.plans, call.lifecycle, evaluated.target)
                )
            return results

    def _auto_launch_drone(self, evaluated: _Evaluated) -> str | None:
        decision = evaluated.decision
        if (
            decision.auto_launch
            and decision.recommended is not None
            and evaluated.lifecycle in (CallLifecycle.NEW, CallLifecycle.RECOMMENDED)
            and self._flights.running
        ):
            return decision.recommended.drone_id
        return None

    def _taken(self, drone_id: str) -> bool:
        return self._flights.active_flight_of(drone_id) is not None

    async def evaluate(self, call_id: int, *, allow_auto_launch: bool = True) -> DispatchDecision:
        """Decide for a call now, store and publish the decision; auto-launch when the policy says so."""
        return await self._evaluate_and_launch(call_id, allow_auto_launch, queued_rank=None)

    async def _evaluate_and_launch(
        self, call_id: int, allow_auto_launch: bool, *, queued_rank: int | None
    ) -> DispatchDecision:
        """With `queued_rank`, the decision waits its turn among new calls (most urgent first)."""
        queued: _Evaluated | None = None
        if queued_rank is not None:
            # Waiting in the backlog without the call's lock, so a person launching this call
            # does not wait for the backlog; a launch made meanwhile leaves the call dispatched,
            # which the checks below (and the launch's compare-and-set) then find.
            queued = await self._queue.submit(call_id, rank=queued_rank)
        async with self._call_locks.hold(call_id):
            evaluated = queued if queued is not None else await self._decide(call_id)
            drone_id = self._auto_launch_drone(evaluated) if allow_auto_launch else None
            if drone_id is None:
                return evaluated.decision
            # Launches are one at a time, so two calls deciding at once cannot take the same drone.
            async with self._launch_lock:
                if self._taken(drone_id):
                    evaluated = await self._decide(call_id)
                    drone_id = self._auto_launch_drone(evaluated)
                    if drone_id is None:
                        return evaluated.decision
                await self._launch_locked(
                    call_id,
                    drone_id,
                    evaluated.target,
                    evaluated.plans.get(drone_id),
                    f"{AUTHOR} auto-launch",
                    evaluated.decision,
                )
            return evaluated.decision

    # ------------------------------------------------------------------ launch

    async def launch(self, call_id: int, drone_id: str | None, author: str) -> int:
        """Launch a drone to the call (the recommended one when `drone_id` is None)."""
        async with self._call_locks.hold(call_id), self._launch_lock:
            evaluated = await self._decide(call_id)
            decision = evaluated.decision
            if evaluated.lifecycle not in (CallLifecycle.NEW, CallLifecycle.RECOMMENDED):
                raise ConflictError(
                    f"call {call_id} is {evaluated.lifecycle.value}; it cannot be launched"
                )
            if drone_id is None:
                if decision.recommended is None:
                    raise LaunchRefusedError(decision.summary)
                drone_id = decision.recommended.drone_id
            evaluation = decision.evaluation_of(drone_id)
            if evaluation is None:
                raise NotFoundError("drone", drone_id)
            if not evaluation.eligible:
                # The rules that decided it: the call's own, then the drone's that were checked
                # (the unchecked ones only say "not checked").
                failed = [v for v in decision.call_rules if not v.passed]
                failed += [v for v in evaluation.failed if v.checked]
                reasons = " ".join(v.reason for v in failed)
                raise LaunchRefusedError(f"{drone_id} may not fly this call: {reasons}")
            return await self._launch_locked(
                call_id, drone_id, evaluated.target, evaluated.plans.get(drone_id), author, decision
            )

    async def _launch_locked(
        self,
        call_id: int,
        drone_id: str,
        target: GeoPoint,
        plan: FlightPlan | None,
        author: str,
        decision: DispatchDecision,
    ) -> int:
        flights = self._flights
        if not flights.running:
            raise LaunchRefusedError("the flight link is not running")
        evaluation = decision.evaluation_of(drone_id)
        if evaluation is not None and evaluation.preempts_call_id is not None:
            return await self._reassign_locked(
                call_id, drone_id, target, author, int(evaluation.preempts_call_id)
            )
        return await flights.launch(drone_id, target, call_id=call_id, created_by=author, plan=plan)

    async def _reassign_locked(
        self, call_id: int, drone_id: str, target: GeoPoint, author: str, from_call_id: int
    ) -> int:
        """Preemption: the drone leaves its lower-priority call in the air and flies this one."""

        def priority() -> int:
            with Session(self._engine) as session:
                call = session.get(Call, call_id)
                if call is None:
                    raise NotFoundError("call", call_id)
                return call.priority

        new_priority = await asyncio.to_thread(priority)
        flight_id = await self._flights.retask(
            drone_id,
            target,
            call_id=call_id,
            reason=f"reassigned to higher-priority call {call_id} (priority {new_priority})",
            from_call_id=from_call_id,
            created_by=author,
        )
        # The call the drone left may get another one: decide for it again.
        self.submit(from_call_id)
        return flight_id

    # ------------------------------------------------------------------ end of a call

    async def end_call(self, call_id: int, reason: str) -> None:
        """The call is over (cancelled or closed): its flight returns to the dock."""
        flights = self._flights

        def active_flights() -> list[int]:
            with Session(self._engine) as session:
                rows = session.exec(
                    select(Flight.id).where(
                        Flight.call_id == call_id, col(Flight.state).in_(_ACTIVE_FLIGHT_STATES)
                    )
                ).all()
                return [r for r in rows if r is not None]

        if not flights.running:
            return
        for flight_id in await asyncio.to_thread(active_flights):
            await flights.recall(flight_id, reason)
