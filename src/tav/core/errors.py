"""The errors TAV Engine raises, classified by who must act.

::

    TavError                     anything raised on purpose by TAV Engine
    ├── UserError                the user must act: fix the workflow or the input.
    │   │                        Never retried; the API answers 4xx.
    │   ├── WorkflowInvalid      a workflow document with problems (all of them, located)
    │   ├── InputInvalid         run input or a value that is not acceptable
    │   ├── NotFound             a workflow, node type or execution that does not exist
    │   ├── Conflict             a request the stored state refuses: a stale version, an
    │   │                        execution still running (the API answers 409)
    │   ├── Gone                 what was asked for existed and no longer does: a resume
    │   │                        link used, expired or cancelled (the API answers 410)
    │   └── Forbidden            the caller's role does not allow it: an admin demoting the
    │                            owner, an editor managing users (the API answers 403)
    ├── Unavailable              this process takes no new work: it is shutting down (503)
    ├── NotStored                what an execution did could not be stored: the database
    │                            refused it, and the operator must act (500)
    ├── NodeError                one node did not produce its outputs; carries ``type``
    │   │                        (a stable code), ``retryable`` and ``retry_after``
    │   ├── TemplateError        a param template that does not render (not retryable)
    │   ├── ParamsInvalid        params that do not validate once rendered (not retryable)
    │   └── OperationalError     transient trouble: network, 5xx, rate limit (retryable)
    │       └── NodeTimeout      the node ran longer than its ``timeout_s``
    └── InternalError            a bug of TAV Engine: a broken invariant, such as an illegal
                                 state transition. Nobody can act on it but a developer.

Anything else raised by node code is an *unexpected* error — most likely a bug. The
engine's one error boundary (``tav.engine.step``) logs it with its traceback and
records it as type ``exception``; it is retried like an operational error, because a
library's unexpected exception is as often transient as not.

An execution that fails carries an ``ErrorInfo`` too. When one of its nodes failed it
is that node's error; otherwise its ``type`` is a ``FailureKind``, the closed set of
reasons the engine and its host fail or end an execution for:

::

    cancelled        stopped by a person or a program (an execution ``cancelled``)
    crashed          the process running it stopped before it finished
    resume_failed    interrupted, and it could not be resumed (its workflow is gone, ...)
    not_stored       its updates could not be stored, so it was stopped (also the type
                     of a node whose result could not be stored)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class TavError(Exception):
    """Base of every error TAV Engine raises on purpose."""


class UserError(TavError):
    """The user must act; retrying cannot help."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found in a workflow, with where it is.

    ``node`` is a node id, ``edge`` an index into ``edges``, ``field`` a dotted path
    inside that node, edge or the document (``params.url``, ``to``, ``name``).
    """

    message: str
    node: str | None = None
    edge: int | None = None
    field: str | None = None

    @property
    def location(self) -> str:
        parts: list[str] = []
        if self.node is not None:
            parts.append(f"node '{self.node}'")
        if self.edge is not None:
            parts.append(f"edge #{self.edge}")
        if self.field:
            parts.append(self.field)
        return ", ".join(parts) or "workflow"

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        return {
            "location": self.location,
            "node": self.node,
            "edge": self.edge,
            "field": self.field,
            "message": self.message,
        }


class WorkflowInvalid(UserError):
    """A workflow document that cannot run; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem], *, source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        where = f" ({source})" if source else ""
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid workflow{where}: {len(problems)} problem(s)\n{lines}")


class InputInvalid(UserError):
    """Run input or another user-supplied value that is not acceptable."""


class NotFound(UserError):
    """A workflow, node type or execution that does not exist."""


class Conflict(UserError):
    """A request that the stored state refuses: the workflow changed since the version
    the caller based its save on, the execution is still running, ...; ``details`` says
    with what (JSON data)."""

    def __init__(self, message: str, details: Mapping[str, object] | None = None) -> None:
        super().__init__(message)
        self.details = dict(details) if details is not None else None


class Gone(UserError):
    """What the request names existed, and is over: a wait already decided, timed out or
    cancelled, whose link therefore works no more."""


class Forbidden(UserError):
    """What the caller asks is not theirs to do: their role does not allow it, or nobody's
    does (disabling the owner)."""


class Unavailable(TavError):
    """This process takes no new work now (it is shutting down); the same request may
    succeed later, or on another server."""


class NotStored(TavError):
    """Updates of an execution that could not be stored. ``recorded``: the execution is
    recorded all the same, as failed (with the updates that could be stored)."""

    def __init__(self, message: str, *, execution_id: str | None = None, recorded: bool = False):
        super().__init__(message)
        self.message, self.execution_id, self.recorded = message, execution_id, recorded


class NodeError(TavError):
    """One node did not produce its outputs.

    Node code raises it (or a subclass) for failures it understands. ``type`` is a stable,
    machine-readable code that ends up in the node result; ``retryable`` says whether
    trying again may help; ``retry_after`` (seconds) overrides the backoff delay, e.g. from
    an HTTP ``Retry-After`` header.
    """

    type: str = "node_error"
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        type: str | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if type is not None:
            self.type = type
        if retryable is not None:
            self.retryable = retryable
        self.retry_after = retry_after


class TemplateError(NodeError):
    """A template that does not render: syntax, an undefined variable, unsafe access."""

    type = "template_error"
    retryable = False


class ParamsInvalid(NodeError):
    """Rendered params that do not match the node type's params model."""

    type = "params_invalid"
    retryable = False


class OperationalError(NodeError):
    """Transient trouble outside the workflow's control; worth retrying."""

    type = "operational_error"
    retryable = True


class NodeTimeout(OperationalError):
    """The node ran longer than its ``timeout_s``."""

    type = "timeout"


class InternalError(TavError):
    """A bug of TAV Engine: an invariant that does not hold (an illegal state transition,
    say). Never caught to carry on; it ends what raised it, with its traceback logged."""


class FailureKind(StrEnum):
    """Why the engine or its host ended an execution that no node's error explains: the
    ``type`` of its ``ErrorInfo`` (stored and answered as the value)."""

    CANCELLED = "cancelled"
    """Stopped by a person or a program; the execution is ``cancelled``."""
    CRASHED = "crashed"
    """The process running it stopped before it finished; a retry runs the rest."""
    RESUME_FAILED = "resume_failed"
    """Interrupted, and it could not be resumed (its workflow is no longer stored, ...)."""
    NOT_STORED = "not_stored"
    """Its updates could not be stored: it was stopped, and recorded as failed. (A node
    whose result cannot be stored is recorded as failed with this type too.)"""
