"""``SandboxRunner``: the host's ``CodeRunner`` — a job in, a value or a ``NodeError`` out.

It works out once, on first use, what the sandbox sees (``tav.sandbox.view``) and checks
that bubblewrap is there; it keeps a ``WarmPool`` of sandboxes for code without the
network, and one for code with it, each made on first use; and it turns how a run ended
(``Outcome``) into the node's value or error.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Callable, Mapping
from typing import Any

from tav.core.errors import NodeError, NodeTimeout
from tav.nodes.code import CodeJob
from tav.sandbox import seccomp
from tav.sandbox.config import Limits, SandboxConfig
from tav.sandbox.packages import PackageMissing
from tav.sandbox.process import Command, Outcome, Sandbox, reaped
from tav.sandbox.process import signal_name as _signal_name
from tav.sandbox.users import SandboxUnavailable, isolated
from tav.sandbox.view import ENTRY, View, python_views
from tav.sandbox.warm import WarmPool

UNSAFE_HINT = (
    "; code.python needs bubblewrap (Debian's bubblewrap package) and a kernel that lets "
    "it make user namespaces. TAV_CODE_UNSAFE_NO_SANDBOX=true runs code without a sandbox, "
    "which is unsafe (docs/reference/code.md)"
)


class SandboxRunner:
    """Runs ``CodeJob``\\s in sandboxes under ``config`` (``tav.nodes.code.CodeRunner``)."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._views: tuple[View, View] | None = None
        self._pools: dict[bool, WarmPool] = {}
        self._setup = asyncio.Lock()

    async def run(self, job: CodeJob, log: Callable[[str], None]) -> Any:
        if job.network and not self.config.allow_network:
            raise NodeError(
                "this server does not let code use the network (TAV_CODE_ALLOW_NETWORK)",
                type="network_not_allowed",
            )
        pool = await self._pool(job.network)
        try:
            sandbox = await pool.take()
        except SandboxUnavailable as exc:
            raise NodeError(f"{exc}{UNSAFE_HINT}", type="sandbox_unavailable") from None
        limits = self.config.limits
        try:
            outcome = await sandbox.run(
                _job(job, limits),
                _server(job.nodes),
                log,
                timeout_s=limits.timeout_s,
                log_bytes=limits.log_bytes,
                result_bytes=limits.result_bytes,
            )
        finally:
            pool.replenish()
        return value_of(outcome, limits)

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.aclose()
        await reaped()

    async def _pool(self, network: bool) -> WarmPool:
        pool = self._pools.get(network)
        if pool is not None:
            return pool
        async with self._setup:
            if network not in self._pools:
                command = await self._command(network)
                size = self.config.warm if not network else min(self.config.warm, 1)
                self._pools[network] = WarmPool(lambda: Sandbox.start(command), size)
        return self._pools[network]

    async def _command(self, network: bool) -> Command:
        if self.config.unsafe_no_sandbox:
            return Command(_unsafe_program())
        bwrap = shutil.which(self.config.bwrap)
        if bwrap is None:
            raise NodeError(
                f"bubblewrap ({self.config.bwrap}) is not installed{UNSAFE_HINT}",
                type="sandbox_unavailable",
            )
        if self._views is None:
            try:
                self._views = await asyncio.to_thread(python_views, self.config.packages)
            except PackageMissing as exc:
                raise NodeError(f"TAV_CODE_PACKAGES: {exc}", type="sandbox_unavailable") from None
        view = self._views[1] if network else self._views[0]
        options = bwrap_options(bwrap, view, self.config.limits, network=network)
        return Command([view.interpreter, "-I", "-S", "-B", ENTRY], options, seccomp.program())


_ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
"""Numerical libraries start a thread per CPU unless told: one thread each keeps them
within the process limit and the code within its share of the machine."""


def bwrap_options(bwrap: str, view: View, limits: Limits, *, network: bool) -> list[str]:
    """bubblewrap's options: namespaces, the user, the files, a fresh ``/tmp``."""
    env = {"HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8", **dict.fromkeys(_ONE_THREAD, "1")}
    return [
        bwrap,
        *isolated(network=network, hostname="tav-code", env=env),
        *view.arguments(),
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--remount-ro",  # (its devices are mounts of their own, and stay writable)
        "/dev",
        *("--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp"),
        "--remount-ro",
        "/",
        "--chdir",
        "/tmp",
    ]


def _unsafe_program() -> list[str]:
    entry = os.path.join(os.path.dirname(os.path.realpath(__file__)), "entry.py")
    return [os.path.realpath(sys.executable), "-I", "-S", "-B", entry]


def _job(job: CodeJob, limits: Limits) -> dict[str, Any]:
    return {
        "code": job.code,
        "input": job.input,
        "trigger": job.trigger,
        "vars": dict(job.vars),
        "node_ids": list(job.nodes),
        "limits": limits.for_job(),
    }


def _server(nodes: Mapping[str, Mapping[str, Any]]) -> Callable[[str], Any]:
    def serve(node_id: str) -> Any:
        return dict(nodes[node_id])

    return serve


def value_of(outcome: Outcome, limits: Limits) -> Any:
    """What ``main`` returned, or the node error that says why there is nothing."""
    if outcome.finished and outcome.error is None:
        return outcome.result
    if outcome.error is not None:
        raise _code_error(outcome.error, limits)
    if outcome.limit == "timeout":
        raise NodeTimeout(f"the code did not finish within {limits.timeout_s:g} s")
    if outcome.limit == "output_limit":
        raise NodeError(
            f"the code printed more than {_size(limits.log_bytes)}", type="output_limit"
        )
    if outcome.limit == "result_limit":
        raise NodeError(
            f"main returned more than {_size(limits.result_bytes)} of JSON", type="output_limit"
        )
    if outcome.limit == "protocol":
        raise NodeError(
            "the code wrote to the sandbox's channel what is not a message", type="code_crashed"
        )
    raise _died(outcome.returncode, limits)


def _code_error(error: Mapping[str, Any], limits: Limits) -> NodeError:
    kind = error.get("kind")
    message = str(error.get("message") or "")
    line = error.get("line")
    where = f"line {line}: " if isinstance(line, int) else ""
    if kind == "syntax":
        return NodeError(
            f"{where}{error.get('type', 'SyntaxError')}: {message}", type="code_syntax"
        )
    if kind == "memory":
        text = f"{where}the code used more than its {_size(limits.memory_bytes)} of memory"
        return NodeError(text, type="memory_limit")
    if kind == "invalid":
        return NodeError(message, type="code_invalid")
    if kind == "result":
        return NodeError(message, type="result_invalid")
    return NodeError(f"{where}{message}", type="code_error", retryable=True)


def _died(returncode: int | None, limits: Limits) -> NodeError:
    """The process ended without a result or an error of the code's."""
    name = _signal_name(returncode)
    if name == "SIGXCPU":
        return NodeError(f"the code used more than {limits.cpu_s} s of CPU", type="cpu_limit")
    if name == "SIGKILL":
        return NodeError(
            "the code's process was killed (past the CPU limit's last warning, or out of memory)",
            type="code_killed",
        )
    if name is not None:
        return NodeError(f"the code's process crashed ({name})", type="code_crashed")
    return NodeError(
        f"the code's process ended without a result (exit status {returncode})",
        type="code_crashed",
    )


def _size(count: int) -> str:
    if count % (1024 * 1024) == 0:
        return f"{count // (1024 * 1024)} MiB"
    if count % 1024 == 0:
        return f"{count // 1024} KiB"
    return f"{count} bytes"
