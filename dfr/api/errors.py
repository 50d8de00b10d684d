"""The one place where errors become HTTP statuses, as RFC 9457 problem+json with field-level reasons."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cad_bridge import CadError
from dfr.errors import ConflictError, DfrError, InvalidInputError, NotFoundError
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


def _error_for(exc: Exception) -> tuple[int, str, str | None]:
    if isinstance(exc, NotFoundError):
        return 404, str(exc), None
    if isinstance(exc, ConflictError):
        return 409, exc.reason, exc.field
    if isinstance(exc, InvalidInputError):
        return 422, exc.reason, exc.field
    if isinstance(exc, InvalidGeometryError):
        return 422, str(exc), exc.field
    if isinstance(exc, GeofenceError):
        return 422, str(exc), None
    if isinstance(exc, PlanRejectedError):
        return 422, str(exc), "route"
    if isinstance(exc, InvalidCommandError):
        return 422, str(exc), "command"
    if isinstance(exc, UnknownVehicleError):
        return 404, str(exc), None
    if isinstance(exc, CommandRejectedError):
        return 409, str(exc), None
    if isinstance(exc, LinkLostError):
        return 409, str(exc), None
    if isinstance(exc, LinkTimeoutError):
        return 504, str(exc), None
    if isinstance(exc, FlightError):
        return 409, str(exc), None
    status = getattr(exc, "http_status", None)
    field = getattr(exc, "field", None)
    if isinstance(status, int):
        return status, str(exc), field if isinstance(field, str) else None
    return 400, str(exc), None


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
        return problem(status, detail, errors=errors, instance=request.url.path)

    for cls in (DfrError, GeofenceError, CadError, FlightError):
        app.add_exception_handler(cls, _domain)
