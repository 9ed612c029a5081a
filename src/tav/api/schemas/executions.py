from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from tav.api.schemas.waits import WaitPublic
from tav.core.modes import ExecutionMode, RunRequestMode
from tav.core.roles import UserRef
from tav.core.states import CancelReason, ExecutionStatus, NodeStatus
from tav.core.workflow import KeepSuccesses

ID_PATTERN = r"^[A-Za-z0-9_.-]+$"
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=ID_PATTERN)]


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: Any = Field(
        None,
        description="The trigger payload. With from_execution and no input, that "
        "execution's input.",
    )
    from_execution: Identifier | None = Field(
        None,
        description="Run from node: an earlier execution of this workflow whose settled "
        "outputs are reused for every node that does not run again.",
    )
    start_at: list[Annotated[str, Field(max_length=200)]] | None = Field(
        None,
        max_length=1000,
        description="Run from node: the nodes that run again, with everything downstream "
        "of them (needs from_execution). Without it, the nodes that did not succeed run "
        "again.",
    )
    mode: RunRequestMode = Field(
        ExecutionMode.API,
        description="Where the run was started: `editor` for the editor's Run and run from "
        "a node; every other mode is the server's to record.",
    )


class RunAccepted(BaseModel):
    """An execution that was started (or asked to stop) and goes on in the background."""

    model_config = ConfigDict(extra="forbid")

    execution_id: str


class ErrorPublic(BaseModel):
    type: str
    message: str


class NodeRunPublic(BaseModel):
    status: NodeStatus
    attempts: int
    outputs: dict[str, Any]
    error: ErrorPublic | None
    reason: CancelReason | None = Field(
        None,
        description="Present for a cancelled node: why (the execution was cancelled, a node "
        "upstream of it failed, or another node failed).",
    )
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: float | None
    pinned: bool = Field(
        False, description="Present, and true, for outputs pinned in the workflow."
    )
    reused: bool = Field(
        False, description="Present, and true, for outputs taken from an earlier execution."
    )
    usage: dict[str, int] | None = Field(
        None, description="Present when the node used counted resources (LLM tokens)."
    )


class ExecutionSummaryPublic(BaseModel):
    execution_id: str
    workflow: str = Field(description="The workflow's name.")
    workflow_id: str | None
    workflow_version: int | None
    status: ExecutionStatus
    mode: ExecutionMode = Field(
        description="How it started: the API, tav run, a retry, a sub-workflow node or a trigger."
    )
    parent_execution_id: str | None
    retry_of: str | None = Field(
        None, description="For a retry (mode retry): the execution it runs again."
    )
    error: ErrorPublic | None
    started_at: datetime
    finished_at: datetime | None
    duration_ms: float | None
    started_by: UserRef | None = Field(
        None,
        description="Present when a member started it, by hand or with their API key; "
        "absent for triggers (see mode), sub-workflows and the CLI.",
    )
    worker: str | None = Field(
        None, description="Queue mode: the worker that ran it (host:pid); absent otherwise."
    )
    waits: list[WaitPublic] | None = Field(
        None,
        description="In lists, for a waiting execution: what it waits for (its open waits).",
    )


class ExecutionPublic(ExecutionSummaryPublic):
    """The ``tav run --json`` shape, plus where the execution came from and its input."""

    input: Any
    output: Any
    nodes: dict[str, NodeRunPublic] = Field(
        description="Every node that has settled so far, by node id."
    )
    usage: dict[str, int] | None = Field(
        None, description="Present when any node used counted resources: their sum."
    )
    kept: KeepSuccesses = Field(
        "all",
        description="Present for a success of a workflow that keeps less than all of it "
        "(keep_successes): summary, stored without its output, nodes and events; count, "
        "not stored at all (only counted), so it cannot be read back. The answer of a "
        "run that waited has it whole all the same.",
    )


class ExecutionPage(BaseModel):
    items: list[ExecutionSummaryPublic]
    total: int
    limit: int
    offset: int
    successes_not_kept: int = Field(
        0,
        description="Successful executions not in the list because their workflow keeps "
        "only a count of them (of the workflow asked for, or of all).",
    )
    last_success_not_kept_at: datetime | None = Field(
        None, description="When the last of those ended."
    )
