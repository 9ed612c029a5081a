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

Rejected: the code node's per-job interpreter (``tav.sandbox.process``): an MCP server
lives for many calls and speaks its own protocol on its standard input and output. Its
view is wider than code's (a server is a program of the admin's choosing, run with what
it needs), its limits are the process's own (no CPU or memory limit: a server is long
lived; the call timeout bounds each call).

As root, bubblewrap waits while its users are mapped (``tav.sandbox.users``), and
``setpriv`` drops to ``nobody`` before the command starts.
"""

from __future__ import annotations

import contextlib
import os
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
from tav.sandbox.users import SANDBOX_UID, SandboxUnavailable, map_users, read_child
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


class CommandRefused(Exception):
    """A command this host will not run: a path it may not show, a program not found."""


@dataclass(frozen=True, slots=True)
class CommandSandbox:
    """Starts ``ServerCommand``\\s under bubblewrap (or, unsafe, as they are)."""

    bwrap: str = "bwrap"
    unsafe_no_sandbox: bool = False
    private: tuple[str, ...] = ()
    """Folders no command may see (the data dir)."""

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
                [command.command, *command.args],
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
        argv += ["--", *([*drop, "--"] if root else []), command.command, *command.args]
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

    def options(self, command: ServerCommand) -> list[str]:
        """bubblewrap's options for ``command``: namespaces, the user, the view."""
        users = (
            []
            if os.geteuid() == 0
            else ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--disable-userns"]
        )
        env = {"PATH": PATH, "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8"}
        return [
            "--unshare-user",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            *([] if command.network else ["--unshare-net"]),
            *users,
            "--die-with-parent",
            "--new-session",
            "--clearenv",
            *(arg for name, value in env.items() for arg in ("--setenv", name, value)),
            "--hostname",
            "tav-mcp",
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
