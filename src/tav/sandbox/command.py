"""A long-running command in the sandbox: an MCP server over stdio (``ServerCommand``).

The sandbox of ``code.python``, for a program rather than a job: bubblewrap with its own
user, PID, IPC, UTS and cgroup namespaces, the network namespace unless the server may use
the network, the user ``nobody``, the same seccomp filter, a private ``/tmp`` and
``/dev``, and a read-only view of:

- the system's programs and libraries (``/usr``, and ``/bin``, ``/lib``, ... as this host
  has them), and the few files of ``/etc`` programs read to start (the loader's cache, the
  users, TLS certificates; with the network, name resolution);
- the command itself when it lies elsewhere, and the ``paths`` its credential names (a
  server's own installation), each at the path it has here.

Never the data dir (a credential naming it, or a folder holding it, is refused), nor
``/home``, ``/root`` or anything else unnamed. The environment is the credential's ``env``
over ``PATH``, ``HOME`` and ``LANG``, nothing of the server's own.

Limits (``ServerLimits``), set with ``prlimit`` (util-linux) right before the command:
memory as ``RLIMIT_DATA`` (heap and private writable mappings, what a program uses;
not ``RLIMIT_AS``, as code's, which counts the address space runtimes such as Node's or
Go's reserve without using, and stops them starting at all), CPU seconds over the
process's life (``RLIMIT_CPU``: the kernel ends it with ``SIGXCPU``), processes and
threads (``RLIMIT_NPROC``), open files, no core dumps. A credential may ask for less or
more than the defaults, up to the host's maxima. ``ending`` says which limit a server that
ended ran into, when its end shows it (the signal, what it wrote to its standard error).

Rejected: the code node's per-job interpreter (``tav.sandbox.process``): an MCP server
lives for many calls and speaks its own protocol on its standard input and output. Its
view is wider than code's (a server is a program of the admin's choosing, run with what
it needs). Cgroups (a memory limit counting what is resident, a CPU share rather than a
budget): not delegated to an unprivileged server, nor the same on every host.

As root, bubblewrap waits while its users are mapped (``tav.sandbox.users``), and
``setpriv`` drops to ``nobody`` before the command starts.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import anyio.abc

from tav.core.errors import NodeError
from tav.nodes.mcp import ServerCommand
from tav.sandbox import seccomp
from tav.sandbox.users import (
    SANDBOX_UID,
    SandboxUnavailable,
    isolated,
    map_users,
    read_child,
)
from tav.sandbox.view import _Files, _inside

_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/passwd",
    "/etc/group",
    "/etc/localtime",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/mime.types",
)
_NETWORK_ETC = (
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/gai.conf",
    "/etc/host.conf",
)
TMP_BYTES = 64 * 1024 * 1024
PATH = "/usr/local/bin:/usr/bin:/bin"
KILL_WAIT_S = 2
ENV_BYTES = 60_000
"""Largest env a server is given (written at once to a pipe, whose buffer is 64 KiB)."""


MIB = 1024 * 1024
_OUT_OF_MEMORY = re.compile(
    r"MemoryError|out of memory|Cannot allocate memory|bad_alloc|failed to allocate",
    re.IGNORECASE,
)
"""What runtimes write as they die of a failed allocation (Python, Node, C++, Rust, Go)."""


class CommandRefused(Exception):
    """A command this host will not run: a path it may not show, a program not found."""


@dataclass(frozen=True, slots=True)
class Bounds:
    """The limits one server runs under."""

    memory_mb: int
    cpu_s: int
    processes: int
    open_files: int

    def prlimit(self, program: str) -> list[str]:
        """``prlimit``'s command line setting these on itself, before the command."""
        return [
            program,
            f"--data={self.memory_mb * MIB}",
            f"--cpu={self.cpu_s}:{self.cpu_s + 1}",
            f"--nproc={self.processes}",
            f"--nofile={self.open_files}",
            "--core=0",
            "--",
        ]


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """The limits of stdio servers: what one gets when its credential names none, and
    the most it may ask for (``TAV_MCP_MAX_MEMORY_MB``, ``TAV_MCP_MAX_CPU_S``,
    ``TAV_MCP_MAX_PROCESSES``)."""

    memory_mb: int = 512
    cpu_s: int = 600
    processes: int = 32
    max_memory_mb: int = 2048
    max_cpu_s: int = 3600
    max_processes: int = 64
    open_files: int = 1024

    def of(self, command: ServerCommand) -> Bounds:
        """``command``'s limits; ``CommandRefused`` when it asks for more than a maximum."""
        return Bounds(
            memory_mb=_within("memory_mb", command.memory_mb, self.memory_mb, self.max_memory_mb),
            cpu_s=_within("cpu_s", command.cpu_s, self.cpu_s, self.max_cpu_s),
            processes=_within(
                "max_processes", command.max_processes, self.processes, self.max_processes
            ),
            open_files=self.open_files,
        )


