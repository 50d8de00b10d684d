"""The `Scenario` base class: test cases, steps, documented checks, recorded delays, the timeline.

A scenario is a `.py` holding one subclass plus a `.md` narrative beside it. Resources arrive as
constructor arguments named as in the narrative's `## Resources`; subclasses call
`super().__init__()` first.
"""

from __future__ import annotations

import abc
import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Protocol

from simulator.scenarios.docs import CheckDoc, ScenarioDoc, Severity, StepDoc, load_scenario_doc
from simulator.scenarios.errors import (
    ScenarioCannotContinueError,
    ScenarioError,
    TestRunCannotContinueError,
    UndeclaredCheckError,
)
from simulator.scenarios.record import (
    CaseRecord,
    CheckOutcome,
    CheckRecord,
    MapPoint,
    ScenarioRecord,
    SleepRecord,
    StepRecord,
    TimelineEvent,
    Track,
    TrackPoint,
    ZoneShape,
)

log = logging.getLogger(__name__)


class ScenarioClock(Protocol):
    """Where a scenario takes its time from (wall clock by default; injectable for tests)."""

    def monotonic(self) -> float:
        """Seconds on a monotonic scale."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds`."""
        ...


class WallClock:
    """The real clock."""

    def monotonic(self) -> float:
        """`time.monotonic()`."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """`asyncio.sleep()`."""
        await asyncio.sleep(seconds)


class PendingCheck:
    """A check being performed: record a failure (or nothing, which is a pass)."""

    def __init__(self, record: CheckRecord) -> None:
        self._record = record
        self._failed = False

    @property
    def name(self) -> str:
        """The documented check name."""
        return self._record.name

    @property
    def failed(self) -> bool:
        """True once a failure was recorded."""
        return self._failed

    def record_failed(self, summary: str, details: str = "") -> None:
        """Record that the check failed, with a one-line reason a tester understands."""
        if not self._failed:
            self._record.summary = summary
            self._record.details = details
        else:
            self._record.details = f"{self._record.details}\n{summary}: {details}".strip()
        self._failed = True

    def record_passed(self, summary: str = "") -> None:
        """Record an explicit pass (optional: a check that records nothing passed)."""
        if not self._failed and summary:
            self._record.summary = summary


class Scenario(abc.ABC):
    """Base class of every scenario; see convention 10."""

    #: Relative wall-clock budget hint for the runner, overridden per config entry.
    default_timeout_s: ClassVar[float] = 300.0
    #: Constructor parameter -> resource name where a config entry does not wire the parameter
    #: (otherwise the resource named like the parameter), so a scenario that needs a special
    #: resource (e.g. a fleet whose policy allows preemption) also runs by name alone.
    default_resources: ClassVar[Mapping[str, str]] = {}
    #: True when the scenario injects faults through the simulator's control API (link cut, GPS
    #: loss, battery drop, wind); external vehicles (`--vehicle`) have none, so it is skipped there.
    injects_vehicle_faults: ClassVar[bool] = False

    def __init__(self) -> None:
        self._doc = self.documentation()
        self._clock: ScenarioClock = WallClock()
        self._t0 = self._clock.monotonic()
        self._record = self._new_record()
        self._case: tuple[CaseRecord, str] | None = None
        self._step: tuple[StepRecord, StepDoc] | None = None
        self._in_cleanup = False

    # -- identity -------------------------------------------------------------------------------

    @classmethod
    def doc_path(cls) -> Path:
        """The narrative beside the scenario's module."""
        return Path(inspect.getfile(cls)).with_suffix(".md")

    @classmethod
    def documentation(cls) -> ScenarioDoc:
        """The parsed narrative."""
        return load_scenario_doc(cls.doc_path())

    @classmethod
    def type_name(cls) -> str:
        """`module.Class`, as written in configs."""
        return f"{cls.__module__}.{cls.__qualname__}"

    @property
    def record(self) -> ScenarioRecord:
        """What this scenario has recorded so far."""
        return self._record

    def _new_record(self) -> ScenarioRecord:
        return blank_record(self.type_name(), self._doc, with_checks=True)

    def use_clock(self, clock: ScenarioClock) -> None:
        """Replace the clock (the runner or a test does this before `run`)."""
        self._clock = clock
        self._t0 = clock.monotonic()

    def now_s(self) -> float:
        """Seconds since the scenario started."""
        return round(self._clock.monotonic() - self._t0, 3)

    # -- structure ------------------------------------------------------------------------------

    @abc.abstractmethod
    async def run(self) -> None:
        """Play the scenario: test cases, steps and checks in the documented order."""

    async def cleanup(self) -> None:  # noqa: B027 - an optional hook; overriding it needs ## Cleanup
        """Put things back (land drones, close calls); override together with `## Cleanup`."""

    def begin_test_case(self, name: str) -> None:
        """Start a documented test case (ending the previous one)."""
        self.end_test_case()
        case_doc = self._doc.case(name)
        if case_doc is None:
            declared = [c.name for c in self._doc.cases]
            raise ScenarioError(
                f"{self.type_name()}: test case {name!r} is not declared in {self._doc.path}; "
                f"declared test cases: {declared}"
            )
        record = next(c for c in self._record.cases if c.name == name)
        self._case = (record, name)
        log.info("test case: %s", name)

    def end_test_case(self) -> None:
        """End the current test case, if any."""
        self.end_test_step()
        self._case = None

    def begin_test_step(self, name: str) -> None:
        """Start a documented test step of the current test case (ending the previous step)."""
        self.end_test_step()
        if self._case is None:
            raise ScenarioError(f"{self.type_name()}: step {name!r} begun outside a test case")
        record, case_name = self._case
        case_doc = self._doc.case(case_name)
        assert case_doc is not None
        step_doc = case_doc.step(name)
        if step_doc is None:
            raise ScenarioError(
                f"{self.type_name()}: step {name!r} is not declared in test case {case_name!r} "
                f"of {self._doc.path}; declared steps: {[s.name for s in case_doc.steps]}"
            )
        step_record = next(s for s in record.steps if s.name == name)
        step_record.started_at_s = self.now_s()
        self._step = (step_record, step_doc)
        log.info("  step: %s", name)

    def end_test_step(self) -> None:
        """End the current step, if any."""
        if self._step is not None:
            self._step[0].ended_at_s = self.now_s()
            self._step = None

    def _begin_cleanup(self) -> None:
        self.end_test_case()
        self._in_cleanup = True
        if self._doc.cleanup is not None and self._record.cleanup is not None:
            self._record.cleanup.started_at_s = self.now_s()
            self._step = (self._record.cleanup, self._doc.cleanup)

    def _end_cleanup(self) -> None:
        self.end_test_step()
        self._in_cleanup = False

    # -- checks ---------------------------------------------------------------------------------

    def _declared(self, name: str) -> tuple[CheckRecord, CheckDoc]:
        if self._step is None:
            where = "the cleanup" if self._in_cleanup else "no test step"
            raise UndeclaredCheckError(
                f"{self.type_name()}: check {name!r} performed in {where}, but checks belong to "
                f"a documented test step of {self._doc.path}"
            )
        step_record, step_doc = self._step
        check_doc = step_doc.check(name)
        if check_doc is None:
            raise UndeclaredCheckError(
                f"{self.type_name()}: check {name!r} is not declared in step {step_doc.name!r} of "
                f"{self._doc.path}; declared checks: {[c.name for c in step_doc.checks]}"
            )
        return next(c for c in step_record.checks if c.name == name), check_doc

    @contextmanager
    def check(self, name: str, participants: Sequence[str] = ()) -> Iterator[PendingCheck]:
        """Perform a documented check; a failed high/critical check stops the scenario/run."""
        record, doc = self._declared(name)
        record.participants = list(dict.fromkeys([*record.participants, *participants]))
        record.at_s = self.now_s()
        pending = PendingCheck(record)
        try:
            yield pending
        except (ScenarioCannotContinueError, TestRunCannotContinueError):
            raise
        except Exception as exc:
            pending.record_failed(f"the check could not be performed: {type(exc).__name__}: {exc}")
            record.outcome = CheckOutcome.FAILED
            raise
        record.outcome = CheckOutcome.FAILED if pending.failed else CheckOutcome.PASSED
        if pending.failed:
            log.warning("check failed: %s: %s", name, record.summary)
            if doc.severity is Severity.CRITICAL:
                raise TestRunCannotContinueError(
                    f"critical check {name!r} failed: {record.summary}"
                )
            if doc.severity is Severity.HIGH:
                raise ScenarioCannotContinueError(f"high check {name!r} failed: {record.summary}")

    # -- time -----------------------------------------------------------------------------------

    async def sleep(self, seconds: float, reason: str) -> None:
        """The only way a scenario waits a fixed time; recorded with its reason."""
        self._record.sleeps.append(
            SleepRecord(at_s=self.now_s(), duration_s=round(seconds, 3), reason=reason)
        )
        await self._clock.sleep(seconds)

    async def wait_until(
        self,
        condition: Callable[[], Awaitable[bool]],
        timeout_s: float,
        reason: str,
        poll_s: float = 0.2,
    ) -> bool:
        """Poll `condition` until true or `timeout_s`; recorded with how long it took."""
        start = self.now_s()
        met = False
        deadline = self._clock.monotonic() + timeout_s
        while True:
            if await condition():
                met = True
                break
            if self._clock.monotonic() >= deadline:
                break
            await self._clock.sleep(poll_s)
        self._record.sleeps.append(
            SleepRecord(
                at_s=start,
                duration_s=round(self.now_s() - start, 3),
                reason=reason,
                kind="wait",
                met=met,
            )
        )
        return met

    # -- evidence for the report ----------------------------------------------------------------

    def record_event(
        self,
        kind: str,
        label: str,
        detail: str = "",
        *,
        latency_from: str | None = None,
        at_s: float | None = None,
    ) -> TimelineEvent:
        """Add a timeline event; `latency_from` names the kind of an earlier event to measure from."""
        when = self.now_s() if at_s is None else round(at_s, 3)
        latency: float | None = None
        if latency_from is not None:
            earlier = [e for e in self._record.events if e.kind == latency_from]
            if earlier:
                latency = round(when - earlier[0].at_s, 3)
        event = TimelineEvent(
            at_s=when,
            kind=kind,
            label=label,
            detail=detail,
            latency_from=latency_from,
            latency_s=latency,
        )
        self._record.events.append(event)
        return event

    def record_track(self, vehicle_id: str, points: Sequence[TrackPoint]) -> None:
        """Add (or extend) a vehicle's flown track."""
        for track in self._record.tracks:
            if track.vehicle_id == vehicle_id:
                track.points.extend(points)
                return
        self._record.tracks.append(Track(vehicle_id=vehicle_id, points=list(points)))

    def record_zone(self, name: str, kind: str, vertices: Sequence[tuple[float, float]]) -> None:
        """Add a zone outline to the map."""
        self._record.zones.append(ZoneShape(name=name, kind=kind, vertices=list(vertices)))

    def record_point(self, label: str, kind: str, lat: float, lon: float) -> None:
        """Add a labelled point (dock, call) to the map."""
        self._record.points.append(MapPoint(label=label, kind=kind, lat=lat, lon=lon))


