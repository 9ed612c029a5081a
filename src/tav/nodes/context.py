"""The narrow context a node's ``run`` receives.

Node code sees only this: who it is, what arrived on its inputs, the run's trigger payload
and variables, a way to report progress, and the services the host supplies
(``tav.nodes.host``): ``ctx.service(FILES)`` for one its type requires, ``ctx.services``
for the rest — never the executor, the store or a transport.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar

from tav.core.waits import WaitOutcome, WaitRequest

if TYPE_CHECKING:
    from tav.nodes.host import HostServices, Requirement

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Credential:
    """A stored credential, decrypted for the node that uses it while it runs.

    Its secret values are redacted from the execution's outputs, errors, events and logs
    from the moment a node reveals it."""

    id: str
    name: str
    kind: str
    data: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Resumed:
    """What a node that parked with state runs again with (``ctx.resumed``): the state it
    parked with, and the outcome of its wait (``outcome.port``: ``approved``,
    ``rejected``, ``timeout``, ...; ``outcome.value``: the decision; ``outcome.error``:
    the wait failed, e.g. timed out under ``on_timeout: fail``)."""

    state: Mapping[str, Any]
    outcome: WaitOutcome
    seq: int
    """Which wait of the node it was (0: its first)."""


@dataclass(frozen=True, slots=True)
class Arrival:
    """A value that arrived on an input port, and the edge it came along."""

    node: str
    port: str
    value: Any


class Inputs(Mapping[str, Any]):
    """What arrived on a node's input ports: ``inputs[port]`` and ``inputs.arrivals(port)``.

    ``inputs[port]`` is the first value that arrived (in the document's edge order), or
    the list of all of them for a ``many`` port.
    """

    __slots__ = ("_arrivals", "_many")

    def __init__(self, arrivals: dict[str, list[Arrival]], many: frozenset[str]) -> None:
        self._arrivals = arrivals
        self._many = many

    def __getitem__(self, port: str) -> Any:
        arrived = self._arrivals[port]
        if port in self._many:
            return [a.value for a in arrived]
        return arrived[0].value

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrivals)

    def __len__(self) -> int:
        return len(self._arrivals)

    def arrivals(self, port: str = "input") -> list[Arrival]:
        return list(self._arrivals.get(port, ()))


class Parked(BaseException):  # (a signal, as CancelledError is, not an error)
    """Raised by ``ctx.park``: the node waits, and its execution is parked. A
    ``BaseException``, so that node code catching ``Exception`` does not swallow it."""

    def __init__(self, request: WaitRequest) -> None:
        super().__init__(request.mode.value)
        self.request = request
        """What it waits for (with ``state`` and ``rerun`` when it parked with state)."""


class ChildWaits(BaseException):  # (a signal, as Parked is)
    """Raised by a ``WorkflowRunner``'s ``run`` whose run, an execution of its own, parked:
    it is stored ``waiting`` (with its waits and their links) and ends once they are
    decided. ``ctx.run_workflow`` parks the calling node until it has ended; a node
    running many (``core.map``) collects them and parks on them all
    (``tav.core.children``)."""

    def __init__(self, execution_id: str, workflow: str) -> None:
        super().__init__(execution_id)
        self.execution_id = execution_id
        self.workflow = workflow


class WorkflowRunner(Protocol):
    """A workflow loaded and compiled once, to run many times (``ctx.workflow``)."""

    @property
    def name(self) -> str: ...

    async def run(self, input: Any) -> Any:
        """Run it to its end with ``input`` as its trigger payload and return its output;
        raise ``NodeError`` (``subworkflow_failed``) if it does not succeed, or
        ``ChildWaits`` if it parked (only a run that is an execution of its own can).
        Cancelling the caller cancels the run."""
        ...


class NodeContext(Protocol):
    """What a running node may see and do."""

    @property
    def execution_id(self) -> str: ...
    @property
    def node_id(self) -> str: ...
    @property
    def attempt(self) -> int: ...
    @property
    def idempotency_key(self) -> str:
        """Stable across attempts and across a resume after a crash: pass it on to services
        that deduplicate requests, so a node that runs again does not act twice."""
        ...

    @property
    def trigger(self) -> Any: ...
    @property
    def vars(self) -> Mapping[str, Any]: ...
    @property
    def inputs(self) -> Inputs: ...
    @property
    def nodes(self) -> Mapping[str, Mapping[str, Any]]:
        """The outputs of the execution's settled nodes by id and port, as templates see
        them (``nodes.<id>.<port>``)."""
        ...

    @property
    def log(self) -> logging.LoggerAdapter[logging.Logger]: ...

    def progress(self, data: dict[str, Any]) -> None:
        """Tell watchers something now (a ``node.progress`` event), e.g. LLM tokens."""

    def to_thread(self, func: Callable[..., T], /, *args: Any) -> Awaitable[T]:
        """Run CPU-bound or blocking code off the event loop, in the ``cpu`` pool."""
        ...

    async def run_workflow(self, ref: str, input: Any) -> Any:
        """Run another workflow (a file path relative to this one, or a stored id) to its
        end and return its output; raise ``NodeError`` if it does not succeed. The run is
        an execution of its own, stored (where the host stores executions) and linked to
        this one. If it waits (a ``core.wait`` in it), this node waits too, holding
        nothing, and settles with its output once it has ended."""

    async def workflow(self, ref: str, *, separate: bool) -> WorkflowRunner:
        """The workflow ``ref`` names (as for ``run_workflow``), to run once per item.

        With ``separate``, each run is an execution of its own, as ``run_workflow``'s;
        without, a run is part of this node's work: nothing of it is stored and it
        publishes no events, only its output (or error) comes back — unless the workflow
        has a node that waits (``WAITS``): its runs are then separate all the same, as
        only a stored execution can wait. Raises ``NodeError``
        (``subworkflow_not_found``, ``subworkflow_invalid``, ``subworkflow_depth``)."""
        ...

    async def credential(self, credential_id: str) -> Credential:
        """The stored credential ``credential_id``, decrypted; raises ``NodeError``
        (``credential_not_found``) when there is none."""
        ...

    def add_usage(self, usage: Mapping[str, int]) -> None:
        """Count resources this node used (LLM tokens: ``input_tokens``, ``output_tokens``,
        ``total_tokens``); summed into the node's result and the execution's."""

    @property
    def services(self) -> HostServices:
        """Everything the host supplies; a field is ``None`` where it supplies nothing
        (``ctx.services.http``, ``ctx.services.pdf_fonts``)."""
        ...

    def service(self, requirement: Requirement[T]) -> T:
        """The service ``requirement`` names (``ctx.service(FILES)``): declare it in the
        node type's ``requires`` and compiling a workflow checks that the host supplies
        it; else this raises ``NodeError`` (``service_unavailable``) when the node runs."""
        ...

    async def park(
        self, request: WaitRequest, *, state: Mapping[str, Any] | None = None
    ) -> NoReturn:
        """Wait for ``request`` (a timer, a resume call, people's decision) without
        holding anything: the wait is stored, the node is ``waiting``, and once no other
        node can run the execution is stored as ``waiting``. When the wait is decided,
        the node settles with its outcome (``tav.core.waits``) and the execution goes on;
        ``run`` is not called again. Declare ``WAITS`` in the node type's ``requires``.

        With ``state`` (a JSON object, at most ``MAX_STATE_BYTES`` serialized; secrets
        revealed so far are redacted from it), the wait keeps it and, once decided, the
        node runs again (on whichever process resumes the execution) with ``ctx.resumed``
        giving that state and the outcome, to go on where it stopped. It may park again
        then, as often as it needs (each wait has a link of its own)."""
        ...

    @property
    def resumed(self) -> Resumed | None:
        """For a node run again after it parked with state: that state and its wait's
        outcome; ``None`` on a first run."""
        ...
