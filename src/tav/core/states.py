"""The one state vocabulary for executions and nodes.

An execution is ``queued`` → ``running`` → one of the terminal states, or ``waiting``:
parked on a person, a timer or a resume call, with no task, memory or worker of its own,
until a decision puts it back to ``queued`` (or it is cancelled). A node is ``pending`` →
``running`` (↔ ``retrying``) → a terminal state, or goes straight from ``pending`` to
``skipped`` or ``cancelled``; a node that parks its execution is ``waiting`` until it is
decided (it then succeeds or fails without running again) or cancelled. The three "did
not succeed" states mean different things and are never confused:

- ``failed``: the node's own code raised (or timed out);
- ``skipped``: its branch was not taken or an upstream node produced nothing for it;
- ``cancelled``: stopped, or never started, because the execution stopped — cancelled by
  the user, or failed under ``on_error: stop``. Its result's ``reason``
  (``CancelReason``) says which: ``cancelled``, ``upstream_failed`` (a node it depends
  on failed: it never ran) or ``sibling_failed`` (a node on another branch failed).

``EXECUTION_TRANSITIONS`` and ``NODE_TRANSITIONS`` are the only moves there are: the
executor changes an execution's or a node's state in one place each, which refuses any
other move as a bug (``tav.core.errors.InternalError``). A node an execution resumes
with starts in the state it was stored in (a terminal one, or ``waiting``).
"""

from __future__ import annotations

from enum import StrEnum


class ExecutionStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in EXECUTION_TERMINAL

    @property
    def at_rest(self) -> bool:
        """Nothing runs it now: it has ended, or it waits (for a decision, a timer)."""
        return self is ExecutionStatus.WAITING or self in EXECUTION_TERMINAL


class NodeStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    RETRYING = "retrying"
    WAITING = "waiting"
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


class CancelReason(StrEnum):
    """Why a node is ``cancelled``: stored with its result and its ``node.cancelled``
    event (as the value), so a reader can say "not run (upstream failed)" rather than
    "cancelled" when nobody cancelled anything."""

    CANCELLED = "cancelled"
    """The execution was cancelled (by a person or a program) before the node ended."""
    UPSTREAM_FAILED = "upstream_failed"
    """A node it depends on failed (directly, or through nodes cancelled for it), and the
    execution stopped on a failure (``on_error: stop``): it never ran."""
    SIBLING_FAILED = "sibling_failed"
    """A node it does not depend on failed under ``on_error: stop``: it was stopped while
    running, or never started."""


NODE_TERMINAL = frozenset(
    {NodeStatus.SUCCEEDED, NodeStatus.FAILED, NodeStatus.SKIPPED, NodeStatus.CANCELLED}
)

EXECUTION_TRANSITIONS: dict[ExecutionStatus, frozenset[ExecutionStatus]] = {
    ExecutionStatus.QUEUED: frozenset({ExecutionStatus.RUNNING, ExecutionStatus.CANCELLED}),
    ExecutionStatus.RUNNING: EXECUTION_TERMINAL | {ExecutionStatus.WAITING},
    ExecutionStatus.WAITING: frozenset({ExecutionStatus.QUEUED, ExecutionStatus.CANCELLED}),
    ExecutionStatus.SUCCEEDED: frozenset(),
    ExecutionStatus.FAILED: frozenset(),
    ExecutionStatus.CANCELLED: frozenset(),
}

NODE_TRANSITIONS: dict[NodeStatus, frozenset[NodeStatus]] = {
    NodeStatus.PENDING: frozenset(
        {NodeStatus.RUNNING, NodeStatus.SUCCEEDED, NodeStatus.SKIPPED, NodeStatus.CANCELLED}
    ),
    NodeStatus.RUNNING: frozenset(
        {
            NodeStatus.RETRYING,
            NodeStatus.WAITING,
            NodeStatus.SUCCEEDED,
            NodeStatus.FAILED,
            NodeStatus.CANCELLED,
        }
    ),
    NodeStatus.RETRYING: frozenset({NodeStatus.RUNNING, NodeStatus.CANCELLED}),
    # Running again: a node that parked with state, its wait decided (``ctx.resumed``).
    NodeStatus.WAITING: frozenset(
        {NodeStatus.RUNNING, NodeStatus.SUCCEEDED, NodeStatus.FAILED, NodeStatus.CANCELLED}
    ),
    NodeStatus.SUCCEEDED: frozenset(),
    NodeStatus.FAILED: frozenset(),
    NodeStatus.SKIPPED: frozenset(),
    NodeStatus.CANCELLED: frozenset(),
}