class CleanupPhase:
    """Context manager the runner uses around `cleanup()` so cleanup checks resolve."""

    def __init__(self, scenario: Scenario) -> None:
        self._scenario = scenario

    def __enter__(self) -> Scenario:
        self._scenario._begin_cleanup()
        return self._scenario

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._scenario._end_cleanup()


def overrides_cleanup(scenario_type: type[Scenario]) -> bool:
    """True when the class (or a parent below Scenario) defines its own `cleanup`."""
    return scenario_type.cleanup is not Scenario.cleanup


def _blank(doc: CheckDoc) -> CheckRecord:
    return CheckRecord(name=doc.name, severity=doc.severity, requirements=list(doc.requirements))


def blank_record(type_name: str, doc: ScenarioDoc, *, with_checks: bool) -> ScenarioRecord:
    """A record of the documented cases and steps (`with_checks`: their checks and the cleanup too)."""
    record = ScenarioRecord(
        scenario_type=type_name,
        title=doc.title,
        doc_path=str(doc.path),
        narrative=doc.source,
        started_at=datetime.now(UTC),
    )
    for case in doc.cases:
        record.cases.append(
            CaseRecord(
                name=case.name,
                steps=[
                    StepRecord(
                        name=step.name,
                        checks=[_blank(c) for c in step.checks] if with_checks else [],
                    )
                    for step in case.steps
                ],
            )
        )
    if with_checks and doc.cleanup is not None:
        record.cleanup = StepRecord(name="Cleanup", checks=[_blank(c) for c in doc.cleanup.checks])
    return record
