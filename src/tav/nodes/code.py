"""What a host supplies to run authors' code (``HostServices.code``): ``CodeRunner``.

The ``code.python`` node hands a ``CodeJob`` to the host's runner; the runner runs it out
of process, in a sandbox (``tav.sandbox``), and either returns what ``main`` returned or
raises ``NodeError`` with a type that says what went wrong (``code_error`` with the
author's line, ``timeout``, ``memory_limit``, ``output_limit``, ``sandbox_unavailable``,
...; docs/reference/code.md lists them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class CodeJob:
    """One run of an author's code: the source and what it sees."""

    code: str
    """Python source that defines ``main(input)``."""
    input: Any
    trigger: Any
    vars: Mapping[str, Any]
    nodes: Mapping[str, Mapping[str, Any]]
    """The outputs of the execution's settled nodes by id and port; a runner reads only
    those the code asks for."""
    network: bool = False
    """The author asks for the network (the host's settings must allow it too)."""


class CodeRunner(Protocol):
    """Runs authors' code where it cannot reach the host's data."""

    async def run(self, job: CodeJob, log: Callable[[str], None]) -> Any:
        """Run ``job`` and return the JSON data its ``main`` returned; ``log`` receives
        what the code prints, in pieces, as it prints it. Raises ``NodeError``.
        Cancelling the call ends the code at once."""
        ...