_SETTINGS = {
    "memory_mb": "TAV_MCP_MAX_MEMORY_MB",
    "cpu_s": "TAV_MCP_MAX_CPU_S",
    "max_processes": "TAV_MCP_MAX_PROCESSES",
}


def _within(field: str, asked: int | None, default: int, most: int) -> int:
    if asked is None:
        return min(default, most)
    if asked > most:
        raise CommandRefused(
            f"{field} {asked} is more than this server allows a stdio MCP server "
            f"({_SETTINGS[field]}={most})"
        )
    return asked


def ending(bounds: Bounds, returncode: int | None, said: str) -> str | None:
    """Which limit a server that ended ran into, when its end shows it: the signal the
    kernel ended it with (``returncode``: bubblewrap's ``128 + signal``, or ``-signal``
    without it), or what it wrote as it died (``said``)."""
    signal_number = _signal_of(returncode)
    if signal_number == signal.SIGXCPU:
        return f"it used more than its {bounds.cpu_s} s of CPU (cpu_s)"
    if _OUT_OF_MEMORY.search(said):
        return f"it ran out of its {bounds.memory_mb} MiB of memory (memory_mb)"
    if signal_number == signal.SIGKILL:
        return (
            f"it was killed: past its {bounds.cpu_s} s of CPU (cpu_s), or out of the "
            "machine's memory"
        )
    return None


def _signal_of(returncode: int | None) -> int | None:
    if returncode is None:
        return None
    if returncode < 0:
        return -returncode
    return returncode - 128 if returncode > 128 else None


