"""Refuses request bodies that are too large or of a media type the API does not read."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from dfr.api.errors import problem

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
ACCEPTED_MEDIA_TYPES = (
    "application/json",
    "application/problem+json",
    "application/geo+json",
    "application/emergency.eido+json",
    "application/sdp",
    "text/csv",
    "multipart/form-data",
    "application/x-www-form-urlencoded",
)


class RequestLimitsMiddleware:
    """413 for bodies above `max_body_bytes`, 415 for unreadable media types."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            response = problem(
                413,
                f"the request body is {length} bytes; the limit is {self.max_body_bytes}",
                instance=scope["path"],
            )
            await response(scope, receive, send)
            return
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        has_body = (length is not None and length != "0") or "transfer-encoding" in headers
        if has_body and media_type and not media_type.startswith(ACCEPTED_MEDIA_TYPES):
            response = problem(
                415,
                f"content type {media_type!r} is not accepted; send application/json",
                errors=[{"field": "content-type", "reason": "unsupported media type"}],
                instance=scope["path"],
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
