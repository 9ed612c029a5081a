"""Mapping the sandbox's users, for a server running as root.

bubblewrap maps the sandbox's user to the caller's, which for root would make the code
root outside the namespaces: exempt from the process limit (``RLIMIT_NPROC``), and owner
of every root-owned file it sees. So as root, bubblewrap waits (``--userns-block-fd``)
while the server maps root and ``SANDBOX_UID`` to themselves, and the interpreter drops
to ``SANDBOX_UID`` for good before it does anything else (``entry.drop_privileges``).
"""

from __future__ import annotations

import asyncio
import json
import os

SANDBOX_UID = 65534
"""The unprivileged user (``nobody``) code runs as."""
START_TIMEOUT_S = 30


def isolated(*, network: bool, hostname: str, env: dict[str, str]) -> list[str]:
    """bubblewrap's options every sandbox starts with: its own namespaces (the network's
    too unless ``network``), its user (as root, mapped by the server: ``map_users``), a
    session of its own, ended with its parent, and only ``env`` for environment."""
    users = (
        []  # the server maps the users itself
        if os.geteuid() == 0
        else ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--disable-userns"]
    )
    return [
        "--unshare-user",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        *([] if network else ["--unshare-net"]),
        *users,
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        *(arg for name, value in env.items() for arg in ("--setenv", name, value)),
        "--hostname",
        hostname,
    ]


class SandboxUnavailable(Exception):
    """The sandbox cannot be started here: bubblewrap is missing or cannot make its
    namespaces. The message says which, with bubblewrap's own words."""


async def read_child(info: int) -> int:
    """The process bubblewrap starts in the new namespaces, from what it writes to its
    ``--info-fd`` (``info``, closed here); ``SandboxUnavailable`` when it ends first."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    pipe = os.fdopen(info, "rb", 0)
    try:
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
    except BaseException:
        pipe.close()
        raise
    try:
        async with asyncio.timeout(START_TIMEOUT_S):
            text = (await reader.readuntil(b"}")).decode()
        return int(json.loads(text)["child-pid"])
    except (ValueError, KeyError, asyncio.IncompleteReadError, TimeoutError) as exc:
        raise SandboxUnavailable(f"bubblewrap did not say what it started: {exc}") from exc
    finally:
        transport.close()


def map_users(child: int, block: int) -> None:
    """Map root and ``SANDBOX_UID`` to themselves in the user namespace of ``child``, then
    let bubblewrap go on (through ``block``, closed here). (Writes to ``/proc`` that do
    not wait on a disk.)"""
    mapping = f"0 0 1\n{SANDBOX_UID} {SANDBOX_UID} 1\n"
    try:
        for name in ("uid_map", "gid_map"):
            with open(f"/proc/{child}/{name}", "w") as file:
                file.write(mapping)
        os.write(block, b"1")
    except OSError as exc:
        raise SandboxUnavailable(f"the sandbox's users could not be mapped: {exc}") from exc
    finally:
        os.close(block)
