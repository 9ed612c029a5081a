"""The engine's implementation of ``NodeContext`` and the template variables it exposes."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from tav.core import values
from tav.core.errors import NodeError
from tav.core.results import NodeResult
from tav.core.states import NodeStatus
from tav.core.waits import MAX_STATE_BYTES, WaitRequest, children_request
from tav.engine.secrets import redact_value
from tav.nodes.context import ChildWaits, Credential, Inputs, Parked, Resumed, WorkflowRunner
from tav.nodes.host import WAITS

if TYPE_CHECKING:
    from tav.engine.step import StepHost
    from tav.nodes.host import HostServices, Requirement

T = TypeVar("T")
logger = logging.getLogger("tav.node")


class _NoOutputs(dict[str, Any]):
    """Outputs of a settled node that produced none; ``note`` explains in template errors."""

    def __init__(self, note: str) -> None:
        super().__init__()
        self.note = note


class NodesView(Mapping[str, Mapping[str, Any]]):
    """``nodes.<id>.<port>`` in templates: outputs of the settled nodes of one execution."""

    __slots__ = ("_results",)

    def __init__(self, results: Mapping[str, NodeResult]) -> None:
        self._results = results

    def __getitem__(self, node_id: str) -> Mapping[str, Any]:
        result = self._results[node_id]
        if result.outputs or result.status is NodeStatus.SUCCEEDED:
            return result.outputs
        return _NoOutputs(f" (node '{node_id}' {result.status.value})")

    def __iter__(self) -> Iterator[str]:
        return iter(self._results)

    def __len__(self) -> int:
        return len(self._results)


class _NodeLog(logging.LoggerAdapter[logging.Logger]):
    """A node's logger: once the execution has revealed a credential, messages are
    formatted here and redacted before any handler sees them."""

    def __init__(self, host: StepHost, extra: Mapping[str, object]) -> None:
        super().__init__(logger, extra)
        self._host = host

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        redact = self._host.redact
        if redact is not None and self.isEnabledFor(level):
            msg, args = redact(str(msg) % args if args else str(msg)), ()
        super().log(level, msg, *args, **kwargs)


class StepContext:
    """What one attempt of one node sees (``tav.nodes.context.NodeContext``)."""

    def __init__(
        self,
        host: StepHost,
        node_id: str,
        attempt: int,
        inputs: Inputs,
        pool: str | None = None,
        usage: dict[str, int] | None = None,
    ) -> None:
        self._host = host
        self.node_id = node_id
        self.attempt = attempt
        self.inputs = inputs
        self._pool = pool
        self._usage = {} if usage is None else usage

    @property
    def log(self) -> logging.LoggerAdapter[logging.Logger]:
        return _NodeLog(
            self._host, {"execution_id": self._host.execution_id, "node_id": self.node_id}
        )

    @property
    def idempotency_key(self) -> str:
        return f"{self._host.execution_id}:{self.node_id}"

    @property
    def execution_id(self) -> str:
        return self._host.execution_id

    @property
    def trigger(self) -> Any:
        return self._host.trigger

    @property
    def vars(self) -> Mapping[str, Any]:
        return self._host.vars

    @property
    def nodes(self) -> Mapping[str, Mapping[str, Any]]:
        nodes: Mapping[str, Mapping[str, Any]] = self._host.template_context(self.node_id, None)[
            "nodes"
        ]
        return nodes

    def progress(self, data: dict[str, Any]) -> None:
        """Report ``data`` as a ``node.progress`` event. Data that is not storable JSON (a
        streamed token holding half of a surrogate pair, say) is left out: the event would
        be stored with the execution and break its storage."""
        found = values.problem(data)
        if found is not None:
            where, what = found
            logger.debug("node %s: progress not reported: %s, at %s", self.node_id, what, where)
            return
        self._host.progress(self.node_id, data)

    def to_thread(self, func: Callable[..., T], /, *args: Any) -> Awaitable[T]:
        if self._pool == "cpu":
            # The node already holds a cpu slot: waiting for a second one could deadlock.
            return asyncio.to_thread(func, *args)

        async def run() -> T:
            async with self._host.pools.slot("cpu"):
                return await asyncio.to_thread(func, *args)

        return run()

    async def run_workflow(self, ref: str, input: Any) -> Any:
        try:
            return await self._host.run_workflow(ref, input)
        except ChildWaits as child:  # it parked: so does this node, until it has ended
            await self.park(children_request({child.execution_id: 0}, child.workflow))

    async def workflow(self, ref: str, *, separate: bool) -> WorkflowRunner:
        return await self._host.workflow(ref, separate=separate)

    async def credential(self, credential_id: str) -> Credential:
        return await self._host.reveal(credential_id)

    def add_usage(self, usage: Mapping[str, int]) -> None:
        for key, count in usage.items():
            self._usage[key] = self._usage.get(key, 0) + int(count)

    @property
    def services(self) -> HostServices:
        return self._host.services

    def service(self, requirement: Requirement[T]) -> T:
        found = requirement.supplied_by(self._host.services)
        if found is None:
            raise NodeError(
                f"this node needs {requirement.title}, which this host does not provide",
                type="service_unavailable",
            )
        return found

    @property
    def resumed(self) -> Resumed | None:
        return self._host.resumed(self.node_id)

    async def park(
        self, request: WaitRequest, *, state: Mapping[str, Any] | None = None
    ) -> NoReturn:
        waits = self.service(WAITS)
        resumed = self.resumed  # run again after a wait: this is its next one
        update: dict[str, Any] = {"seq": resumed.seq + 1 if resumed is not None else 0}
        if state is not None:
            update.update(rerun=True, state=self._state(state))
        request = request.model_copy(update=update)
        self._host.parking(self.node_id, request)
        await waits.open(self._host.execution_id, self.node_id, request)
        raise Parked(request)

    def _state(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """``state`` as the wait keeps it: redacted, storable, bounded."""
        redact = self._host.redact
        kept = dict(redact_value(dict(state), redact) if redact is not None else state)
        found = values.problem(kept)
        if found is not None:
            where, what = found
            raise NodeError(
                f"the state it parks with is not storable JSON data: {what}, at {where}",
                type="wait_state_invalid",
            )
        size = len(json.dumps(kept, ensure_ascii=False).encode())
        if size > MAX_STATE_BYTES:
            raise NodeError(
                f"the state it parks with is {size:,} bytes as JSON, more than the "
                f"{MAX_STATE_BYTES:,} a wait keeps",
                type="wait_state_too_large",
            )
        return kept
