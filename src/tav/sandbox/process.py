"""One sandboxed interpreter: started ahead of need, then given one job, then gone.

``Sandbox.start`` starts ``bwrap … python -I -S -B entry.py`` (or, unsafe, the interpreter
alone) and waits until the interpreter says it is ready. ``Sandbox.run`` sends the job,
answers the code's requests for node outputs, passes on what it prints, and returns the
``Outcome``: the code's result or error, or the limit it ran into. The process is killed
when the run ends, however it ends (cancellation included); what the code started dies
with it (bubblewrap's ``--die-with-parent`` and its own PID namespace).

As root, the server maps the sandbox's users itself (``tav.sandbox.users``): the code
runs as ``nobody`` inside and outside the namespaces.

The process is watched through asyncio's subprocess protocol (what it prints arrives as
it comes, whoever reads it; its exit is known whether or not its pipes are closed) and
signalled through a pidfd, which cannot name another process once it has been reaped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from tav.sandbox import channel
from tav.sandbox.channel import FRAME_COST, TooLarge
from tav.sandbox.output import Output
from tav.sandbox.users import (
    SANDBOX_UID,
    START_TIMEOUT_S,
    SandboxUnavailable,
    map_users,
    read_child,
)

EXIT_GRACE_S = 2
_CLOSING: set[asyncio.Future[None]] = set()
"""Killed sandboxes being closed once they are gone."""


@dataclass(frozen=True, slots=True)
class Command:
    """How to start one interpreter."""

    program: list[str]
    """The interpreter and the entry script, as the sandbox names them."""
    bwrap: list[str] | None = None
    """bubblewrap and its options; ``None``: no sandbox (unsafe)."""
    seccomp: bytes | None = None
    """The seccomp filter bubblewrap loads (``tav.sandbox.seccomp``)."""

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
    """``timeout``, ``output_limit``, ``result_limit`` or ``protocol`` (bytes on the
    channel that are not a message): the run was stopped for it."""
    returncode: int | None = None
    cpu_s: float | None = None
    finished: bool = False
    """The code returned a result or an error (rather than its process dying first)."""


class _Protocol(asyncio.SubprocessProtocol):
    def __init__(self, output: Output) -> None:
        loop = asyncio.get_running_loop()
        self.output = output
        self.exited: asyncio.Future[None] = loop.create_future()
        self.output_closed: asyncio.Future[None] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        if isinstance(data, bytes):
            self.output.received(data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1 and not self.output_closed.done():
            self.output_closed.set_result(None)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)


class Sandbox:
    """A started interpreter waiting for its one job."""

    def __init__(
        self,
        transport: asyncio.SubprocessTransport,
        protocol: _Protocol,
        frames: asyncio.StreamReader,
        frames_transport: asyncio.BaseTransport,
        folder: str | None,
    ) -> None:
        self._transport = transport
        self._protocol = protocol
        self._frames = frames
        self._frames_transport = frames_transport
        self._folder = folder
        self._pidfd = _pidfd(transport.get_pid())
        self._child: int | None = None
        """A pidfd of the process bubblewrap starts in the namespaces: killed with it, for
        one that lost bubblewrap while it set up waits for it for ever."""
        self._killed = False

    @property
    def alive(self) -> bool:
        return not self._protocol.exited.done()

    @property
    def returncode(self) -> int | None:
        return self._transport.get_returncode()

    @classmethod
    async def start(cls, command: Command) -> Sandbox:
        """Start one interpreter and wait until it is ready; ``SandboxUnavailable`` when it
        cannot start.

        A start is not stopped halfway: bubblewrap's process in the new namespaces waits
        for bubblewrap to let it go on, for ever if bubblewrap is killed first, and is
        known only once bubblewrap says so. Cancelled, the call ends at once and the
        start goes on in the background, to be killed once it has ended (``reaped``)."""
        starting = asyncio.ensure_future(cls._start(command))
        try:
            return await asyncio.shield(starting)
        except asyncio.CancelledError:
            _track(asyncio.ensure_future(_end_started(starting)))
            raise

    @classmethod
    async def _start(cls, command: Command) -> Sandbox:
        fds = _Fds()
        try:
            read_frames, write_frames = fds.pipe(child="write")
            argv = [*command.program, "--fd", str(write_frames)]
            options: list[str] = []
            info = block = None
            if command.bwrap is not None:
                info, info_child = fds.pipe(child="write")
                options += ["--info-fd", str(info_child)]
            if command.maps_users:
                block_child, block = fds.pipe(child="read")
                argv += ["--drop", str(SANDBOX_UID)]
                options += ["--userns-block-fd", str(block_child)]
            if command.seccomp is not None:
                program, _ = fds.pipe(child="read", content=command.seccomp)
                options += ["--seccomp", str(program)]
            if command.bwrap is not None:
                argv = [*command.bwrap, *options, "--", *argv]
            folder = None if command.bwrap else tempfile.mkdtemp(prefix="tav-code-")
            sandbox = await cls._spawn(argv, fds, read_frames, folder)
        finally:
            fds.close_children()
        try:
            if info is not None:
                fds.keep(info)
                try:
                    child = await read_child(info)
                    sandbox._child = _pidfd(child)
                    if block is not None:
                        fds.keep(block)
                        map_users(child, block)
                except SandboxUnavailable as exc:  # bubblewrap may have said why
                    said = await sandbox._said()
                    if not said:
                        raise
                    raise SandboxUnavailable(f"the sandbox did not start: {said}") from exc
            async with asyncio.timeout(START_TIMEOUT_S):
                ready, _ = await channel.read(sandbox._frames, 1024)
            if ready != {"ready": True}:
                raise SandboxUnavailable(await sandbox._why_not_started())
        except BaseException:
            fds.close_all()  # (the block, if it was not handed over)
            sandbox.kill()
            raise
        return sandbox

    @classmethod
    async def _spawn(cls, argv: list[str], fds: _Fds, frames: int, folder: str | None) -> Sandbox:
        loop = asyncio.get_running_loop()
        output = Output()
        try:
            transport, protocol = await loop.subprocess_exec(
                lambda: _Protocol(output),
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                pass_fds=fds.children,
                cwd=folder,
                start_new_session=folder is not None,
                env={} if folder is None else _unsafe_env(folder),
            )
        except FileNotFoundError as exc:
            fds.close_all()
            _remove(folder)
            raise SandboxUnavailable(
                f"{argv[0]} was not found: install bubblewrap (Debian's bubblewrap package)"
            ) from exc
        except BaseException:
            fds.close_all()
            _remove(folder)
            raise
        reader = asyncio.StreamReader()
        pipe = os.fdopen(frames, "rb", 0)
        fds.keep(frames)
        try:
            frames_transport, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), pipe
            )
        except BaseException:  # (cancelled, say): the process goes too
            pipe.close()
            transport.close()
            _remove(folder)
            raise
        return cls(transport, protocol, reader, frames_transport, folder)

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

        def too_much_output() -> None:
            outcome.limit = outcome.limit or "output_limit"
            self.kill()

        self._protocol.output.follow(log, log_bytes, too_much_output)
        finished = False
        try:
            try:
                async with asyncio.timeout(timeout_s):
                    self._send(job)
                    await self._converse(serve, result_bytes, outcome)
            except TimeoutError:
                outcome.limit = outcome.limit or "timeout"
            if outcome.limit is None and not outcome.finished:
                # It died: what it printed to the end, and its exit status, say why.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(EXIT_GRACE_S):
                        await asyncio.shield(self._protocol.output_closed)
                        await asyncio.shield(self._protocol.exited)
            finished = True
        finally:
            self._protocol.output.stop(flush=finished)
            self.kill()
        if not outcome.finished:  # (the exit status explains nothing else)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(EXIT_GRACE_S):
                    await asyncio.shield(self._protocol.exited)
            outcome.returncode = self.returncode
        return outcome

    def kill(self) -> None:
        """End the interpreter and everything it started (idempotent); its pipes and
        files are let go of once it is gone."""
        if self._killed:
            return
        self._killed = True
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                if self._folder is not None:  # no sandbox: the code's processes are its group
                    os.killpg(self._transport.get_pid(), signal.SIGKILL)
                elif self._pidfd is not None:
                    signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
                else:
                    os.kill(self._transport.get_pid(), signal.SIGKILL)
        if self._child is not None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._child, signal.SIGKILL)
        self._frames_transport.close()
        _track(asyncio.ensure_future(self._close()))

    async def aclose(self) -> None:
        """Kill it, and wait until it is gone."""
        self.kill()
        await asyncio.shield(self._protocol.exited)

    async def _close(self) -> None:
        await self._protocol.exited
        self._transport.close()
        for pidfd in (self._pidfd, self._child):
            if pidfd is not None:
                os.close(pidfd)
        self._pidfd = self._child = None
        _remove(self._folder)

    def _send(self, message: Any) -> None:
        # (A write transport of the loop's own kind: asyncio's, or uvloop's under tav serve.)
        stdin = cast("asyncio.WriteTransport | None", self._transport.get_pipe_transport(0))
        if stdin is None or stdin.is_closing():
            raise BrokenPipeError("the sandbox's input is closed")
        stdin.write(channel.encode(message))

    async def _converse(self, serve: Callable[[str], Any], limit: int, outcome: Outcome) -> None:
        """Answer the code's requests until it sends its result or error, or dies.

        The channel is the code's to write to as well: every frame but the last counts
        against the output limit (``FRAME_COST`` bytes at least, so that a flood of empty
        ones ends too), and a node's outputs are sent once."""
        output = self._protocol.output
        served: set[str] = set()
        while True:
            try:
                message, size = await channel.read(self._frames, limit)
            except TooLarge:
                outcome.limit = "result_limit"
                self.kill()
                return
            if not isinstance(message, dict):
                if message is not None:  # not a frame of the sandbox's
                    outcome.limit = "protocol"
                    self.kill()
                return  # (or it died: its exit status says why)
            if "result" not in message and "error" not in message:
                output.charge(max(size, FRAME_COST))
            if "log" in message:
                output.printed(str(message["log"]), 0)
            elif "node" in message:
                node_id = str(message["node"])
                answer = {"missing": True}
                if node_id not in served:
                    served.add(node_id)
                    with contextlib.suppress(KeyError):
                        answer = {"value": serve(node_id)}
                self._send(answer)
            else:
                break
        outcome.finished = True
        outcome.cpu_s = message.get("cpu_s")
        if "result" in message:
            outcome.result = message["result"]
        else:
            outcome.error = dict(message.get("error") or {})

    async def _why_not_started(self) -> str:
        said = await self._said()
        return f"the sandbox did not start: {said or f'exit status {self.returncode}'}"

    async def _said(self) -> str:
        """What the process wrote before it ended (bubblewrap's error), if it did."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(START_TIMEOUT_S):
                await asyncio.shield(self._protocol.output_closed)  # it has said all
        return bytes(self._protocol.output.said).decode("utf-8", "replace").strip()


class _Fds:
    """The pipes of one start: the ends the child gets, closed here once it has them."""

    def __init__(self) -> None:
        self.children: list[int] = []
        self._own: list[int] = []

    def pipe(self, *, child: str, content: bytes = b"") -> tuple[int, int]:
        read, write = os.pipe()
        if content:
            os.write(write, content)  # (a filter: well under a pipe's buffer)
            os.close(write)
            write = -1
        self.children.append(write if child == "write" else read)
        own = read if child == "write" else write
        if own != -1:
            self._own.append(own)
        return read, write

    def keep(self, *fds: int) -> None:
        """``fds`` are taken over (by a transport, or closed by their user)."""
        self._own = [fd for fd in self._own if fd not in fds]

    def close_children(self) -> None:
        for fd in self.children:
            if fd != -1:
                os.close(fd)
        self.children = []

    def close_all(self) -> None:
        self.close_children()
        for fd in self._own:
            os.close(fd)
        self._own = []


async def reaped() -> None:
    """Wait until the sandboxes killed on this loop, and the starts cancelled, are gone
    (before the loop closes)."""
    loop = asyncio.get_running_loop()
    while pending := [f for f in _CLOSING if f.get_loop() is loop]:
        await asyncio.gather(*pending, return_exceptions=True)


def _track(closing: asyncio.Future[None]) -> None:
    _CLOSING.add(closing)
    closing.add_done_callback(_CLOSING.discard)


async def _end_started(starting: asyncio.Future[Sandbox]) -> None:
    """Kill what a cancelled start started, once it has."""
    try:
        sandbox = await starting
    except Exception:  # it failed: what it started is killed already
        return
    await sandbox.aclose()


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # before Linux 5.3: signals by pid
        return None


def _unsafe_env(folder: str) -> dict[str, str]:
    return {"HOME": folder, "TMPDIR": folder, "LANG": "C.UTF-8"}


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
