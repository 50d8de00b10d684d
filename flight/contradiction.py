"""Holds back a vehicle report that contradicts what the vehicle just said, until it is confirmed.

Safety rule: one frame must not end a flight. A forged or corrupted HEARTBEAT saying "disarmed"
between armed ones, a fix beyond what the airframe can fly since the last one, or a battery that
loses more in one report than it can drain is not applied: it is counted, reported (rate-limited) as
a contradiction, and applied only when the vehicle keeps saying it, without a report in between that
agrees with the state applied, for `confirm_s` of vehicle time (over at least two reports). A channel
that contradicted itself recently needs `suspicious_confirm_s` instead, so an attacker who outlasts
one lost real report still cannot flip it. Arming is applied at once unless the armed state is
flapping: PX4 arms only on request, and the launch confirms it by its own COMMAND_ACK.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from geofence import GeoPoint, distance_m

_V = TypeVar("_V")


class ContradictionKind(StrEnum):
    """Which report contradicted the vehicle's state."""

    ARMED = "armed"
    POSITION = "position"
    BATTERY = "battery"


@dataclass(frozen=True, slots=True)
class PlausibilityLimits:
    """What a vehicle can do between two reports (generous: a real vehicle never gets near them)."""

    max_speed_mps: float = 40.0  # faster than any first-responder multirotor, wind included
    speed_factor: float = 2.0
    position_margin_m: float = 50.0  # GPS noise and reports delayed in a batch
    battery_step_pct: float = 10.0
    battery_drain_pct_per_s: float = 1.0
    confirm_s: float = 1.5  # more than one heartbeat period (PX4 sends HEARTBEAT at 1 Hz)
    suspicious_confirm_s: float = 6.0
    suspicion_s: float = 30.0
    #: How much later than it arrived a report may say it was made: reports queued behind a
    #: stalled reader arrive together, and a forged timestamp buys no more reach than this.
    backlog_s: float = 30.0
    flap_window_s: float = 2.0
    flap_changes: int = 3
    alert_interval_s: float = 10.0
    airborne_alt_m: float = 3.0


@dataclass(frozen=True, slots=True)
class Contradiction:
    """One reported contradiction; `held` counts the reports of its kind held back so far."""

    kind: ContradictionKind
    detail: str
    held: int


ReportContradiction = Callable[[Contradiction], None]


@dataclass(slots=True)
class _Candidate(Generic[_V]):
    """A value the vehicle reports against the applied one, and since when it has done so."""

    value: _V
    since_s: float
    reports: int = 1


@dataclass(slots=True)
class _Channel(Generic[_V]):
    """The held-back candidate of one kind of report and its alert bookkeeping."""

    kind: ContradictionKind
    candidate: _Candidate[_V] | None = None
    suspicious_until_s: float = -math.inf
    last_alert_s: float = -math.inf
    held: int = 0


@dataclass(frozen=True, slots=True)
class Fix:
    """A position report: where, how high (AMSL), when it arrived and the vehicle's boot time."""

    point: GeoPoint
    alt_amsl_m: float
    at_s: float
    boot_s: float | None = None  # the report's own time_boot_ms, in seconds


@dataclass(frozen=True, slots=True)
class BatteryReport:
    """A battery report: remaining charge and when it arrived (vehicle seconds)."""

    pct: float
    at_s: float


