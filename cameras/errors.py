"""Errors of the camera registry; dfr/api/errors.py gives each its HTTP status.

CameraError
 ├── CameraInputError      a value is refused (carries the field and reason)
 │    └── ClipTooLargeError  a clip is larger than the size limit
 ├── LinkRefusedError      an owner's link is unknown, used up, revoked, expired or for another case
 └── RateLimitedError      too many registrations from one client address
"""

from __future__ import annotations


class CameraError(Exception):
    """Root of every camera registry error."""

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        self.reason = reason
        self.field = field
        super().__init__(reason)


class CameraInputError(CameraError):
    """A value is refused by a registry rule."""


class ClipTooLargeError(CameraInputError):
    """A clip is larger than the configured limit."""


class LinkRefusedError(CameraError):
    """An owner's link (confirmation, management or upload) does not admit this request."""


class RateLimitedError(CameraError):
    """Too many requests from one client address; retry after `retry_after_s`."""

    def __init__(self, reason: str, *, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(reason)
