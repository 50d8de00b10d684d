"""Refuses request bodies that are too large or of a media type the API does not read.

The limit is on the bytes actually received, counted as they stream in (a chunked body declares
no length), so no route, dependency or body parser ever holds more than the limit in memory.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


class _BodyTooLargeError(Exception):
    """Raised into the app from `receive` once the body passes its limit."""


class RequestLimitsMiddleware:
    """413 for bodies above their limit (declared or streamed), 415 for unreadable media types."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        *,
        path_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        #: Exact paths allowed a different (still bounded) body, e.g. the zone import.
        self.path_limits = dict(path_limits or {})

    def limit_for(self, path: str) -> int:
        """The body limit of a request to `path`."""
        return self.path_limits.get(path, self.max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._refuse(scope, receive, send, f"the request body is {length} bytes", limit)
            return
        if scope["method"] in BODY_METHODS:
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
        await self._counted(scope, receive, send, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Run the app with a `receive` that stops the body at `limit` bytes."""
        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                # Whatever the app answers to a body cut short (a parse error, a 500) is
                # replaced by the 413 below.
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            await self._refuse(scope, receive, send, f"more than {limit} bytes were sent", limit)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, said: str, limit: int) -> None:
        response = problem(
            413,
            f"{said}; the limit is {limit}",
            errors=[{"field": "body", "reason": f"larger than {limit} bytes"}],
            instance=scope["path"],
            # The rest of the body is not read: the connection cannot carry another request.
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
