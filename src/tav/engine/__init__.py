"""The asyncio executor: compile a workflow into a plan, run it, report through events."""

from tav.engine.executor import ExecutionHandle, Executor
from tav.engine.plan import ExecutionPlan, compile_plan, validate

__all__ = ["ExecutionHandle", "ExecutionPlan", "Executor", "compile_plan", "validate"]
