"""Errors raised by the dfr service layer; HTTP statuses are assigned only in dfr/api/errors.py.

DfrError
 ├── NotFoundError              a resource id does not exist (unknown drone, dock, call ...)
 ├── ConflictError              the request contradicts stored or live state (duplicate name ...)
 │    └── LaunchRefusedError    no drone may fly this call now (the policy's reason)
 ├── InvalidInputError          a value is refused by a domain rule (carries the field and reason)
 ├── MalformedBodyError         a request body cannot be read at all (not UTF-8, JSON nested too deep)
 ├── NotAuthenticatedError      no bearer token, or one unknown or revoked
 │    └── CallerNotAdmittedError  the token that posted a call was revoked before its commit
 ├── ForbiddenError             the caller's role may not do this
 ├── GoneError                  a thing that existed has ended (a revoked or expired shared link)
 ├── ServiceUnavailableError    a part of the service (the flight link, dispatch) is not running
 ├── UnsafeSettingsError        the service refuses to start with these settings
 ├── FleetFileError             the fleet file cannot be read or refers to unknown ids
 ├── DispatchError              see dfr/dispatch/errors.py (impossible facts, policy, weather)
 └── BasemapError               see dfr/basemap/errors.py (building a basemap, reading an archive)
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


class LaunchRefusedError(ConflictError):
    """No drone may fly this call now; the reason is the policy's."""


class InvalidInputError(DfrError):
    """A value is refused by a domain rule."""

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        self.reason = reason
        self.field = field
        super().__init__(f"{field}: {reason}" if field else reason)


class NotAuthenticatedError(DfrError):
    """The request carries no valid bearer token."""


class CallerNotAdmittedError(NotAuthenticatedError):
    """The token that posted the call is unknown, revoked or of a role not admitted at commit time."""


class ForbiddenError(DfrError):
    """The caller is known, but its role may not do this."""


class GoneError(DfrError):
    """The resource existed but has ended for good (a revoked or expired link)."""


class ServiceUnavailableError(DfrError):
    """A part of the service this request needs is not running in this process."""


class UnsafeSettingsError(DfrError):
    """Settings that would make the service unsafe to run."""


class FleetFileError(DfrError):
    """The fleet file is unreadable or inconsistent."""


class MalformedBodyError(DfrError):
    """A request body is unreadable before any domain rule applies (encoding, nesting)."""

    def __init__(self, reason: str, *, field: str = "body") -> None:
        self.reason = reason
        self.field = field
        super().__init__(reason)
