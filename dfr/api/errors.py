"""The one place where errors become HTTP statuses, as RFC 9457 problem+json with field-level reasons."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cad_bridge import CadError, CadInputError
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
    InvalidInputError,
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
    NotAuthenticatedError: 401,
    ForbiddenError: 403,
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
    detail = reason if isinstance(exc, ConflictError | InvalidInputError) else str(exc)
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

    for cls in (DfrError, GeofenceError, CadError, FlightError):
        app.add_exception_handler(cls, _domain)
