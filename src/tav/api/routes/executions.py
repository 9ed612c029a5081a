"""Executions: start a stored workflow, list, get, cancel, retry, delete, and watch live.

``runs`` holds the one route under ``/workflows`` (starting a run); ``router`` the rest.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable
from contextlib import aclosing, suppress
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Response
from fastapi.sse import ServerSentEvent
from pydantic_core import to_json

from tav.api.deps import ServerDep
from tav.api.documents import value_problems
from tav.api.errors import ApiError
from tav.api.schemas.executions import (
    ID_PATTERN,
    ExecutionPage,
    ExecutionPublic,
    ExecutionSummaryPublic,
    RunAccepted,
    RunRequest,
)
from tav.api.sse import EventStream
from tav.core.errors import FailureKind, InputInvalid, NotFound
from tav.core.modes import ExecutionMode
from tav.core.results import NodeResult
from tav.core.states import ExecutionStatus
from tav.engine.executor import ExecutionHandle
from tav.engine.rerun import reusable
from tav.server import Server, StartedRun
from tav.storage.executions import ExecutionRecord
from tav.storage.isolation import NotStored
from tav.storage.watch import watch
from tav.storage.workflows import StoredWorkflow

router = APIRouter(prefix="/executions", tags=["executions"])
runs = APIRouter(prefix="/workflows", tags=["executions"])

ExecutionId = Annotated[str, Path(max_length=64, pattern=ID_PATTERN)]
WorkflowId = Annotated[str, Path(max_length=64, pattern=ID_PATTERN)]
Wait = Annotated[bool, Query(description="Wait for the execution to end and answer with it (200).")]
MAX_OFFSET = 2**31 - 1
FINISHED: dict[int | str, dict[str, Any]] = {
    200: {"model": ExecutionPublic, "description": "The finished execution (?wait=true)."}
}


@runs.post(
    "/{workflow_id}/run",
    status_code=202,
    response_model=RunAccepted | ExecutionPublic,
    responses=FINISHED,
)
async def run_workflow(
    workflow_id: WorkflowId,
    server: ServerDep,
    body: Annotated[RunRequest | None, Body()] = None,
    wait: Wait = False,
) -> RunAccepted | Response:
    """Start the stored workflow; with ``from_execution`` (and ``start_at``), reuse that
    execution's settled outputs for every node that does not run again."""
    stored = await server.workflows.get(workflow_id)
    if stored is None:
        raise NotFound(f"no workflow with id {workflow_id!r}")
    body = body or RunRequest()
    if body.input is not None:
        max_bytes = server.settings.max_body_bytes
        problems = value_problems(body.input, max_bytes=max_bytes, location="body.input")
        if problems:
            raise ApiError(422, "request_invalid", "the input is not storable JSON", problems)
    reuse, input = await _run_from(server, stored, body)
    started = await _start(server, stored.document, input, stored=stored, reuse=reuse)
    return await _answer(server, started.handle, wait, started)


