"""The report data model: what one scenario run and one whole run recorded (JSON on disk)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from simulator.scenarios.docs import Severity

# These records are filled in while a scenario runs, so they are mutable; `extra="forbid"` still
# refuses a misspelt field when a saved report is read back.
_CONFIG = ConfigDict(extra="forbid")


class CheckOutcome(StrEnum):
    """What became of one declared check."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_RUN = "not_run"


class ScenarioOutcome(StrEnum):
    """How one scenario ended."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    NOT_IMPLEMENTED = "not_implemented"
    #: Not run here, with the reason (e.g. it injects faults and the vehicles are external).
    SKIPPED = "skipped"


class CheckRecord(BaseModel):
    """One performed (or not performed) check."""

    model_config = _CONFIG

    name: str
    severity: Severity
    requirements: list[str]
    participants: list[str] = Field(default_factory=list)
    outcome: CheckOutcome = CheckOutcome.NOT_RUN
    summary: str = ""
    details: str = ""
    at_s: float | None = None


class StepRecord(BaseModel):
    """One test step (or the cleanup) with its checks in document order."""

    model_config = _CONFIG

    name: str
    started_at_s: float | None = None
    ended_at_s: float | None = None
    checks: list[CheckRecord] = Field(default_factory=list)


class CaseRecord(BaseModel):
    """One test case."""

    model_config = _CONFIG

    name: str
    steps: list[StepRecord] = Field(default_factory=list)


class SleepRecord(BaseModel):
    """A delay the scenario chose (`sleep`) or a wait on a condition (`wait_until`)."""

    model_config = _CONFIG

    at_s: float
    duration_s: float
    reason: str
    kind: str = "sleep"
    met: bool = True


class TimelineEvent(BaseModel):
    """Something that happened, as a user could see it, with its latency from an earlier event."""

    model_config = _CONFIG

    at_s: float
    kind: str
    label: str
    detail: str = ""
    latency_from: str | None = None
    latency_s: float | None = None


class TrackPoint(BaseModel):
    """One observed position of a vehicle."""

    model_config = _CONFIG

    t_s: float
    lat: float
    lon: float
    alt_m: float


class Track(BaseModel):
    """The flown track of one vehicle during a scenario."""

    model_config = _CONFIG

    vehicle_id: str
    points: list[TrackPoint] = Field(default_factory=list)


class ZoneShape(BaseModel):
    """A zone outline drawn on the map (vertices as [lat, lon])."""

    model_config = _CONFIG

    name: str
    kind: str
    vertices: list[tuple[float, float]]


class MapPoint(BaseModel):
    """A labelled point on the map: a dock or a call."""

    model_config = _CONFIG

    label: str
    kind: str
    lat: float
    lon: float


class ScenarioRecord(BaseModel):
    """Everything one scenario recorded."""

    model_config = _CONFIG

    scenario_type: str
    title: str
    doc_path: str
    narrative: str
    started_at: datetime | None = None
    duration_s: float = 0.0
    outcome: ScenarioOutcome = ScenarioOutcome.PASSED
    error: str | None = None
    cases: list[CaseRecord] = Field(default_factory=list)
    cleanup: StepRecord | None = None
    sleeps: list[SleepRecord] = Field(default_factory=list)
    events: list[TimelineEvent] = Field(default_factory=list)
    tracks: list[Track] = Field(default_factory=list)
    zones: list[ZoneShape] = Field(default_factory=list)
    points: list[MapPoint] = Field(default_factory=list)

    def checks(self) -> list[CheckRecord]:
        """Every check record, cleanup included."""
        found = [c for case in self.cases for s in case.steps for c in s.checks]
        if self.cleanup is not None:
            found.extend(self.cleanup.checks)
        return found

    def failed_checks(self) -> list[CheckRecord]:
        """Checks that failed."""
        return [c for c in self.checks() if c.outcome is CheckOutcome.FAILED]

    @property
    def blocking(self) -> bool:
        """True when this scenario makes the run fail (error, not implemented, high/critical check)."""
        if self.outcome in (ScenarioOutcome.ERROR, ScenarioOutcome.NOT_IMPLEMENTED):
            return True
        return any(c.severity.stops_scenario for c in self.failed_checks())


class RunRecord(BaseModel):
    """One run of the runner over several scenarios."""

    model_config = _CONFIG

    name: str
    config_path: str | None = None
    started_at: datetime
    duration_s: float = 0.0
    speedup: float = 1.0
    vehicles: list[str] = Field(default_factory=list)
    scenarios: list[ScenarioRecord] = Field(default_factory=list)
    aborted: str | None = None
    #: Why the run stopped early: "bad_input" (config, unreachable vehicle), "resource", "critical".
    abort_kind: str | None = None

    @property
    def passed(self) -> bool:
        """No scenario blocks and the run was not aborted."""
        return self.aborted is None and not any(s.blocking for s in self.scenarios)
