"""In-memory ``ExecutionStore``: keeps every execution's result for the life of the process."""

from __future__ import annotations

from tav.core.results import ExecutionResult, NodeResult


class MemoryStore:
    def __init__(self) -> None:
        self.executions: dict[str, ExecutionResult] = {}

    async def execution_started(self, result: ExecutionResult) -> None:
        self.executions[result.execution_id] = result.model_copy(deep=True)

    async def node_settled(self, execution_id: str, result: NodeResult) -> None:
        self.executions[execution_id].nodes[result.node_id] = result

    async def execution_finished(self, result: ExecutionResult) -> None:
        self.executions[result.execution_id] = result
