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


class SandboxUnavailable(Exception):
    """The sandbox cannot be started here: bubblewrap is missing or cannot make its
    namespaces. The message says which, with bubblewrap's own words."""


async def map_users(info: int, block: int) -> None:
    """Map root and ``SANDBOX_UID`` to themselves in bubblewrap's new user namespace, then
    let it go on."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(info, "rb", 0)
    )
    try:
        async with asyncio.timeout(START_TIMEOUT_S):
            text = (await reader.readuntil(b"}")).decode()
        _write_maps(int(json.loads(text)["child-pid"]))
        os.write(block, b"1")
    except (ValueError, KeyError, OSError, asyncio.IncompleteReadError) as exc:
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
