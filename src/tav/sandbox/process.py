"""One sandboxed interpreter: started ahead of need, then given one job, then gone.

``Sandbox.start`` starts ``bwrap … python -I -S -B entry.py`` (or, unsafe, the interpreter
alone) and waits until the interpreter says it is ready. ``Sandbox.run`` sends the job,
answers the code's requests for node outputs, passes on what it prints, and returns the
``Outcome``: the code's result or error, or the limit it ran into. The process is killed
when the run ends, however it ends (cancellation included); what the code started dies
with it (bubblewrap's ``--die-with-parent`` and its own PID namespace).

A server running as root would map the sandbox's user to root outside the namespaces,
which the kernel exempts from the process limit (``RLIMIT_NPROC``) among other things.
So as root, bubblewrap waits (``--userns-block-fd``) while the server maps root and the
unprivileged user 65534 to themselves, and the interpreter drops to 65534 for good before
it does anything else: the code runs as ``nobody`` inside and outside the namespaces.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import marshal
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SANDBOX_UID = 65534
"""The unprivileged user (``nobody``) code runs as."""
START_TIMEOUT_S = 30
LOG_FLUSH_S = 0.1
LOG_FLUSH_BYTES = 16 * 1024
EXIT_GRACE_S = 2
_FRAME_HEAD = 4
_REAPING: set[asyncio.Future[int]] = set()
"""Killed processes being reaped (a task nobody holds may be collected before it ends)."""


class SandboxUnavailable(Exception):
    """The sandbox cannot be started here: bubblewrap is missing or cannot make its
    namespaces. The message says which, with bubblewrap's own words."""


@dataclass(frozen=True, slots=True)
class Command:
    """How to start one interpreter."""

    program: list[str]
    """The interpreter and the entry script, as the sandbox names them."""
    bwrap: list[str] | None = None
    """bubblewrap and its options; ``None``: no sandbox (unsafe)."""

    @property
    def maps_users(self) -> bool:
        """bubblewrap waits for the caller to map the users (the server runs as root)."""
        return self.bwrap is not None and os.geteuid() == 0


@dataclass(slots=True)
class Outcome:
    """How one run ended."""

    result: Any = None
    error: dict[str, Any] | None = None
    """The code's own error: ``kind``, ``type``, ``message``, ``line``."""
    limit: str | None = None
    """``timeout``, ``output_limit`` or ``result_limit``: the run was stopped for it."""
    returncode: int | None = None
    cpu_s: float | None = None
    finished: bool = False
    """The code returned a result or an error (rather than its process dying first)."""


@dataclass(slots=True)
class _Pipes:
    frames: asyncio.StreamReader
    transports: list[asyncio.BaseTransport] = field(default_factory=list)

    def close(self) -> None:
        for transport in self.transports:
            transport.close()


