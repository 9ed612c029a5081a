"""``McpPool``: a stdio server kept running between calls, stopped when idle and at shutdown;
the tool list cached briefly; a changed credential gets a new connection. Real SDK servers
(``tests.fakes.mcp``), the stdio one in the sandbox."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path

import pytest

from tav.core.errors import NodeError
from tav.nodes.context import Credential
from tav.nodes.mcp import ServerCommand
from tav.nodes.outbound.policy import OutboundPolicy
from tav.sandbox.command import CommandSandbox, ServerLimits
from tav.services.mcp import McpPool
from tests.fakes.mcp import garbage_http_server, http_tools_server, stdio_data

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is missing")


def running(marker: str) -> list[int]:
    """The processes whose command line holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return [pid for pid in found if pid != os.getpid()]


async def gone(marker: str, within_s: float = 3) -> bool:
    """Whether the processes of ``marker`` end within ``within_s`` (the kernel ends those
    in a sandbox once bubblewrap is killed, not at once)."""
    for _ in range(int(within_s / 0.05)):
        if not running(marker):
            return True
        await asyncio.sleep(0.05)
    return False


def stdio(marker: str, **extra: object) -> Credential:
    data = stdio_data(**extra)
    data["args"] = [*data["args"], marker]  # (the server reads only its first argument)
    return Credential(id="local", name="local", kind="mcp_server", data=data)


def pool(tmp_path: Path, **options: float) -> McpPool:
    sandbox = CommandSandbox(private=(str(tmp_path / "data"),))
    return McpPool(launcher=sandbox, outbound=OutboundPolicy(), **options)


async def test_a_stdio_server_runs_until_the_pool_closes(tmp_path):
    marker = f"marker-{uuid.uuid4()}"
    mcp = pool(tmp_path)
    try:
        first = await mcp.call_tool(stdio(marker), "whoami", {})
        assert running(marker)
        second = await mcp.call_tool(stdio(marker), "whoami", {})
        assert first.structured["pid"] == second.structured["pid"]
    finally:
        await mcp.aclose()
    assert await gone(marker)


async def test_an_idle_stdio_server_is_stopped_and_started_again_when_needed(tmp_path):
    marker = f"marker-{uuid.uuid4()}"
    mcp = pool(tmp_path, idle_s=0.3)
    try:
        await mcp.call_tool(stdio(marker), "echo", {"text": "x"})
        assert running(marker)
        await asyncio.sleep(1.5)
        assert await gone(marker)
        answer = await mcp.call_tool(stdio(marker), "echo", {"text": "again"})
        assert answer.structured == {"result": "echo: again"}
    finally:
        await mcp.aclose()


async def test_a_changed_credential_gets_a_new_server(tmp_path):
    marker = f"marker-{uuid.uuid4()}"
    mcp = pool(tmp_path)
    try:
        await mcp.call_tool(stdio(marker), "echo", {"text": "x"})
        before = set(running(marker))  # bubblewrap, and the server in the sandbox
        changed = stdio(marker, env={"A": "b"})
        await mcp.call_tool(changed, "echo", {"text": "x"})
        await asyncio.sleep(0.5)
        after = set(running(marker))
        assert before
        assert after
        assert not before & after
    finally:
        await mcp.aclose()


async def test_the_tool_list_is_cached_briefly(tmp_path):
    with http_tools_server() as url:
        remote = Credential("r", "remote", "mcp_server", {"transport": "http", "url": url})
        mcp = pool(tmp_path, tools_ttl_s=0.5)
        try:
            first = await mcp.list_tools(remote)
            cached = await mcp.list_tools(remote)
            await asyncio.sleep(0.6)
            fresh = await mcp.list_tools(remote)
        finally:
            await mcp.aclose()
    assert cached is first
    assert fresh is not first
    assert [t.name for t in fresh] == [t.name for t in first]


async def test_the_env_reaches_the_server_and_no_command_line(tmp_path):
    secret = f"s3cret-{uuid.uuid4()}"
    mcp = pool(tmp_path)
    try:
        answer = await mcp.call_tool(
            stdio("env-test", env={"API_TOKEN": secret}), "env", {"name": "API_TOKEN"}
        )
        assert answer.structured == {"result": secret}
        assert running(secret) == []  # not in bubblewrap's arguments, which anyone can read
    finally:
        await mcp.aclose()


async def test_calls_right_after_a_server_died_start_one_server_again(tmp_path):
    marker = f"marker-{uuid.uuid4()}"
    mcp = pool(tmp_path)
    try:
        await mcp.call_tool(stdio(marker), "whoami", {})
        with pytest.raises(NodeError) as died:
            await mcp.call_tool(stdio(marker), "die", {})
        assert died.value.type == "mcp_unavailable"
        answers = await asyncio.gather(
            *(mcp.call_tool(stdio(marker), "whoami", {}) for _ in range(5))
        )
        assert len({answer.structured["pid"] for answer in answers}) == 1
        await asyncio.sleep(0.5)
        assert len(running(marker)) == 3  # bubblewrap, its init in the sandbox, one server
    finally:
        await mcp.aclose()
    assert await gone(marker)


