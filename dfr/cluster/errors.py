"""Errors of the live bus between instances; HTTP statuses are assigned only in dfr/api/errors.py.

DfrError
 └── BusError                   the live bus between instances failed
      ├── BusUnavailableError   not connected: the server cannot be reached in time, or the bus is not open
      ├── BusTimeoutError       a request had no reply within its timeout
      ├── BusNoRespondersError  nobody serves the subject a request was sent to
      ├── BusRemoteError        the responder failed; carries its message
      └── InvalidSubjectError   not a NATS subject (empty token, whitespace, misplaced wildcard)
"""

from __future__ import annotations

from dfr.errors import DfrError


class BusError(DfrError):
    """Root of the live bus's errors."""


class BusUnavailableError(BusError):
    """The bus cannot be used: its server was not reached in time, or it is not open."""

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"bus {where}: {reason}")


class BusTimeoutError(BusError):
    """A request had no reply within its timeout."""

    def __init__(self, subject: str, timeout_s: float) -> None:
        self.subject = subject
        self.timeout_s = timeout_s
        super().__init__(f"no reply on {subject!r} within {timeout_s:g} s")


class BusNoRespondersError(BusError):
    """A request was sent to a subject nobody serves."""

    def __init__(self, subject: str) -> None:
        self.subject = subject
        super().__init__(f"nobody serves {subject!r}")


class BusRemoteError(BusError):
    """The responder of a request failed; `message` is what it said."""

    def __init__(self, subject: str, message: str) -> None:
        self.subject = subject
        self.message = message
        super().__init__(f"the responder on {subject!r} failed: {message}")


class InvalidSubjectError(BusError):
    """A string that is not a NATS subject (or, to publish on, has a wildcard)."""

    def __init__(self, subject: str, reason: str) -> None:
        self.subject = subject
        self.reason = reason
        super().__init__(f"subject {subject!r}: {reason}")