class Sandbox:
    """A started interpreter waiting for its one job."""

    def __init__(self, process: asyncio.subprocess.Process, pipes: _Pipes, folder: str | None):
        self.process = process
        self._pipes = pipes
        self._folder = folder
        self._group = folder is not None
        """No sandbox: what the code starts is in the process's group, killed with it."""

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    @classmethod
    async def start(cls, command: Command) -> Sandbox:
        """Start one interpreter and wait until it is ready; ``SandboxUnavailable`` when it
        cannot start."""
        read_frames, write_frames = os.pipe()
        child_fds = [write_frames]
        argv = [*command.program, "--fd", str(write_frames)]
        info = block = None
        if command.maps_users:
            info, info_child = os.pipe()
            block_child, block = os.pipe()
            child_fds += [info_child, block_child]
            argv += ["--drop", str(SANDBOX_UID)]
            options = ["--userns-block-fd", str(block_child), "--info-fd", str(info_child)]
        else:
            options = []
        folder = None if command.bwrap else tempfile.mkdtemp(prefix="tav-code-")
        if command.bwrap is not None:
            argv = [*command.bwrap, *options, "--", *argv]
        loop = asyncio.get_running_loop()
        pipes = _Pipes(asyncio.StreamReader())
        try:
            process = await _spawn(argv, child_fds, folder)
        except BaseException:
            for fd in (read_frames, info, block):
                if fd is not None:
                    os.close(fd)
            _remove(folder)
            raise
        finally:
            for fd in child_fds:
                os.close(fd)
        sandbox = cls(process, pipes, folder)
        try:
            transport, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(pipes.frames), os.fdopen(read_frames, "rb", 0)
            )
            pipes.transports.append(transport)
            if info is not None and block is not None:
                await _map_users(info, block)
            async with asyncio.timeout(START_TIMEOUT_S):
                ready = await _read_frame(pipes.frames, 1024)
            if ready != {"ready": True}:
                raise SandboxUnavailable(await sandbox._why_not_started())
        except BaseException:
            sandbox.kill()
            raise
        return sandbox

    async def run(
        self,
        job: dict[str, Any],
        serve: Callable[[str], Any],
        log: Callable[[str], None],
        *,
        timeout_s: float,
        log_bytes: int,
        result_bytes: int,
    ) -> Outcome:
        """Run ``job``; ``serve(node_id)`` gives a node's outputs (``KeyError``: none)."""
        outcome = Outcome()
        pump = asyncio.create_task(self._pump_log(log, log_bytes, outcome))
        try:
            try:
                async with asyncio.timeout(timeout_s):
                    await self._send(job)
                    await self._converse(serve, result_bytes, outcome)
            except TimeoutError:
                outcome.limit = outcome.limit or "timeout"
            except (BrokenPipeError, ConnectionResetError):
                pass  # it died before it read its job: its exit status says why
            if outcome.limit is None:
                # What it printed, to the end; its exit status. It exits as soon as it
                # has sent its result, and what it started dies with it.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(EXIT_GRACE_S):
                        await asyncio.shield(pump)
                        outcome.returncode = await self.process.wait()
        except BaseException:
            pump.cancel()
            raise
        finally:
            self.kill()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(EXIT_GRACE_S):
                await asyncio.shield(pump)
        pump.cancel()
        if outcome.returncode is None:
            outcome.returncode = await self.process.wait()
        return outcome

    async def aclose(self) -> None:
        """Kill it, and wait until it is gone."""
        self.kill()
        await self.process.wait()

    def kill(self) -> None:
        """End the interpreter and everything it started (idempotent)."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                if self._group:
                    os.killpg(self.process.pid, signal.SIGKILL)
                else:
                    self.process.kill()
            _REAPING.add(task := asyncio.ensure_future(self.process.wait()))
            task.add_done_callback(_REAPING.discard)
        if self.process.stdin is not None:
            self.process.stdin.close()
        self._pipes.close()
        _remove(self._folder)
        self._folder = None

    async def _send(self, message: Any) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(_frame(message))
        await stdin.drain()

    async def _converse(self, serve: Callable[[str], Any], limit: int, outcome: Outcome) -> None:
        """Answer the code's requests until it sends its result or error, or dies."""
        while True:
            try:
                message = await _read_frame(self._pipes.frames, limit)
            except _TooLarge:
                outcome.limit = "result_limit"
                self.kill()
                return
            if message is None:
                return  # died: its exit status says why
            if "node" in message:
                try:
                    answer = {"value": serve(str(message["node"]))}
                except KeyError:
                    answer = {"missing": True}
                await self._send(answer)
                continue
            outcome.finished = True
            outcome.cpu_s = message.get("cpu_s")
            if "result" in message:
                outcome.result = message["result"]
            else:
                outcome.error = dict(message.get("error") or {})
            return

    async def _pump_log(self, log: Callable[[str], None], limit: int, outcome: Outcome) -> None:
        """Pass what the code prints to ``log``, a piece at least every ``LOG_FLUSH_S``;
        past ``limit`` bytes, stop the code."""
        stdout = self.process.stdout
        assert stdout is not None
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        pending: list[str] = []
        size = total = 0
        flushed = time.monotonic()
        while True:
            wait = None if not pending else max(0.0, flushed + LOG_FLUSH_S - time.monotonic())
            try:
                chunk = await asyncio.wait_for(stdout.read(65536), wait)
            except TimeoutError:
                chunk = None
            if chunk:
                total += len(chunk)
                if total > limit:
                    chunk = chunk[: len(chunk) - (total - limit)]
                    outcome.limit = outcome.limit or "output_limit"
                    self.kill()
                pending.append(decoder.decode(chunk))
                size += len(chunk)
            ended = chunk == b"" or outcome.limit == "output_limit"
            if pending and (ended or size >= LOG_FLUSH_BYTES or chunk is None):
                pending.append(decoder.decode(b"", final=ended))
                log("".join(pending))
                pending, size, flushed = [], 0, time.monotonic()
            if ended:
                return

    async def _why_not_started(self) -> str:
        stdout = self.process.stdout
        said = b""
        if stdout is not None:
            try:
                async with asyncio.timeout(EXIT_GRACE_S):
                    said = await stdout.read(8192)
            except TimeoutError:
                pass
        text = said.decode("utf-8", "replace").strip() or f"exit status {self.process.returncode}"
        return f"the sandbox did not start: {text}"


