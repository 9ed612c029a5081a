"""Every error as JSON ``{"error": {"code", "message", "details"}}`` with the right status."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Send

from tav.app.connections import SIZING
from tav.core.errors import (
    Conflict,
    FailureKind,
    Forbidden,
    Gone,
    InputInvalid,
    NotFound,
    NotStored,
    Unavailable,
    WorkflowInvalid,
)
from tav.storage.db import refused, unreachable
from tav.triggers import ActivationInvalid, TriggerClash

logger = logging.getLogger("tav.api")
# Errors Starlette and FastAPI raise themselves (400: a body that is not JSON).
HTTP_CODES = {
    400: "request_invalid",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
}


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, for programs: not_found, conflict, ...")
    message: str = Field(description="For people.")
    details: Any = Field(None, description="More, by code: every problem of a 422.")


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` of routes that can fail with these statuses."""
    return {
        status: {"model": ErrorResponse, "description": DESCRIPTIONS[status]} for status in statuses
    }


DESCRIPTIONS = {
    400: "The Host header names no host this server answers (`host_not_allowed`).",
    401: "No valid API key or session.",
    403: "Refused, `code` says why: `forbidden` (the caller's role is below the one the "
    "route needs, named in `details.required_role`, or what is asked is nobody's to do), "
    "`cross_site_request`, `origin_required`, a setup token missing or wrong.",
    404: "Not found.",
    409: "In conflict with the stored state; `details` says with what.",
    410: "It existed and is over: a wait decided, timed out or cancelled (`gone`).",
    413: "The request body is too large.",
    422: "The request is not valid; `details` lists every problem.",
    429: "Too many failed attempts; the `Retry-After` header says when to try again.",
}


class ApiError(Exception):
    """An error the API answers with ``status`` and a stable ``code``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        self.headers = headers


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


async def send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """The error answered from pure ASGI middleware, before any route (or body) is read."""
    body = json.dumps(error_body(code, message, details), separators=(",", ":")).encode()
    start = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*start, *headers]})
    await send({"type": "http.response.body", "body": body})


DATABASE_ERRORS = (OSError, DBAPIError, PoolTimeout)
"""What the database raises when it cannot be reached (and statements that fail)."""
RETRY_AFTER = {"Retry-After": "5"}


def database_trouble(exc: BaseException) -> str | None:
    """The message of ``503 database_unavailable`` (logged) when ``exc`` says the
    database cannot be reached or refused a connection; ``None`` for anything else."""
    if (why := refused(exc)) is not None:  # (a deployment's pools past max_connections)
        logger.warning("PostgreSQL refused a connection: %s (%s)", why, SIZING)
        return f"the database refused a connection ({why}); try again in a moment"
    if unreachable(exc):
        logger.warning("the database cannot be reached: %r", exc)
        return "the database cannot be reached; try again in a moment"
    return None


def _json(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _json(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(WorkflowInvalid)
    async def workflow_invalid(_: Request, exc: WorkflowInvalid) -> JSONResponse:
        details = [problem.to_dict() for problem in exc.problems]
        message = f"the workflow has {len(exc.problems)} problem(s)"
        return _json(422, "workflow_invalid", message, details)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return _json(404, "not_found", str(exc))

    @app.exception_handler(InputInvalid)
    async def input_invalid(_: Request, exc: InputInvalid) -> JSONResponse:
        return _json(422, "input_invalid", str(exc))

    @app.exception_handler(Conflict)
    async def conflict(_: Request, exc: Conflict) -> JSONResponse:
        return _json(409, "conflict", str(exc), exc.details)

    @app.exception_handler(Gone)
    async def gone(_: Request, exc: Gone) -> JSONResponse:
        return _json(410, "gone", str(exc))

    @app.exception_handler(Forbidden)
    async def forbidden(_: Request, exc: Forbidden) -> JSONResponse:
        return _json(403, "forbidden", str(exc))

    @app.exception_handler(Unavailable)
    async def unavailable(_: Request, exc: Unavailable) -> JSONResponse:
        return _json(503, "unavailable", str(exc))

    @app.exception_handler(NotStored)
    async def not_stored(_: Request, exc: NotStored) -> JSONResponse:
        # The run happened; what it did is not (all) stored. Not answered as if it were.
        return _json(500, FailureKind.NOT_STORED, exc.message, {"execution_id": exc.execution_id})

    @app.exception_handler(ActivationInvalid)
    async def activation_invalid(_: Request, exc: ActivationInvalid) -> JSONResponse:
        # Every problem carries its own stable code (tav.triggers.Refusal): no_trigger, ...
        return _json(422, "activation_invalid", str(exc), exc.problems)

    @app.exception_handler(TriggerClash)
    async def trigger_clash(_: Request, exc: TriggerClash) -> JSONResponse:
        details = {"workflow_id": exc.workflow_id, "workflow_name": exc.workflow_name}
        return _json(409, "trigger_conflict", str(exc), {**details, "claim": exc.claim})

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"location": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]
        return _json(422, "request_invalid", "the request is not valid", details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        return _json(exc.status_code, code, str(exc.detail), None, exc.headers)  # e.g. Allow

    # What the database raises when it cannot be reached: answered here rather than by
    # the handler of ``Exception`` below, which Starlette's outermost middleware runs and
    # then raises again (the server logs it, and closes the connection).
    @app.exception_handler(OSError)
    @app.exception_handler(DBAPIError)
    @app.exception_handler(PoolTimeout)
    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        message = database_trouble(exc)
        if message is not None:  # nothing was stored: the client may try again
            return _json(503, "database_unavailable", message, None, RETRY_AFTER)
        return await unexpected(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error")
        return _json(500, "internal_error", "an unexpected error occurred; see the server log")