@router.get("")
async def list_executions(
    server: ServerDep,
    workflow_id: Annotated[str | None, Query(max_length=64, pattern=ID_PATTERN)] = None,
    status: ExecutionStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> ExecutionPage:
    """Newest first."""
    found, total = await server.executions.find(
        workflow_id=workflow_id,
        status=status.value if status else None,
        limit=limit,
        offset=offset,
    )
    items = [ExecutionSummaryPublic.model_validate(s.model_dump()) for s in found]
    return ExecutionPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/{execution_id}", response_model=ExecutionPublic)
async def get_execution(execution_id: ExecutionId, server: ServerDep) -> Response:
    """With every node that has settled so far."""
    return await _stored(server, execution_id)


@router.delete("/{execution_id}", status_code=204)
async def delete_execution(execution_id: ExecutionId, server: ServerDep) -> None:
    status = await server.executions.status(execution_id)
    if status is None:
        raise _unknown(execution_id)
    if not status.is_terminal or execution_id in server.running:
        raise ApiError(409, "conflict", "the execution is still running; cancel it first")
    for deleted in await server.executions.delete(execution_id):  # with its sub-workflows
        await server.files.remove_execution(deleted)


@router.post(
    "/{execution_id}/cancel",
    status_code=202,
    response_model=RunAccepted | ExecutionPublic,
    responses=FINISHED,
)
async def cancel_execution(
    execution_id: ExecutionId, server: ServerDep, wait: Wait = False
) -> RunAccepted | Response:
    """Running nodes are cancelled at once; nodes yet to start never run."""
    handle = server.running.get(execution_id)
    if handle is None or handle.done():
        raise await _not_cancellable(server, execution_id)
    handle.cancel()
    return await _answer(server, handle, wait)


@router.post(
    "/{execution_id}/retry",
    status_code=202,
    response_model=RunAccepted | ExecutionPublic,
    responses=FINISHED,
)
async def retry_execution(
    execution_id: ExecutionId, server: ServerDep, wait: Wait = False
) -> RunAccepted | Response:
    """Run a failed or cancelled execution again as a new execution of the same workflow
    version: nodes that succeeded keep their outputs, the rest run."""
    record = await _record(server, execution_id)
    if record.status is ExecutionStatus.SUCCEEDED:
        raise ApiError(409, "conflict", "the execution succeeded; there is nothing to retry")
    if not record.status.is_terminal:
        raise ApiError(409, "conflict", "the execution is still running")
    document, stored = await _ran(server, record)
    reuse = reusable(await server.compile_off_loop(document), record.nodes)
    started = await _start(
        server,
        document,
        record.input,
        stored=stored,
        reuse=reuse,
        mode=ExecutionMode.RETRY,
        retry_of=record.execution_id,
    )
    return await _answer(server, started.handle, wait, started)


async def _known(execution_id: ExecutionId, server: ServerDep) -> str:
    """A dependency, so that an unknown id is a 404: once the stream's generator runs, the
    response has started as a 200."""
    if await server.executions.status(execution_id) is None:
        raise _unknown(execution_id)
    return execution_id


EVENT_SCHEMA = {
    "type": "object",
    "properties": {"data": {"type": "string"}, "event": {"type": "string"},
                   "id": {"type": "string"}},
}  # fmt: skip


@router.get(
    "/{execution_id}/stream",
    status_code=200,
    response_class=EventStream,
    responses={
        200: {"content": {"text/event-stream": {"itemSchema": EVENT_SCHEMA}}},
        404: {"description": "No such execution."},
    },
)
async def stream_execution(
    execution_id: Annotated[str, Depends(_known)],
    server: ServerDep,
    after: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="Start after this sequence number.")
    ] = 0,
    last_event_id: Annotated[
        int | None,
        Header(ge=0, le=MAX_OFFSET, description="Resume after this event (wins over after)."),
    ] = None,
) -> EventStream:
    """Server-Sent Events: what is stored, then live events; ends after the final event.
    Each event's ``id`` is its sequence number and its ``event`` its type; a ``: ping``
    comment keeps a quiet stream open."""
    start = after if last_event_id is None else last_event_id
    events = _events(server, execution_id, start)
    return EventStream(events, keepalive_s=server.settings.stream_keepalive_s)


async def _events(
    server: Server, execution_id: str, after: int
) -> AsyncGenerator[ServerSentEvent, None]:
    """``aclosing``: closing this generator closes the watch, and so its bus subscription."""
    async with aclosing(watch(server.executions, server.bus, execution_id, after=after)) as events:
        async for event in events:
            yield ServerSentEvent(data=event, event=event["type"], id=str(event["seq"]))


# -- helpers ------------------------------------------------------------------------------


async def _start(
    server: Server, document: dict[str, Any], input: Any, **options: Any
) -> StartedRun:
    if not server.accepting:
        raise ApiError(503, "unavailable", "the server is shutting down")
    return await server.start_run(document, input, **options)


