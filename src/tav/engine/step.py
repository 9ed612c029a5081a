"""One node, start to settle: bind inputs, render params, pool, timeout, retry, outputs.

``run_step`` is the one error boundary around node code. It catches everything the node
raises, keeps the traceback in the log for unexpected errors, turns the error into data
(``ErrorInfo``), and decides whether to retry. Nothing else in the engine catches node
errors; cancellation is never caught here (the executor settles cancelled nodes), nor is
an ``InternalError`` — a bug of the engine, such as an illegal state transition, which
ends the execution instead of failing the node. A node that parks (``ctx.park``) ends its
step ``waiting`` (what it waits for is its wait's, kept by the host): nothing to retry.
One that parked with state runs its step again, from its first attempt, once its wait is
decided (``ctx.resumed``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from tav.core import values
from tav.core.errors import InternalError, NodeError, NodeTimeout, ParamsInvalid
from tav.core.events import utcnow
from tav.core.results import ErrorInfo, NodeResult
from tav.core.states import NodeStatus
from tav.core.waits import WaitRequest
from tav.core.workflow import DEFAULT_INPUT_PORT, ERROR_PORT
from tav.engine import templates
from tav.engine.context import StepContext
from tav.engine.plan import PlannedNode
from tav.engine.pools import Pools, PoolUnavailable
from tav.engine.template_budget import TemplateLimits
from tav.nodes.context import Credential, Inputs, Parked, Resumed, WorkflowRunner
from tav.nodes.host import HostServices

logger = logging.getLogger("tav.engine")


class StepHost(Protocol):
    """What a step needs from the execution it belongs to."""

    execution_id: str
    trigger: Any
    vars: Mapping[str, Any]
    pools: Pools
    services: HostServices
    redact: Callable[[str], str] | None
    template_limits: TemplateLimits
    checked: values.Checked
    """The outputs this execution's nodes returned so far, found storable."""

    async def reveal(self, credential_id: str) -> Credential: ...
    def template_context(self, node_id: str, input: Any) -> dict[str, Any]: ...
    def started(self, node_id: str, attempt: int, at: datetime | None = None) -> None: ...
    def retrying(self, node_id: str, attempt: int, delay_s: float, error: ErrorInfo) -> None: ...
    def progress(self, node_id: str, data: dict[str, Any]) -> None: ...
    def parking(self, node_id: str, request: WaitRequest) -> None: ...
    def resumed(self, node_id: str) -> Resumed | None: ...
    async def run_workflow(self, ref: str, input: Any) -> Any: ...
    async def workflow(self, ref: str, *, separate: bool) -> WorkflowRunner: ...


async def run_step(host: StepHost, node: PlannedNode, inputs: Inputs) -> NodeResult:
    """Run ``node`` until it succeeds or runs out of attempts; never raises but cancellation."""
    timing = _Timing()
    usage: dict[str, int] = {}
    attempt = 0
    error: ErrorInfo | None
    while True:
        attempt += 1
        try:
            outputs = await _attempt(host, node, inputs, attempt, timing, usage)
        except Parked:
            return _waiting(node, attempt, timing)
        except InternalError:
            raise  # a bug of the engine, not of the node: the execution fails, not the node
        except Exception as exc:
            error = _error_info(exc, node, attempt)
            delay = _retry_delay(node, attempt, exc)
            if error.retryable and attempt < node.retry.max_attempts and delay is not None:
                host.retrying(node.id, attempt, delay, error)
                await asyncio.sleep(delay)
                continue
            outputs = _error_outputs(node, error, inputs) if node.on_error == "branch" else {}
            status = NodeStatus.FAILED
        else:
            error, status = None, NodeStatus.SUCCEEDED
        return NodeResult(
            node_id=node.id,
            status=status,
            attempts=attempt,
            outputs=outputs,
            error=error,
            started_at=timing.started_at,
            finished_at=utcnow(),
            duration_ms=timing.elapsed_ms(),
            usage=usage or None,
        )


def _waiting(node: PlannedNode, attempt: int, timing: _Timing) -> NodeResult:
    return NodeResult(
        node_id=node.id, status=NodeStatus.WAITING, attempts=attempt, started_at=timing.started_at
    )


class _Timing:
    """When a node first got to run: the wait for a pool slot is not part of it."""

    __slots__ = ("_clock", "started_at")

    def __init__(self) -> None:
        self.started_at: datetime | None = None
        self._clock = 0.0

    def start(self) -> datetime:
        """Now (the node's ``started_at`` on its first attempt)."""
        now = utcnow()
        if self.started_at is None:
            self.started_at, self._clock = now, time.perf_counter()
        return now

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self._clock) * 1000


