"""Executions: start a stored workflow, list, get, cancel, retry, delete, and watch live.

``runs`` holds the one route under ``/workflows`` (starting a run); ``router`` the rest.
The use cases are ``tav.app.executions.Executions``'s; these routes translate HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Response
from fastapi.sse import ServerSentEvent
from pydantic import AwareDatetime
from pydantic_core import to_json

from tav.api.access import requires
from tav.api.deps import CurrentPrincipal, ExecutionsDep, SettingsDep
from tav.api.documents import value_problems
from tav.api.errors import ApiError
from tav.api.openapi import EVENT_STREAM_ITEM
from tav.api.schemas.executions import (
    ID_PATTERN,
    ExecutionPage,
    ExecutionPublic,
    ExecutionSummaryPublic,
    RunAccepted,
    RunRequest,
)
from tav.api.schemas.waits import WaitPublic
from tav.api.sse import EventStream
from tav.app.executions import Executions, StartedRun
from tav.app.queued import QueuedHandle
from tav.core.modes import ExecutionMode
from tav.core.roles import Role
from tav.core.states import ExecutionStatus
from tav.core.waits import Decider
from tav.engine.executor import ExecutionHandle
from tav.storage.executions import ExecutionRecord

router = APIRouter(
    prefix="/executions", tags=["executions"], dependencies=[requires(Role.viewer, Role.editor)]
)
runs = APIRouter(prefix="/workflows", tags=["executions"], dependencies=[requires(Role.editor)])

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
    executions: ExecutionsDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    body: Annotated[RunRequest | None, Body()] = None,
    wait: Wait = False,
) -> RunAccepted | Response:
    """Start the stored workflow; with ``from_execution`` (and ``start_at``), reuse that
    execution's settled outputs for every node that does not run again."""
    body = body or RunRequest()
    if body.input is not None:
        max_bytes = settings.max_body_bytes
        problems = value_problems(body.input, max_bytes=max_bytes, location="body.input")
        if problems:
            raise ApiError(422, "request_invalid", "the input is not storable JSON", problems)
    started = await executions.start(
        workflow_id,
        body.input,
        from_execution=body.from_execution,
        start_at=body.start_at or (),
        same_input="input" not in body.model_fields_set,
        mode=body.mode,
        started_by=principal.user,
    )
    return await _answer(executions, started.handle, wait, started)