@dataclass(frozen=True, slots=True)
class CommandSandbox:
    """Starts ``ServerCommand``\\s under bubblewrap (or, unsafe, as they are)."""

    bwrap: str = "bwrap"
    unsafe_no_sandbox: bool = False
    private: tuple[str, ...] = ()
    """Folders no command may see (the data dir)."""
    limits: ServerLimits = ServerLimits()

    def ending(self, command: ServerCommand, returncode: int | None, said: str) -> str | None:
        """Which limit ``command``'s server ran into as it ended, when that shows."""
        return ending(self.limits.of(command), returncode, said)

    @asynccontextmanager
    async def open(self, command: ServerCommand) -> AsyncIterator[anyio.abc.Process]:
        """The running command, its standard input, output and error piped; killed, with
        whatever it started, when the block ends. ``NodeError`` when it cannot start
        (``mcp_not_allowed``: what it names may not be shown; ``sandbox_unavailable``)."""
        try:
            async with self._open(command) as process:
                yield process
        except CommandRefused as exc:
            raise NodeError(str(exc), type="mcp_not_allowed") from None
        except SandboxUnavailable as exc:
            raise NodeError(str(exc), type="sandbox_unavailable") from None

    @asynccontextmanager
    async def _open(self, command: ServerCommand) -> AsyncIterator[anyio.abc.Process]:
        if self.unsafe_no_sandbox:
            process = await anyio.open_process(
                [*self._limited(command), command.command, *command.args],
                env={"PATH": PATH, "HOME": "/tmp", "LANG": "C.UTF-8", **command.env},
                cwd=command.cwd,
                start_new_session=True,
            )
            child = None
        else:
            process, child = await self._start(command)
        try:
            yield process
        finally:
            await _kill(process, child)

    async def _start(self, command: ServerCommand) -> tuple[anyio.abc.Process, int | None]:
        bwrap = shutil.which(self.bwrap)
        if bwrap is None:
            raise SandboxUnavailable(
                f"bubblewrap ({self.bwrap}) is not installed; stdio MCP servers run in the "
                "code sandbox (Debian's bubblewrap package)"
            )
        argv = [bwrap, *self.options(command)]
        limited = self._limited(command)  # (before any file descriptor is opened)
        root = os.geteuid() == 0
        children: list[int] = []
        env = _env_arguments(command.env)
        if env:  # through a pipe: bubblewrap's command line is anyone's to read (ps)
            env_read, env_write = os.pipe()
            os.write(env_write, env)
            os.close(env_write)
            children.append(env_read)
            argv += ["--args", str(env_read)]
        info, info_child = os.pipe()
        children.append(info_child)
        argv += ["--info-fd", str(info_child)]
        block = None
        if root:
            block_child, block = os.pipe()
            children.append(block_child)
            argv += ["--userns-block-fd", str(block_child)]
        program = seccomp.program()
        if program is not None:
            filter_read, filter_write = os.pipe()
            os.write(filter_write, program)
            os.close(filter_write)
            children.append(filter_read)
            argv += ["--seccomp", str(filter_read)]
        drop = ["setpriv", f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups"]
        argv += ["--", *([*drop, "--"] if root else []), *limited, command.command, *command.args]
        try:
            process = await anyio.open_process(
                argv, pass_fds=children, start_new_session=True, env={}
            )
        except BaseException:
            for fd in (info, block):
                if fd is not None:
                    os.close(fd)
            raise
        finally:
            for fd in children:
                os.close(fd)
        pidfd = None
        try:
            child = await read_child(info)
            pidfd = _pidfd(child)
            if block is not None:
                map_users(child, block)
                block = None
        except BaseException:
            if block is not None:
                os.close(block)
            await _kill(process, pidfd)
            raise
        return process, pidfd

    def _limited(self, command: ServerCommand) -> list[str]:
        """``prlimit`` and its options, to put before the command."""
        bounds = self.limits.of(command)
        program = shutil.which("prlimit", path=PATH)
        if program is None:
            raise SandboxUnavailable(
                "prlimit (util-linux) is not installed; it sets a stdio MCP server's limits"
            )
        return bounds.prlimit(program)

    def options(self, command: ServerCommand) -> list[str]:
        """bubblewrap's options for ``command``: namespaces, the user, the view."""
        env = {"PATH": PATH, "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8"}
        return [
            *isolated(network=command.network, hostname="tav-mcp", env=env),
            *self._view(command),
            *("--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev"),
            *("--perms", "1777", "--size", str(TMP_BYTES), "--tmpfs", "/tmp"),
            *("--remount-ro", "/", "--chdir", command.cwd or "/tmp"),
        ]

    def _view(self, command: ServerCommand) -> list[str]:
        args: list[str] = []
        for folder in _SYSTEM:
            if os.path.islink(folder):
                args += ["--symlink", os.readlink(folder), folder]
            elif os.path.isdir(folder):
                args += ["--ro-bind", folder, folder]
        for name in (*_ETC, *(_NETWORK_ETC if command.network else ())):
            if os.path.exists(name):
                args += ["--ro-bind", name, name]
        files = _Files()
        for path in (*command.paths, *self._program(command)):
            self._check(path)
            if not os.path.exists(path):
                raise CommandRefused(f"{path} does not exist on this machine")
            files.add(path)
        view = files.view("", [])
        kept = [
            (source, dest)
            for source, dest in view.binds
            if not any(_inside(dest, folder) for folder in _SYSTEM)
        ]
        links = [(t, link) for t, link in view.links if not link.startswith(_SYSTEM)]
        for source, _ in kept:
            self._check(source)
        return args + type(view)("", tuple(kept), tuple(links), ()).arguments()

    def _program(self, command: ServerCommand) -> list[str]:
        """The command's file, when it is not among the system's programs."""
        found = shutil.which(command.command, path=PATH if "/" not in command.command else None)
        if found is None:
            raise CommandRefused(
                f"{command.command!r} is not a program on this machine (give its full path, "
                "or a name in /usr/local/bin, /usr/bin or /bin)"
            )
        return [] if any(_inside(found, folder) for folder in _SYSTEM) else [found]

    def _check(self, path: str) -> None:
        real = os.path.realpath(path)
        for private in self.private:
            folder = os.path.realpath(private)
            if _inside(real, folder) or _inside(folder, real):
                raise CommandRefused(
                    f"{path}: an MCP server may not see TAV's data dir ({private})"
                )


def _env_arguments(env: Mapping[str, str]) -> bytes:
    """``--setenv`` options for ``env`` (a credential's secrets), as ``--args`` reads them:
    NUL-terminated."""
    parts = [part for name, value in env.items() for part in ("--setenv", name, value)]
    data = b"".join(part.encode() + b"\0" for part in parts)
    if len(data) > ENV_BYTES:
        raise CommandRefused(f"the server's env is larger than {ENV_BYTES} bytes")
    if any("\0" in part for part in parts):
        raise CommandRefused("the server's env holds a NUL character")
    return data


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


async def _kill(process: anyio.abc.Process, child: int | None) -> None:
    """Kill bubblewrap (or the command) and its group, and the command in the sandbox."""
    # (Its group, which is its own: not ``process.kill()`` after it, which would reap it
    # under asyncio's child watcher, and have it report a status of 255.)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    if child is not None:
        with contextlib.suppress(ProcessLookupError, OSError):
            signal.pidfd_send_signal(child, signal.SIGKILL)
        os.close(child)
    with anyio.move_on_after(KILL_WAIT_S, shield=True):
        with contextlib.suppress(OSError, anyio.BrokenResourceError):
            await process.aclose()
    # (anyio leaves asyncio's transport to the garbage collector, which may find the loop
    # closed: closed here, as the SDK's stdio client does.)
    transport = getattr(getattr(process, "_process", None), "_transport", None)
    close = getattr(transport, "close", None)
    if callable(close):
        with contextlib.suppress(PermissionError):
            close()