async def _attempt(
    host: StepHost,
    node: PlannedNode,
    inputs: Inputs,
    attempt: int,
    timing: _Timing,
    usage: dict[str, int],
) -> dict[str, Any]:
    input = inputs.get(DEFAULT_INPUT_PORT)
    started = False
    try:
        async with host.pools.slot(node.pool):
            # Started only once it holds its slot: a node queued behind a full pool is
            # pending.
            host.started(node.id, attempt, timing.start())
            started = True
            params = node.static_params
            if params is None:
                params = await _render_params(host, node, input)
            ctx = StepContext(host, node.id, attempt, inputs, node.pool, usage)
            if node.timeout_s is None:
                outputs = await node.instance.run(params, input, ctx)
            else:
                outputs = await _with_timeout(node, node.instance.run(params, input, ctx))
    except PoolUnavailable:
        if not started:  # the attempt began, and failed as it took its place
            host.started(node.id, attempt, timing.start())
        raise
    return _checked_outputs(node, params, outputs, host.checked)


async def _with_timeout(node: PlannedNode, work: Any) -> Any:
    assert node.timeout_s is not None
    scope = asyncio.timeout(node.timeout_s)
    try:
        async with scope:
            return await work
    except TimeoutError:
        if scope.expired():
            raise NodeTimeout(f"did not finish within {node.timeout_s:g} s") from None
        raise


async def _render_params(host: StepHost, node: PlannedNode, input: Any) -> BaseModel:
    rendered = await templates.render_params(
        node.params,
        host.template_context(node.id, input),
        where=f"node '{node.id}', params",
        raw=node.node_type.raw_params,
        limits=host.template_limits,
    )
    try:
        return node.node_type.Params.model_validate(rendered)
    except ValidationError as exc:
        problems = "; ".join(
            f"params.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise ParamsInvalid(f"node '{node.id}': {problems}") from None


def _checked_outputs(
    node: PlannedNode, params: BaseModel, outputs: Any, checked: values.Checked
) -> dict[str, Any]:
    """The outputs, if they are a dict of the node's ports to storable JSON data.

    Outputs are stored with other executions' updates in one transaction: a value that
    cannot be stored fails this node here, rather than that transaction later."""
    if not isinstance(outputs, dict):
        raise NodeError(
            f"{node.node_type.spec.type}.run returned {type(outputs).__name__}, "
            "expected a dict of output port → value",
            type="node_contract",
        )
    allowed = node.node_type.output_ports(params)
    unknown = [port for port in outputs if port not in allowed]
    if unknown:
        raise NodeError(
            f"{node.node_type.spec.type}.run returned unknown output port(s) {unknown}",
            type="node_contract",
        )
    found = checked.problem(outputs)
    if found is not None:
        where, what = found
        raise NodeError(
            f"output is not storable JSON data: {what}, at {where}", type="output_invalid"
        )
    return outputs


def _retry_delay(node: PlannedNode, attempt: int, exc: Exception) -> float | None:
    """Seconds to wait before the next attempt, or None when waiting is pointless.

    A ``retry_after`` (e.g. HTTP ``Retry-After``) longer than ``max_backoff_s`` means the
    service will not be back within the patience the workflow allows: give up now rather
    than block the node for hours or retry early into the same refusal.
    """
    delay = node.retry.delay(attempt)
    retry_after = exc.retry_after if isinstance(exc, NodeError) else None
    if retry_after is None:
        return delay
    if retry_after > node.retry.max_backoff_s:
        return None
    return max(delay, retry_after)


def _error_info(exc: Exception, node: PlannedNode, attempt: int) -> ErrorInfo:
    if isinstance(exc, NodeError):
        logger.debug("node %s attempt %d failed: %s", node.id, attempt, exc)
        return ErrorInfo(type=exc.type, message=exc.message, retryable=exc.retryable)
    logger.warning(
        "node %s (%s) attempt %d raised an unexpected error",
        node.id,
        node.node_type.spec.type,
        attempt,
        exc_info=exc,
    )
    return ErrorInfo(type="exception", message=f"{type(exc).__name__}: {exc}", retryable=True)


def error_outputs(node: PlannedNode, error: ErrorInfo, inputs: Inputs) -> dict[str, Any]:
    """What goes down the ``error`` port of a node that failed under ``on_error: branch``."""
    return _error_outputs(node, error, inputs)


def _error_outputs(node: PlannedNode, error: ErrorInfo, inputs: Inputs) -> dict[str, Any]:
    return {
        ERROR_PORT: {
            "type": error.type,
            "message": error.message,
            "node": node.id,
            "input": inputs.get(DEFAULT_INPUT_PORT),
        }
    }
