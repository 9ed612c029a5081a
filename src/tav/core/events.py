"""Events: every state change of an execution, in order.

Events are the source of truth for everything that watches an execution — the store,
the live stream, logs and the CLI's progress view all subscribe to them. ``seq`` is the
event's 1-based position in its execution; consumers resume with it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, TypeAdapter

from tav.core.model import Model
from tav.core.results import ErrorInfo
from tav.core.states import CancelReason, ExecutionStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Event(Model):
    model_config = ConfigDict(frozen=True)

    seq: int
    execution_id: str
    at: datetime = Field(default_factory=utcnow)


class _NodeEvent(_Event):
    node_id: str


class ExecutionStarted(_Event):
    type: Literal["execution.started"] = "execution.started"
    workflow: str
    parent_execution_id: str | None = None


class NodeStarted(_NodeEvent):
    type: Literal["node.started"] = "node.started"
    attempt: int = 1


class NodeProgress(_NodeEvent):
    """Something a running node wants watchers to see now, e.g. LLM tokens."""

    type: Literal["node.progress"] = "node.progress"
    data: dict[str, Any]


class NodeRetrying(_NodeEvent):
    type: Literal["node.retrying"] = "node.retrying"
    attempt: int = Field(description="The attempt that failed.")
    delay_s: float
    error: ErrorInfo


class NodeCompleted(_NodeEvent):
    type: Literal["node.completed"] = "node.completed"
    attempts: int
    ports: list[str] = Field(description="Output ports that carry a value.")
    duration_ms: float | None = None
    pinned: bool = False


class NodeFailed(_NodeEvent):
    type: Literal["node.failed"] = "node.failed"
    attempts: int
    error: ErrorInfo
    duration_ms: float | None = None


class NodeSkipped(_NodeEvent):
    type: Literal["node.skipped"] = "node.skipped"
    reason: str


class NodeWaiting(_NodeEvent):
    """The node parked its execution: it waits for a person, a timer or a resume call."""

    type: Literal["node.waiting"] = "node.waiting"
    mode: str = Field(description="What it waits for: timer, webhook or approval.")
    due_at: datetime | None = Field(
        None, description="When its timer fires, or its timeout ends the wait."
    )


class NodeCancelled(_NodeEvent):
    type: Literal["node.cancelled"] = "node.cancelled"
    reason: CancelReason = Field(
        CancelReason.CANCELLED,
        description="Why: the execution was cancelled, a node upstream of this one failed "
        "(it never ran), or another node failed.",
    )


class _ExecutionEnded(_Event):
    status: ExecutionStatus
    duration_ms: float
    error: ErrorInfo | None = None


class ExecutionCompleted(_ExecutionEnded):
    type: Literal["execution.completed"] = "execution.completed"


class ExecutionFailed(_ExecutionEnded):
    type: Literal["execution.failed"] = "execution.failed"


class ExecutionCancelled(_ExecutionEnded):
    type: Literal["execution.cancelled"] = "execution.cancelled"


class ExecutionWaiting(_ExecutionEnded):
    """Every node that could run has settled, and some wait: the execution is stored as
    ``waiting`` and nothing runs it until a decision resumes it (its events go on from
    the next ``seq`` then)."""

    type: Literal["execution.waiting"] = "execution.waiting"


Event = Annotated[
    ExecutionStarted
    | NodeStarted
    | NodeProgress
    | NodeRetrying
    | NodeCompleted
    | NodeFailed
    | NodeSkipped
    | NodeWaiting
    | NodeCancelled
    | ExecutionCompleted
    | ExecutionFailed
    | ExecutionCancelled
    | ExecutionWaiting,
    Field(discriminator="type"),
]
"""Any event; parse stored or received data with ``EVENT_ADAPTER.validate_python``."""

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event, config=ConfigDict(defer_build=True))

FINAL_EVENT_TYPES = frozenset(
    {"execution.completed", "execution.failed", "execution.cancelled", "execution.waiting"}
)
"""Events after which nothing more happens until the execution is resumed (if ever): a
live stream ends with one of them."""
RESUMABLE_EVENT_TYPES = frozenset({"execution.waiting"})
"""Final events after which more may come: a waiting execution resumes, and its events go
on from the next ``seq``."""


def event_to_dict(event: Event) -> dict[str, Any]:
    """An event as JSON-ready data."""
    return event.model_dump(mode="json")
