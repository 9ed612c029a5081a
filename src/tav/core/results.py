"""What an execution leaves behind: per-node results and the execution result.

``ExecutionResult.to_json()`` is the shape ``tav run --json`` prints and the API returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field

from tav.core.model import Model
from tav.core.states import CancelReason, ExecutionStatus, NodeStatus
from tav.core.values import storable_text


class ErrorInfo(Model):
    """A failure as data: a stable ``type`` code and a message for people."""

    model_config = ConfigDict(frozen=True)

    type: str
    message: Annotated[str, AfterValidator(storable_text)]
    """Surrogates replaced: a message may quote a value that cannot be stored as it is."""
    retryable: bool = Field(False, exclude=True)


class NodeResult(Model):
    """The settled result of one node in one execution."""

    node_id: str
    status: NodeStatus
    attempts: int = 0
    outputs: dict[str, Any] = Field(default_factory=dict)
    error: ErrorInfo | None = None
    reason: CancelReason | None = Field(
        None, description="Why a cancelled node was cancelled; None for any other status."
    )
    pinned: bool = False
    reused: bool = Field(False, description="Outputs taken from an earlier execution.")
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: float | None = None
    usage: dict[str, int] | None = Field(
        None, description="Resources the node used, e.g. LLM tokens (input_tokens, ...)."
    )

    def to_json(self) -> dict[str, Any]:
        data = self.model_dump(
            mode="json", exclude={"node_id", "reason", "pinned", "reused", "usage"}
        )
        if self.reason is not None:
            data["reason"] = self.reason.value
        if self.usage:
            data["usage"] = dict(self.usage)
        if self.pinned:
            data["pinned"] = True
        if self.reused:
            data["reused"] = True
        return data


class ExecutionResult(Model):
    """The result of one execution: its status, output and every node's result."""

    execution_id: str
    workflow: str
    status: ExecutionStatus
    error: ErrorInfo | None = None
    output: Any = None
    started_at: datetime
    finished_at: datetime | None = None
    duration_ms: float | None = None
    nodes: dict[str, NodeResult] = Field(default_factory=dict)
    parent_execution_id: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status is ExecutionStatus.SUCCEEDED

    @property
    def usage(self) -> dict[str, int]:
        """Every node's usage, summed per counter."""
        return sum_usage(node.usage for node in self.nodes.values())

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape (``tav run --json``); ``usage`` when a node used any."""
        head = self.model_dump(mode="json", exclude={"nodes", "parent_execution_id"})
        head["nodes"] = {node_id: result.to_json() for node_id, result in self.nodes.items()}
        usage = self.usage
        if usage:
            head["usage"] = usage
        return head


def sum_usage(usages: Iterable[Mapping[str, int] | None]) -> dict[str, int]:
    total: dict[str, int] = {}
    for usage in usages:
        for key, count in (usage or {}).items():
            total[key] = total.get(key, 0) + count
    return total
