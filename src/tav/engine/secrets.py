"""Keeping revealed secrets out of what an execution leaves behind.

Once a node of an execution has revealed a credential, every later output, error and
progress event of that execution passes through the provider's ``redact`` before anyone
sees it (the next node's templates included). Executions that reveal nothing pay nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tav.core.results import ErrorInfo, NodeResult

Redact = Callable[[str], str]


def redact_value(value: Any, redact: Redact) -> Any:
    """``value`` with ``redact`` applied to every string in it (keys included)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_value(k, redact): redact_value(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(item, redact) for item in value]
    return value


def redact_error(error: ErrorInfo | None, redact: Redact) -> ErrorInfo | None:
    if error is None:
        return None
    message = redact(error.message)
    return error if message == error.message else error.model_copy(update={"message": message})


def redact_result(result: NodeResult, redact: Redact) -> NodeResult:
    return result.model_copy(
        update={
            "outputs": redact_value(result.outputs, redact),
            "error": redact_error(result.error, redact),
        }
    )