async def _under_uvloop(tmp_path: Path, marker: str) -> dict[str, object]:
    mcp = pool(tmp_path)
    seen: dict[str, object] = {}
    try:
        seen["add"] = (await mcp.call_tool(stdio(marker), "add", {"a": 1, "b": 2})).structured
        try:
            await mcp.call_tool(stdio(marker), "die", {})
        except NodeError as exc:
            seen["die"] = exc.type
        seen["again"] = (await mcp.call_tool(stdio(marker), "echo", {"text": "x"})).structured
    finally:
        await mcp.aclose()
    seen["gone"] = await gone(marker)
    return seen


def test_a_stdio_server_runs_dies_and_starts_again_the_same_under_uvloop(tmp_path):
    """uvloop is the loop of ``tav serve`` (uvicorn's): its subprocess transports are not
    asyncio's."""
    uvloop = pytest.importorskip("uvloop")
    marker = f"marker-{uuid.uuid4()}"
    assert uvloop.run(_under_uvloop(tmp_path, marker)) == {
        "add": {"sum": 3},
        "die": "mcp_unavailable",
        "again": {"result": "echo: x"},
        "gone": True,
    }


async def test_an_answer_larger_than_the_outbound_limit_is_a_protocol_error(tmp_path):
    with garbage_http_server(huge=True) as url:
        huge = Credential("h", "huge", "mcp_server", {"transport": "http", "url": url})
        mcp = McpPool(launcher=None, outbound=OutboundPolicy(max_response_bytes=1_000_000))
        try:
            with pytest.raises(NodeError) as refused:
                await mcp.call_tool(huge, "echo", {"text": "x"})
        finally:
            await mcp.aclose()
    assert refused.value.type == "mcp_protocol_error"
    assert "larger than 1000000 bytes" in refused.value.message


async def test_a_server_past_its_memory_limit_dies_saying_so_and_starts_again(tmp_path):
    """The limit is the kernel's (``RLIMIT_DATA``): without it, the 256 MiB are given."""
    marker = f"marker-{uuid.uuid4()}"
    mcp = pool(tmp_path)
    server = stdio(marker, memory_mb=128)
    try:
        held = await mcp.call_tool(server, "hog", {"mb": 32})
        before = set(running(marker))
        with pytest.raises(NodeError) as died:
            await mcp.call_tool(server, "hog", {"mb": 256})
        again = await mcp.call_tool(server, "hog", {"mb": 32})
        after = set(running(marker))
    finally:
        await mcp.aclose()

    assert held.structured == {"result": 32}
    assert died.value.type == "mcp_unavailable"
    assert died.value.retryable
    assert died.value.message == (
        "MCP server 'local' ended while calling tool 'hog': it ran out of its 128 MiB of "
        "memory (memory_mb); it starts again on the next call"
    )
    assert again.structured == {"result": 32}  # a new server, holding nothing yet
    assert before
    assert not before & after


async def test_a_server_past_its_cpu_limit_is_ended_by_the_kernel_saying_so(tmp_path):
    marker = f"marker-{uuid.uuid4()}"
    mcp = pool(tmp_path)
    server = stdio(marker, cpu_s=1, call_timeout_s=20)
    try:
        await mcp.call_tool(server, "whoami", {})
        before = set(running(marker))
        started = asyncio.get_running_loop().time()
        with pytest.raises(NodeError) as died:
            await mcp.call_tool(server, "spin", {"seconds": 15})
        took = asyncio.get_running_loop().time() - started
        again = await mcp.call_tool(server, "echo", {"text": "again"})
        after = set(running(marker))
    finally:
        await mcp.aclose()

    assert died.value.type == "mcp_unavailable"
    assert died.value.message == (
        "MCP server 'local' ended while calling tool 'spin': it used more than its 1 s of "
        "CPU (cpu_s); it starts again on the next call"
    )
    assert took < 10
    assert again.structured == {"result": "echo: again"}
    assert before
    assert not before & after


async def test_a_server_may_not_ask_for_more_than_the_hosts_maximum(tmp_path):
    sandbox = CommandSandbox(
        private=(str(tmp_path / "data"),), limits=ServerLimits(max_memory_mb=256)
    )
    mcp = McpPool(launcher=sandbox, outbound=OutboundPolicy())
    try:
        with pytest.raises(NodeError) as refused:
            await mcp.call_tool(stdio("too-much", memory_mb=512), "whoami", {})
        within = await mcp.call_tool(stdio("within", memory_mb=256), "hog", {"mb": 64})
    finally:
        await mcp.aclose()

    assert refused.value.type == "mcp_not_allowed"
    assert refused.value.message == (
        "MCP server 'local': memory_mb 512 is more than this server allows a stdio MCP "
        "server (TAV_MCP_MAX_MEMORY_MB=256)"
    )
    assert within.structured == {"result": 64}


def test_the_limits_are_set_before_the_command_and_a_default_is_capped_by_its_maximum():
    sandbox = CommandSandbox(limits=ServerLimits(max_memory_mb=256, max_processes=8))
    command = ServerCommand(command="/usr/bin/true", cpu_s=30)

    line = sandbox._limited(command)

    assert line[1:] == [
        f"--data={256 * 1024 * 1024}",
        "--cpu=30:31",
        "--nproc=8",
        "--nofile=1024",
        "--core=0",
        "--",
    ]
