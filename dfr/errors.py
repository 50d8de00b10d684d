"""Errors raised by the dfr service layer; HTTP statuses are assigned only in dfr/api/errors.py.

DfrError
 ├── NotFoundError          a resource id does not exist (unknown drone, dock, call ...)
 ├── ConflictError          the request contradicts stored state (duplicate name, id in use ...)
 ├── InvalidInputError      a value is refused by a domain rule (carries the field and reason)
 ├── UnsafeSettingsError    the service refuses to start with these settings
 └── FleetFileError         the fleet file cannot be read or refers to unknown ids
"""

from __future__ import annotations


class DfrError(Exception):
    """Root of every dfr error."""


class NotFoundError(DfrError):
    """A resource does not exist."""

    def __init__(self, kind: str, ident: object) -> None:
        self.kind = kind
        self.ident = ident
        super().__init__(f"{kind} {ident!r} does not exist")


class ConflictError(DfrError):
    """The request conflicts with stored state."""

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        self.reason = reason
        self.field = field
        super().__init__(reason)


class InvalidInputError(DfrError):
    """A value is refused by a domain rule."""

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        self.reason = reason
        self.field = field
        super().__init__(f"{field}: {reason}" if field else reason)


class UnsafeSettingsError(DfrError):
    """Settings that would make the service unsafe to run."""


class FleetFileError(DfrError):
    """The fleet file is unreadable or inconsistent."""