async def _answer(
    server: Server, handle: ExecutionHandle, wait: bool, started: StartedRun | None = None
) -> RunAccepted | Response:
    """Once the execution is recorded: at once (202), or with ``wait`` when it has ended,
    with the finished execution as stored (200). For a run this server started, that is
    built from memory once the writer has committed it (the same as a later GET);
    otherwise (or if the server stopped writing meanwhile: it resumes on the next start)
    it is read back. An execution whose updates could not be stored answers 500
    ``not_stored``, not as if they had been."""
    execution_id = handle.execution_id
    if not wait:
        if started is not None:
            await _written(execution_id, started.recorded)
        return RunAccepted(execution_id=execution_id)
    result = await handle.wait()
    await _written(execution_id, server.writer.flush(execution_id))
    if started is None or not server.writer.writing:
        return await _stored(server, execution_id)
    await _written(execution_id, started.recorded)  # done by now
    return _execution_answer(started.record(result))


async def _written(execution_id: str, storing: Awaitable[None]) -> None:
    """Await ``storing``; 500 ``not_stored`` if the execution's updates could not be."""
    try:
        await storing
    except NotStored as exc:
        raise ApiError(
            500, FailureKind.NOT_STORED, exc.message, {"execution_id": execution_id}
        ) from None


async def _stored(server: Server, execution_id: str) -> Response:
    """As stored, once everything the execution has done so far is written (an execution
    that could not be stored shows as it was recorded: failed, saying why)."""
    with suppress(NotStored):
        await server.writer.flush(execution_id)
    return _execution_answer(await _record(server, execution_id))


def _execution_answer(record: ExecutionRecord) -> Response:
    """``ExecutionPublic`` (what the OpenAPI document shows), serialised straight from the
    record: the data is ours and already in that shape, so it is not validated again."""
    return Response(to_json(record.to_json()), media_type="application/json")


async def _record(server: Server, execution_id: str) -> ExecutionRecord:
    record = await server.executions.get(execution_id)
    if record is None:
        raise _unknown(execution_id)
    return record


def _unknown(execution_id: str) -> NotFound:
    return NotFound(f"no execution with id {execution_id!r}")


async def _run_from(
    server: Server, stored: StoredWorkflow, body: RunRequest
) -> tuple[dict[str, NodeResult] | None, Any]:
    """What a run reuses from an earlier execution, and its input."""
    if body.from_execution is None:
        if body.start_at:
            raise InputInvalid("start_at needs from_execution: the execution to reuse from")
        return None, body.input
    earlier = await _record(server, body.from_execution)
    if earlier.workflow_id != stored.id:
        raise InputInvalid(f"execution {earlier.execution_id!r} did not run this workflow")
    plan = await server.compile_off_loop(stored.document)
    reuse = reusable(plan, earlier.nodes, body.start_at or ())
    input = body.input if "input" in body.model_fields_set else earlier.input
    return reuse, input


async def _ran(
    server: Server, record: ExecutionRecord
) -> tuple[dict[str, Any], StoredWorkflow | None]:
    """The document an execution ran, and its stored workflow at that version."""
    if record.workflow_id is not None and record.workflow_version is not None:
        stored = await server.workflows.get(record.workflow_id)
        version = await server.workflows.version(record.workflow_id, record.workflow_version)
        if stored is not None and version is not None:
            at_version = {"version": version.version, "document": version.document}
            return version.document, stored.model_copy(update=at_version)
    elif (document := await server.executions.document(record.execution_id)) is not None:
        return document, None
    raise ApiError(409, "conflict", "the workflow this execution ran is no longer stored")


async def _not_cancellable(server: Server, execution_id: str) -> Exception:
    status = await server.executions.status(execution_id)
    if status is None:
        return _unknown(execution_id)
    if status.is_terminal:
        return ApiError(409, "conflict", f"the execution has already {_ended(status)}")
    return ApiError(
        409,
        "conflict",
        "the execution is not running in this server (a sub-workflow's execution stops "
        "with its parent's)",
    )


def _ended(status: ExecutionStatus) -> str:
    return "been cancelled" if status is ExecutionStatus.CANCELLED else str(status.value)