@router.get("")
async def list_executions(
    executions: ExecutionsDep,
    principal: CurrentPrincipal,
    workflow_id: Annotated[str | None, Query(max_length=64, pattern=ID_PATTERN)] = None,
    status: ExecutionStatus | None = None,
    mode: ExecutionMode | None = None,
    started_after: Annotated[
        AwareDatetime | None, Query(description="Only those started at or after this time.")
    ] = None,
    started_before: Annotated[
        AwareDatetime | None, Query(description="Only those started before this time.")
    ] = None,
    decidable: Annotated[
        Literal["me"] | None,
        Query(
            description="`me`: only the waiting executions with a wait the caller may "
            "decide now (`may_decide`) and has not approved already: what waits for them."
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> ExecutionPage:
    """Newest first, of every workflow unless ``workflow_id`` names one."""
    asking = Decider(member=principal.user, role=principal.role)
    found, total = await executions.find(
        decidable_by=asking if decidable == "me" else None,
        workflow_id=workflow_id,
        status=status,
        mode=mode,
        started_after=started_after,
        started_before=started_before,
        limit=limit,
        offset=offset,
    )
    items = [ExecutionSummaryPublic.model_validate(s.model_dump()) for s in found]
    await _with_waits(executions, items, asking)
    not_kept, last = await executions.not_kept(workflow_id)
    return ExecutionPage(
        items=items,
        total=total,
        limit=limit,
        offset=offset,
        successes_not_kept=not_kept,
        last_success_not_kept_at=last,
    )


async def _with_waits(
    executions: Executions, items: list[ExecutionSummaryPublic], asking: Decider
) -> None:
    """Add to each waiting execution what it waits for (as ``asking`` sees it)."""
    waiting = [item for item in items if item.status is ExecutionStatus.WAITING]
    if not waiting or executions.waits is None:
        return
    found = await executions.waits.of([item.execution_id for item in waiting])
    for item in waiting:
        records = found.get(item.execution_id, [])
        item.waits = [
            WaitPublic.of(record, asking) for record in records if record.status == "open"
        ]


@router.get("/{execution_id}", response_model=ExecutionPublic)
async def get_execution(execution_id: ExecutionId, executions: ExecutionsDep) -> Response:
    """With every node that has settled so far."""
    return _execution_answer(await executions.get(execution_id))


@router.delete("/{execution_id}", status_code=204)
async def delete_execution(execution_id: ExecutionId, executions: ExecutionsDep) -> None:
    await executions.delete(execution_id)  # with its sub-executions and their files


@router.post(
    "/{execution_id}/cancel",
    status_code=202,
    response_model=RunAccepted | ExecutionPublic,
    responses=FINISHED,
)
async def cancel_execution(
    execution_id: ExecutionId, executions: ExecutionsDep, wait: Wait = False
) -> RunAccepted | Response:
    """Running nodes are cancelled at once; nodes yet to start never run."""
    handle = await executions.cancel(execution_id)
    return await _answer(executions, handle, wait)


@router.post(
    "/{execution_id}/retry",
    status_code=202,
    response_model=RunAccepted | ExecutionPublic,
    responses=FINISHED,
)
async def retry_execution(
    execution_id: ExecutionId,
    executions: ExecutionsDep,
    principal: CurrentPrincipal,
    wait: Wait = False,
) -> RunAccepted | Response:
    """Run a failed or cancelled execution again as a new execution of the same workflow
    version: nodes that succeeded keep their outputs, the rest run."""
    started = await executions.retry(execution_id, started_by=principal.user)
    return await _answer(executions, started.handle, wait, started)


async def _known(execution_id: ExecutionId, executions: ExecutionsDep) -> str:
    """A dependency, so that an unknown id is a 404: once the stream's generator runs, the
    response has started as a 200."""
    await executions.status(execution_id)
    return execution_id


@router.get(
    "/{execution_id}/stream",
    status_code=200,
    response_class=EventStream,
    responses={
        200: {"content": {"text/event-stream": {"itemSchema": EVENT_STREAM_ITEM}}},
        404: {"description": "No such execution."},
    },
)
async def stream_execution(
    execution_id: Annotated[str, Depends(_known)],
    executions: ExecutionsDep,
    settings: SettingsDep,
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
    events = _events(executions, execution_id, start)
    return EventStream(events, keepalive_s=settings.stream_keepalive_s)


async def _events(
    executions: Executions, execution_id: str, after: int
) -> AsyncGenerator[ServerSentEvent, None]:
    """``aclosing``: closing this generator closes the watch, and so its bus subscription."""
    async with aclosing(executions.watch(execution_id, after=after)) as events:
        async for event in events:
            yield ServerSentEvent(data=event, event=event["type"], id=str(event["seq"]))


async def _answer(
    executions: Executions,
    handle: ExecutionHandle | QueuedHandle,
    wait: bool,
    started: StartedRun | None = None,
) -> RunAccepted | Response:
    """Once the execution is recorded: at once (202), or with ``wait`` when it has ended,
    with the finished execution as stored (200). An execution whose updates could not be
    stored answers 500 ``not_stored``, not as if they had been."""
    if wait:
        return _execution_answer(await executions.finished(handle, started))
    if started is not None:
        await started.recorded
    return RunAccepted(execution_id=handle.execution_id)


def _execution_answer(record: ExecutionRecord) -> Response:
    """``ExecutionPublic`` (what the OpenAPI document shows), serialised straight from the
    record: the data is ours and already in that shape, so it is not validated again."""
    return Response(to_json(record.to_json()), media_type="application/json")
