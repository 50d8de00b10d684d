"""Where the current weather comes from: a METAR report, the pilot's manual override, or a fixed value.

Sources keep the latest observation in memory; `current(now)` never does I/O, so the dispatch
decision stays fast. Fetching a new report (a network call with a deadline) is a separate step.
"""

from __future__ import annotations

import asyncio
import logging
import re
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from metar import Metar

from dfr.dispatch.errors import MetarParseError, WeatherError
from dfr.dispatch.facts import WeatherFacts

logger = logging.getLogger(__name__)

_CEILING_COVERS = frozenset({"BKN", "OVC", "VV"})
_TIME_GROUP = re.compile(r"\b(\d{2})\d{4}Z\b")


@runtime_checkable
class WeatherSource(Protocol):
    """The latest weather observation known, without I/O."""

    def current(self, now: datetime) -> WeatherFacts | None:
        """The latest observation at `now`, or None when there is none."""
        ...


def _present_weather(groups: list[tuple[Any, ...]]) -> tuple[str, ...]:
    """METAR present-weather tuples (intensity, descriptor, precipitation, obscuration, other) as codes."""
    return tuple(code for group in groups if (code := "".join(part or "" for part in group)))


def _ceiling_ft(sky: list[tuple[Any, ...]]) -> float | None:
    heights: list[float] = []
    for cover, height, _cloud in sky:
        if cover in _CEILING_COVERS:
            # An obscured sky with no height (VV///) is a ceiling at the ground.
            heights.append(float(height.value("FT")) if height is not None else 0.0)
    return min(heights) if heights else None


def parse_metar(report: str, now: datetime) -> WeatherFacts:
    """Read a METAR/SPECI report into weather facts; `now` dates its day-hour-minute stamp."""
    text = " ".join(report.split())
    if not text:
        raise MetarParseError(report, "the report is empty")
    if now.tzinfo is None:
        raise MetarParseError(report, "now must carry a time zone")
    now_utc = now.astimezone(UTC)
    month, year = now_utc.month, now_utc.year
    stamp = _TIME_GROUP.search(text)
    if stamp is not None and int(stamp.group(1)) > now_utc.day:
        # A day after today's is a report from late last month (it may not exist in this month).
        previous = now_utc.replace(day=1) - timedelta(days=1)
        month, year = previous.month, previous.year
    parsed = _decode(text, month, year)
    if parsed.time is None:
        raise MetarParseError(report, "no observation time (ddhhmmZ) group")
    observed = parsed.time.replace(tzinfo=UTC)
    if parsed.wind_speed is None:
        raise MetarParseError(report, "no wind group")
    station = parsed.station_id or "unknown station"
    return WeatherFacts(
        observed_at=observed,
        source=f"METAR {station}",
        wind_speed_mps=float(parsed.wind_speed.value("MPS")),
        wind_gust_mps=None if parsed.wind_gust is None else float(parsed.wind_gust.value("MPS")),
        visibility_m=None if parsed.vis is None else float(parsed.vis.value("M")),
        present_weather=_present_weather(parsed.weather),
        ceiling_ft=_ceiling_ft(parsed.sky),
        raw=text,
    )


def _decode(text: str, month: int, year: int) -> Any:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parsed = Metar.Metar(text, month=month, year=year, strict=False)
        except Metar.ParserError as exc:
            raise MetarParseError(text, str(exc).splitlines()[0]) from exc
    for warning in caught:
        logger.warning("METAR %r read partly: %s", text, warning.message)
    return parsed


class StaticWeatherSource:
    """A fixed observation (tests, demo); `fresh=True` re-stamps it at every read so it never ages."""

    def __init__(self, facts: WeatherFacts | None, *, fresh: bool = True) -> None:
        self._facts = facts
        self._fresh = fresh

    def current(self, now: datetime) -> WeatherFacts | None:
        """The fixed observation."""
        if self._facts is None or not self._fresh:
            return self._facts
        return replace(self._facts, observed_at=now)


class MetarWeatherSource:
    """The latest METAR of one station, fed as text or fetched by an injected async reader."""

    def __init__(
        self,
        station: str,
        fetch_report: Callable[[], Awaitable[str]] | None = None,
        *,
        fetch_timeout_s: float = 10.0,
    ) -> None:
        self.station = station.strip().upper()
        self._fetch = fetch_report
        self._timeout_s = fetch_timeout_s
        self._latest: WeatherFacts | None = None

    def update(self, report: str, now: datetime) -> WeatherFacts:
        """Read a report and keep it if it is not older than the one held."""
        facts = parse_metar(report, now)
        if self._latest is None or facts.observed_at >= self._latest.observed_at:
            self._latest = facts
        return facts

    async def refresh(self, now: datetime) -> WeatherFacts:
        """Fetch and read the station's report (deadline `fetch_timeout_s`)."""
        if self._fetch is None:
            raise WeatherError(f"no report reader configured for station {self.station}")
        try:
            async with asyncio.timeout(self._timeout_s):
                report = await self._fetch()
        except TimeoutError as exc:
            raise WeatherError(
                f"METAR for {self.station} not received within {self._timeout_s:g} s"
            ) from exc
        return self.update(report, now)

    def current(self, now: datetime) -> WeatherFacts | None:
        """The latest report read (the policy judges its age)."""
        return self._latest


class ManualWeatherSource:
    """The pilot's own observation, which overrides `fallback` for `valid_for` after it is set."""

    def __init__(
        self, fallback: WeatherSource | None = None, *, valid_for: timedelta = timedelta(hours=1)
    ) -> None:
        self._fallback = fallback
        self._valid_for = valid_for
        self._override: WeatherFacts | None = None
        self._listeners: list[Callable[[WeatherFacts | None], None]] = []

    def add_listener(self, listener: Callable[[WeatherFacts | None], None]) -> None:
        """Tell `listener` of each override set or cleared here (the other instances get it)."""
        self._listeners.append(listener)

    @property
    def override(self) -> WeatherFacts | None:
        """The pilot's override as set (valid or not)."""
        return self._override

    def adopt(self, facts: WeatherFacts | None) -> None:
        """Take an override set or cleared on another instance (not told to the listeners)."""
        self._override = facts

    def set(
        self,
        now: datetime,
        *,
        wind_speed_mps: float,
        wind_gust_mps: float | None = None,
        visibility_m: float | None = None,
        present_weather: tuple[str, ...] = (),
        ceiling_ft: float | None = None,
        observer: str = "pilot",
    ) -> WeatherFacts:
        """Record the pilot's observation at `now`."""
        facts = WeatherFacts(
            observed_at=now,
            source=f"manual ({observer})",
            wind_speed_mps=wind_speed_mps,
            wind_gust_mps=wind_gust_mps,
            visibility_m=visibility_m,
            present_weather=tuple(code.strip().upper() for code in present_weather),
            ceiling_ft=ceiling_ft,
        )
        self._override = facts
        for listener in self._listeners:
            listener(facts)
        return facts

    def clear(self) -> None:
        """Drop the override; the fallback applies again."""
        self._override = None
        for listener in self._listeners:
            listener(None)

    def current(self, now: datetime) -> WeatherFacts | None:
        """The override while valid, else the fallback's observation."""
        if self._override is not None and now - self._override.observed_at <= self._valid_for:
            return self._override
        return None if self._fallback is None else self._fallback.current(now)