@dataclass(slots=True)
class PlausibilityGate:
    """Decides per report whether it is applied now or held back as a contradiction."""

    report: ReportContradiction
    limits: PlausibilityLimits = field(default_factory=PlausibilityLimits)
    fix: Fix | None = None
    battery: BatteryReport | None = None
    _armed: _Channel[bool] = field(init=False)
    _position: _Channel[Fix] = field(init=False)
    _battery: _Channel[BatteryReport] = field(init=False)
    _armed_reported: bool | None = field(default=None, init=False)
    _armed_changes_s: deque[float] = field(init=False)

    def __post_init__(self) -> None:
        self._armed = _Channel(ContradictionKind.ARMED)
        self._position = _Channel(ContradictionKind.POSITION)
        self._battery = _Channel(ContradictionKind.BATTERY)
        self._armed_changes_s = deque(maxlen=max(self.limits.flap_changes, 1))

    def held(self, kind: ContradictionKind) -> int:
        """Reports of `kind` held back so far."""
        if kind == ContradictionKind.ARMED:
            return self._armed.held
        if kind == ContradictionKind.POSITION:
            return self._position.held
        return self._battery.held

    # ------------------------------------------------------------------ armed

    def armed(self, reported: bool, applied: bool, now_s: float, *, airborne: bool) -> bool:
        """The armed state to apply after a HEARTBEAT reporting `reported`."""
        ch = self._armed
        flapping = self._note_armed_change(reported, now_s)
        if flapping:
            ch.suspicious_until_s = now_s + self.limits.suspicion_s
        if reported == applied:
            if self._cancel(ch, now_s):
                self._contradict(
                    ch,
                    now_s,
                    f"{_armed_word(reported)} reported again after {_armed_word(not reported)}",
                )
            return applied
        if reported and not flapping and ch.candidate is None:
            return True
        if self._hold(ch, reported, now_s, lambda c: c.value == reported):
            return reported
        if _fresh(ch):
            if flapping:
                self._contradict(ch, now_s, "armed state changes back and forth")
            elif not reported and airborne:
                self._contradict(ch, now_s, "disarmed reported while in the air")
        return applied

    def _note_armed_change(self, reported: bool, now_s: float) -> bool:
        """Record a change of the reported armed state; True while it is flapping."""
        if self._armed_reported is not None and reported != self._armed_reported:
            self._armed_changes_s.append(now_s)
        self._armed_reported = reported
        changes = self._armed_changes_s
        return (
            len(changes) >= self.limits.flap_changes
            and now_s - changes[0] <= self.limits.flap_window_s
        )

    # ------------------------------------------------------------------ position

    def position(
        self, point: GeoPoint, alt_amsl_m: float, now_s: float, *, boot_s: float | None = None
    ) -> bool:
        """True if this fix is applied now; False if it is held back as a jump beyond physics."""
        fix = Fix(point, alt_amsl_m, now_s, boot_s)
        last = self.fix
        ch = self._position
        if last is None or self._reachable(last, fix):
            self.fix = fix
            self._cancel(ch, now_s)
            return True
        if self._hold(ch, fix, now_s, lambda c: self._reachable(c.value, fix)):
            self.fix = fix
            return True
        if _fresh(ch):
            jump_km = _distance(last, fix) / 1000.0
            self._contradict(
                ch, now_s, f"position jumped {jump_km:.1f} km in {now_s - last.at_s:.1f} s"
            )
        return False

    def _reachable(self, a: Fix, b: Fix) -> bool:
        lim = self.limits
        dt_s = max(b.at_s - a.at_s, 0.0)
        if a.boot_s is not None and b.boot_s is not None and b.boot_s - a.boot_s > dt_s:
            dt_s = min(b.boot_s - a.boot_s, dt_s + lim.backlog_s)
        reach_m = lim.speed_factor * lim.max_speed_mps * dt_s + lim.position_margin_m
        return _distance(a, b) <= reach_m

    # ------------------------------------------------------------------ battery

    def battery_pct(self, pct: float, now_s: float, *, in_use: bool) -> bool:
        """True if this remaining charge is applied now; False if held back as an impossible step."""
        report = BatteryReport(pct, now_s)
        last = self.battery
        ch = self._battery
        if last is None or self._battery_plausible(last, report, in_use=in_use):
            self.battery = report
            self._cancel(ch, now_s)
            return True
        step = self.limits.battery_step_pct
        if self._hold(ch, report, now_s, lambda c: abs(c.value.pct - pct) <= step):
            self.battery = report
            return True
        if _fresh(ch):
            self._contradict(
                ch, now_s, f"battery went from {last.pct:.0f} % to {pct:.0f} % in one report"
            )
        return False

    def _battery_plausible(self, a: BatteryReport, b: BatteryReport, *, in_use: bool) -> bool:
        lim = self.limits
        dt_s = max(b.at_s - a.at_s, 0.0)
        if b.pct < a.pct - lim.battery_step_pct - lim.battery_drain_pct_per_s * dt_s:
            return False
        # On the dock a battery may be swapped or charged; in use it does not refill.
        return not in_use or b.pct <= a.pct + lim.battery_step_pct

    # ------------------------------------------------------------------ shared

    def _hold(
        self,
        ch: _Channel[_V],
        value: _V,
        now_s: float,
        consistent: Callable[[_Candidate[_V]], bool],
    ) -> bool:
        """Hold `value` back as the channel's candidate; True once the vehicle has confirmed it."""
        cand = ch.candidate
        if cand is None or not consistent(cand):
            ch.held += 1
            ch.candidate = _Candidate(value, now_s)
            return False
        cand.value = value
        cand.reports += 1
        confirm_s = (
            self.limits.suspicious_confirm_s
            if now_s < ch.suspicious_until_s
            else self.limits.confirm_s
        )
        if now_s - cand.since_s >= confirm_s:
            ch.candidate = None
            return True
        ch.held += 1
        return False

    def _cancel(self, ch: _Channel[_V], now_s: float) -> bool:
        """A report agreeing with the applied state drops the candidate; True if there was one."""
        if ch.candidate is None:
            return False
        ch.candidate = None
        # Two stories at once: one of them is not the vehicle's.
        ch.suspicious_until_s = now_s + self.limits.suspicion_s
        return True

    def _contradict(self, ch: _Channel[_V], now_s: float, detail: str) -> None:
        if now_s - ch.last_alert_s < self.limits.alert_interval_s:
            return
        ch.last_alert_s = now_s
        self.report(Contradiction(ch.kind, detail, ch.held))


def _fresh(ch: _Channel[_V]) -> bool:
    """True right after the channel's candidate was started by the current report."""
    return ch.candidate is not None and ch.candidate.reports == 1


def _armed_word(armed: bool) -> str:
    return "armed" if armed else "disarmed"


def _distance(a: Fix, b: Fix) -> float:
    return math.hypot(distance_m(a.point, b.point), b.alt_amsl_m - a.alt_amsl_m)
