"""``/webhook/<path>``: HTTP requests to the ``trigger.webhook`` nodes of active workflows.

Served outside ``/api/v1`` and its authentication: each webhook has its own (a token or
basic credentials, see ``tav.triggers.webhook``). The route is a plain Starlette route put
first in the app, not a FastAPI one: no dependencies, body model or response validation
to run, so a webhook costs what ``POST /api/v1/workflows/{id}/run`` costs, not more.

In order: the path and method (404, 405 with ``Allow``), the rate limit (429 with
``Retry-After``), the declared size, authentication (401), the body (413, then 400 for
JSON that does not parse, 422 for JSON that is not storable: nested deeper than an API
input may be, a lone surrogate, ``NaN``; the same checks as an API run's input), then the
run: ``immediately`` answers 202 with the execution id once it is recorded; ``when_done``
once it has ended and is stored, with its output (or the status, headers and body the
output names), 500 if it failed and 504 if it took longer than the webhook's
``timeout_s`` (the run goes on); 202 with ``{execution_id, status: waiting}`` if it
parked on a wait (``core.wait``: it goes on once that is decided). A run whose updates
could not be stored answers 500 ``not_stored``, never as if it had been.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tav.api.documents import value_problems
from tav.api.errors import ApiError, error_body
from tav.app.executions import Executions, StartedRun
from tav.app.root import RecordingParts
from tav.core.errors import FailureKind, InputInvalid, NotStored, Unavailable
from tav.core.modes import ExecutionMode
from tav.core.states import ExecutionStatus
from tav.triggers.webhook import PREFIX, Webhook, WebhookError, is_json

SIZE_FACTOR = 4
"""How much larger than its text a JSON body may count in ``value_problems`` (a number
counts 8 there, and takes as little as 2 bytes: ``0,``): a body within the webhook's size
is never refused for its size twice."""

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def install(app: FastAPI) -> None:
    """Put the webhook route first: every other path is rejected by one regex match."""
    route = Route(PREFIX + "{path:path}", webhook, methods=METHODS, include_in_schema=False)
    app.router.routes.insert(0, route)


async def webhook(request: Request) -> Response:
    parts: RecordingParts = request.app.state.parts
    scope = request.scope
    path = request.path_params["path"]
    try:
        hook = parts.webhooks.resolve(request.method, path)
        hook.admit()
        hook.check_size(_declared_length(request))
        await hook.authenticate(request.headers)
        body = await _read(request, hook)
        payload = hook.payload(
            request.method, PREFIX + path, scope["headers"], scope["query_string"], body
        )
    except WebhookError as exc:
        return _error(exc.status, exc.code, exc.message, exc.headers)
    refused = _unstorable(request, hook, payload["body"])
    if refused is not None:
        return refused
    executions = parts.executions_service
    target = hook.target
    try:
        started = await executions.launch(
            target.workflow, payload, mode=ExecutionMode.WEBHOOK, skip=target.skip
        )
    except Unavailable as exc:
        return _error(503, "unavailable", str(exc))
    except InputInvalid as exc:
        return _error(422, "input_invalid", str(exc))
    execution_id = started.handle.execution_id
    if hook.config.respond == "immediately":
        try:
            await started.recorded
        except NotStored as exc:
            return _not_stored(exc, execution_id)
        return JSONResponse({"execution_id": execution_id}, status_code=202)
    return await _when_done(executions, hook, started, execution_id)


def _unstorable(request: Request, hook: Webhook, body: Any) -> Response | None:
    """422, with where, for a JSON body that is not storable JSON data (413 past the
    size): it would fail its run at the first node, or nest too deep to be stored."""
    if not is_json(request.headers.get("content-type", "")):
        return None
    max_bytes = SIZE_FACTOR * hook.config.max_body_bytes
    try:
        problems = value_problems(body, max_bytes=max_bytes, location="body")
    except ApiError as exc:
        return _error(exc.status, exc.code, exc.message)
    if problems:
        return _error(422, "request_invalid", "the body is not storable JSON", details=problems)
    return None


def _not_stored(exc: NotStored, execution_id: str) -> Response:
    return _error(500, FailureKind.NOT_STORED, exc.message, details={"execution_id": execution_id})


async def _when_done(
    executions: Executions, hook: Webhook, started: StartedRun, execution_id: str
) -> Response:
    try:
        async with asyncio.timeout(hook.config.timeout_s):
            result = await started.handle.wait()
    except TimeoutError:
        message = f"the run did not end within {hook.config.timeout_s} s; it goes on"
        return _error(504, "timeout", message, details={"execution_id": execution_id})
    try:
        await started.recorded
        await executions.written(execution_id)  # stored before answered, as run?wait=true is
    except NotStored as exc:
        return _not_stored(exc, execution_id)
    if result.status is ExecutionStatus.WAITING:  # parked (core.wait): it goes on later
        answer = {"execution_id": execution_id, "status": result.status.value}
        return JSONResponse(answer, status_code=202, headers={"x-tav-execution-id": execution_id})
    status, headers, body = hook.answer(result)
    headers["x-tav-execution-id"] = execution_id
    return Response(body, status_code=status, headers=headers)


def _declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


async def _read(request: Request, hook: Webhook) -> bytes:
    limit = hook.config.max_body_bytes
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise hook.too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def _error(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    details: Any = None,
) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)
