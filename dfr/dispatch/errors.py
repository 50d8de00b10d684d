"""Errors raised by the dispatch policy and its inputs.

DfrError (dfr.errors)
 └── DispatchError              root of every dispatch error
      ├── InvalidFactsError     an input fact is impossible (NaN distance, priority 9, naive time ...)
      ├── PolicyConfigError     the agency policy table is inconsistent
      └── WeatherError          no usable weather observation
           └── MetarParseError  a METAR report cannot be read (names the report and the reason)

A failed rule is never an exception: it is a `RuleVerdict` with `passed=False` and a reason.
"""

from __future__ import annotations

from dfr.errors import DfrError


class DispatchError(DfrError):
    """Root of every dispatch error."""


class InvalidFactsError(DispatchError, ValueError):
    """An input fact is impossible; carries the field it concerns."""

    def __init__(self, reason: str, *, field: str) -> None:
        self.reason = reason
        self.field = field
        super().__init__(f"{field}: {reason}")


class PolicyConfigError(DispatchError, ValueError):
    """The agency policy table contradicts itself."""


class WeatherError(DispatchError):
    """No usable weather observation."""


class MetarParseError(WeatherError, ValueError):
    """A METAR report cannot be read."""

    def __init__(self, report: str, reason: str) -> None:
        self.report = report
        self.reason = reason
        super().__init__(f"METAR {report!r}: {reason}")
