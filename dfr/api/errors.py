"""The one place where errors become HTTP statuses, as RFC 9457 problem+json with field-level reasons."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cad_bridge import CadError, CadInputError
from cameras import (
    CameraError,
    CameraInputError,
    ClipTooLargeError,
    LinkRefusedError,
    RateLimitedError,
)
from dfr.cluster.errors import (
    BusError,
    BusNoRespondersError,
    BusRemoteError,
    BusTimeoutError,
    BusUnavailableError,
    InvalidSubjectError,
)
from dfr.errors import (
    ConflictError,
    DfrError,
    ForbiddenError,
    GoneError,
    InvalidInputError,
    MalformedBodyError,
    NotAuthenticatedError,
    NotFoundError,
    ServiceUnavailableError,
)
from flight import (
    CommandRejectedError,
    FlightError,
    InvalidCommandError,
    LinkLostError,
    LinkTimeoutError,
    PlanRejectedError,
    UnknownVehicleError,
)
from geofence import GeofenceError, InvalidGeometryError

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


def problem(
    status: int,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    instance: str | None = None,
    **extra: Any,
) -> JSONResponse:
    """An RFC 9457 problem document."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


#: The problem document's JSON schema (RFC 9457 plus the field-level `errors`).
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}
_ERROR_MEANINGS = {
    400: "the body cannot be read (not UTF-8, malformed, nested too deep)",
    401: "no bearer token, or one unknown, revoked or expired",
    403: "the token's role may not do this",
    404: "no such resource",
    405: "the method is not allowed here",
    409: "the request conflicts with stored or live state",
    413: "the body is larger than the limit",
    415: "the body's media type is not read here",
    422: "a value is refused (each field and its reason in `errors`)",
    429: "too many failed authentications from this address (see Retry-After)",
    500: "the service failed (logged; nothing internal is told)",
    502: "another instance answered with an error",
    503: "a part of the service this needs is not running",
    504: "the vehicle or another instance did not answer in time",
}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
#: Declared on every API operation: each error is an application/problem+json document.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": meaning, "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}}}
    for status, meaning in _ERROR_MEANINGS.items()
}


def describe_problems(app: FastAPI) -> None:
    """Put the Problem schema PROBLEM_RESPONSES refers to into the app's OpenAPI components."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = (
                PROBLEM_SCHEMA
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _field_of(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _describe(error: Any) -> dict[str, str]:
    reason = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if error.get("type") == "json_invalid":
        ctx = error.get("ctx") or {}
        where = error.get("loc", ("body", "?"))[-1]
        return {
            "field": "body",
            "reason": f"malformed JSON at character {where}: {ctx.get('error', reason)}",
        }
    return {"field": _field_of(error.get("loc", ())), "reason": reason}


#: The HTTP status of each domain error; for an error, the most specific class of its MRO wins.
STATUS_OF: dict[type[Exception], int] = {
    DfrError: 400,
    NotFoundError: 404,
    ConflictError: 409,
    InvalidInputError: 422,
    MalformedBodyError: 400,
    NotAuthenticatedError: 401,
    ForbiddenError: 403,
    GoneError: 410,
    ServiceUnavailableError: 503,
    GeofenceError: 422,
    InvalidGeometryError: 422,
    CadError: 400,
    CadInputError: 422,
    FlightError: 409,
    PlanRejectedError: 422,
    InvalidCommandError: 422,
    UnknownVehicleError: 404,
    CommandRejectedError: 409,
    LinkLostError: 409,
    LinkTimeoutError: 504,
    BusError: 503,
    BusUnavailableError: 503,
    BusNoRespondersError: 503,
    BusTimeoutError: 504,
    BusRemoteError: 502,
    InvalidSubjectError: 500,
    CameraError: 400,
    CameraInputError: 422,
    ClipTooLargeError: 413,
    LinkRefusedError: 403,
    RateLimitedError: 429,
}
#: The request field an error names when the error itself carries none.
FIELD_OF: dict[type[Exception], str] = {PlanRejectedError: "route", InvalidCommandError: "command"}


def _most_specific(table: dict[type[Exception], Any], exc: Exception) -> Any:
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    return None


def _error_for(exc: Exception) -> tuple[int, str, str | None]:
    """Status, detail and the field at fault of a domain error."""
    status = _most_specific(STATUS_OF, exc) or 500
    reason = getattr(exc, "reason", None)
    detail = (
        reason
        if isinstance(exc, ConflictError | InvalidInputError | MalformedBodyError)
        else str(exc)
    )
    field = getattr(exc, "field", None)
    if not isinstance(field, str):
        field = _most_specific(FIELD_OF, exc)
    return status, str(detail), field


def install_error_handlers(app: FastAPI) -> None:
    """Map framework and domain errors to problem+json."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_describe(e) for e in exc.errors()]
        first = errors[0] if errors else {"field": "body", "reason": "invalid"}
        return problem(
            422,
            f"{first['field']}: {first['reason']}",
            errors=errors,
            instance=request.url.path,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(
            exc.status_code,
            str(exc.detail),
            headers=dict(exc.headers) if exc.headers else None,
            instance=request.url.path,
        )

    async def _domain(request: Request, exc: Exception) -> JSONResponse:
        status, detail, field = _error_for(exc)
        errors = [{"field": field, "reason": detail}] if field else None
        if isinstance(exc, PlanRejectedError):
            errors = [{"field": "route", "reason": r} for r in exc.reasons]
        # RFC 6750: a refused bearer token is answered with the scheme to use.
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return problem(status, detail, errors=errors, headers=headers, instance=request.url.path)

    for cls in (DfrError, GeofenceError, CadError, FlightError, CameraError):
        app.add_exception_handler(cls, _domain)

    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        # The last resort (outside every middleware); UnhandledErrorMiddleware answers first.
        return internal_error(request.url.path)

    app.add_exception_handler(Exception, _unhandled)


def internal_error(path: str) -> JSONResponse:
    """The 500 problem: nothing of the failure's internals is told to the client."""
    return problem(
        500, "the service failed to answer this request; it has been logged", instance=path
    )


class UnhandledErrorMiddleware:
    """Every error answer is a problem document: an unhandled exception becomes a 500 problem
    (logged once, here), and an error a route answers with no body (a bare 405) gets one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        held: Message | None = None

        async def problem_send(message: Message) -> None:
            nonlocal started, held
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                if status >= 400 and not _has_content_type(message):
                    held = message  # sent once the body shows whether there is one
                    return
            elif held is not None and message["type"] == "http.response.body":
                start, held = held, None
                if not message.get("body") and not message.get("more_body"):
                    await _bodiless_problem(start, scope["path"])(scope, receive, send)
                    return
                await send(start)
            await send(message)

        try:
            await self.app(scope, receive, problem_send)
        except Exception:
            if started:
                raise  # too late for a problem document; the server logs it and drops the connection
            log.exception("unhandled error answering %s %s", scope["method"], scope["path"])
            await internal_error(scope["path"])(scope, receive, send)


def _has_content_type(start: Message) -> bool:
    return any(name.lower() == b"content-type" for name, _ in start.get("headers", []))


def _bodiless_problem(start: Message, path: str) -> JSONResponse:
    """The problem document of an error answered without a body, keeping its headers (Allow ...)."""
    status = int(start["status"])
    kept = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in start.get("headers", [])
        if name.lower() not in (b"content-length", b"content-type")
    }
    return problem(status, HTTPStatus(status).phrase, headers=kept, instance=path)
