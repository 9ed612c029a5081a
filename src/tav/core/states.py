"""The one state vocabulary for executions and nodes.

An execution is ``queued`` → ``running`` → one of the terminal states. A node is
``pending`` → ``running`` (↔ ``retrying``) → a terminal state, or goes straight from
``pending`` to ``skipped`` or ``cancelled``. The three "did not succeed" states mean
different things and are never confused:

- ``failed``: the node's own code raised (or timed out);
- ``skipped``: its branch was not taken or an upstream node produced nothing for it;
- ``cancelled``: stopped from outside — by the user or by a failing sibling under
  ``on_error: stop``.

``EXECUTION_TRANSITIONS`` and ``NODE_TRANSITIONS`` are the only moves there are: the
executor changes an execution's or a node's state in one place each, which refuses any
other move as a bug (``tav.core.errors.InternalError``). A node an execution resumes
with starts in the state it was stored in (always a terminal one).
"""

from __future__ import annotations

from enum import StrEnum


class ExecutionStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in EXECUTION_TERMINAL


class NodeStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in NODE_TERMINAL


EXECUTION_TERMINAL = frozenset(
    {ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED}
)
NODE_TERMINAL = frozenset(
    {NodeStatus.SUCCEEDED, NodeStatus.FAILED, NodeStatus.SKIPPED, NodeStatus.CANCELLED}
)

EXECUTION_TRANSITIONS: dict[ExecutionStatus, frozenset[ExecutionStatus]] = {
    ExecutionStatus.QUEUED: frozenset({ExecutionStatus.RUNNING, ExecutionStatus.CANCELLED}),
    ExecutionStatus.RUNNING: EXECUTION_TERMINAL,
    ExecutionStatus.SUCCEEDED: frozenset(),
    ExecutionStatus.FAILED: frozenset(),
    ExecutionStatus.CANCELLED: frozenset(),
}

NODE_TRANSITIONS: dict[NodeStatus, frozenset[NodeStatus]] = {
    NodeStatus.PENDING: frozenset(
        {NodeStatus.RUNNING, NodeStatus.SUCCEEDED, NodeStatus.SKIPPED, NodeStatus.CANCELLED}
    ),
    NodeStatus.RUNNING: frozenset(
        {NodeStatus.RETRYING, NodeStatus.SUCCEEDED, NodeStatus.FAILED, NodeStatus.CANCELLED}
    ),
    NodeStatus.RETRYING: frozenset({NodeStatus.RUNNING, NodeStatus.CANCELLED}),
    NodeStatus.SUCCEEDED: frozenset(),
    NodeStatus.FAILED: frozenset(),
    NodeStatus.SKIPPED: frozenset(),
    NodeStatus.CANCELLED: frozenset(),
}
