"""In-memory ``ExecutionStore`` (keeps every execution's result for the life of the
process) and ``Waits`` (keeps what nodes parked on)."""

from __future__ import annotations

from typing import Any

from tav.core.results import ExecutionResult, NodeResult
from tav.core.waits import WaitRequest


class MemoryStore:
    def __init__(self) -> None:
        self.executions: dict[str, ExecutionResult] = {}

    async def execution_started(self, result: ExecutionResult) -> None:
        self.executions[result.execution_id] = result.model_copy(deep=True)

    async def node_settled(self, execution_id: str, result: NodeResult) -> None:
        self.executions[execution_id].nodes[result.node_id] = result

    async def execution_finished(self, result: ExecutionResult) -> None:
        self.executions[result.execution_id] = result


class MemoryWaits:
    """Waits kept in memory (``tav.nodes.host.Waits``), for tests of the engine: what each
    node parked on, by execution and node."""

    def __init__(self) -> None:
        self.opened: dict[tuple[str, str], WaitRequest] = {}
        self.detached: dict[str, tuple[dict[str, Any], Any]] = {}
        """The child executions that parked: their document and input, by id."""

    async def open(self, execution_id: str, node_id: str, request: WaitRequest) -> None:
        key = (execution_id, node_id)
        if key not in self.opened or self.opened[key].seq < request.seq:  # its next wait
            self.opened[key] = request

    def url(self, execution_id: str, node_id: str) -> str:
        return f"memory:{execution_id}/{node_id}"

    async def detach(
        self, execution_id: str, document: dict[str, Any], input: Any, source: str | None = None
    ) -> None:
        self.detached[execution_id] = (document, input)