class _TooLarge(Exception):
    pass


async def _spawn(argv: list[str], fds: list[int], folder: str | None) -> asyncio.subprocess.Process:
    try:
        return await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            pass_fds=fds,
            cwd=folder,
            start_new_session=folder is not None,
            env={} if folder is None else _unsafe_env(folder),
        )
    except FileNotFoundError as exc:
        raise SandboxUnavailable(
            f"{argv[0]} was not found: install bubblewrap (Debian's bubblewrap package)"
        ) from exc
    except PermissionError as exc:
        raise SandboxUnavailable(f"{argv[0]} could not be started: {exc}") from exc


def _unsafe_env(folder: str) -> dict[str, str]:
    return {"HOME": folder, "TMPDIR": folder, "LANG": "C.UTF-8"}


async def _map_users(info: int, block: int) -> None:
    """Map root and ``SANDBOX_UID`` to themselves in bubblewrap's new user namespace, then
    let it go on."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(info, "rb", 0)
    )
    try:
        async with asyncio.timeout(START_TIMEOUT_S):
            text = (await reader.read()).decode()
        _write_maps(int(json.loads(text)["child-pid"]))
        os.write(block, b"1")
    except (ValueError, KeyError, OSError) as exc:
        raise SandboxUnavailable(f"the sandbox's users could not be mapped: {exc}") from exc
    finally:
        transport.close()
        os.close(block)


def _write_maps(pid: int) -> None:
    """(Writes to ``/proc`` that do not wait on a disk.)"""
    mapping = f"0 0 1\n{SANDBOX_UID} {SANDBOX_UID} 1\n"
    for name in ("uid_map", "gid_map"):
        with open(f"/proc/{pid}/{name}", "w") as file:
            file.write(mapping)


def _frame(message: Any) -> bytes:
    """``message`` for the sandbox: ``marshal`` (which the interpreter has without
    importing anything), of JSON data."""
    try:
        data = marshal.dumps(message)
    except ValueError:  # a type marshal does not know: made plain JSON data first
        data = marshal.dumps(json.loads(json.dumps(message, default=str)))
    return len(data).to_bytes(_FRAME_HEAD, "big") + data


async def _read_frame(reader: asyncio.StreamReader, limit: int) -> Any:
    """The next frame, ``None`` at the end; ``_TooLarge`` past ``limit`` bytes."""
    try:
        head = await reader.readexactly(_FRAME_HEAD)
        size = int.from_bytes(head, "big")
        if size > limit + 1024:
            raise _TooLarge
        return json.loads(await reader.readexactly(size))
    except asyncio.IncompleteReadError:
        return None
    except ValueError:
        return None  # not JSON: written by the code itself over its channel


def _remove(folder: str | None) -> None:
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def signal_name(returncode: int | None) -> str | None:
    """The signal that ended a process, from its exit status (bubblewrap reports
    ``128 + n``; a process started without it, ``-n``)."""
    if returncode is None:
        return None
    number = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else 0
    try:
        return signal.Signals(number).name if number else None
    except ValueError:
        return None
