"""The outbound policy on every request of an HTTP MCP server, not only on the first: each
new connection resolves the name, judges the addresses and connects to one it judged.

A real SDK server (``tests.fakes.mcp``) on 127.0.0.1, named ``localhost`` (the SDK's
server answers only that Host, or its address); what the name resolves to comes from a
resolver the test supplies and changes, as a DNS answer may (rebinding)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tav.core.errors import NodeError
from tav.nodes.context import Credential
from tav.nodes.outbound.policy import OutboundPolicy
from tav.services.mcp import McpPool
from tests.fakes.mcp import http_tools_server
from tests.security.test_outbound import fixed_resolver


@pytest.fixture(scope="module")
def mcp_port() -> Iterator[int]:
    with http_tools_server() as url:
        yield int(url.rsplit(":", 1)[1].split("/")[0])


def remote(url: str) -> Credential:
    return Credential("remote", "remote", "mcp_server", {"transport": "http", "url": url})


async def test_a_name_that_resolves_to_a_refused_address_later_is_refused_then(mcp_port: int):
    """The session's first connection went to an allowed address; a request that needs
    another connection (here, while a call holds the first) resolves the name again, and
    the metadata address it now answers is refused — nothing connects there."""
    names = {"localhost": "127.0.0.1"}
    calls: list[str] = []
    mcp = McpPool(launcher=None, outbound=OutboundPolicy(), resolver=fixed_resolver(names, calls))
    server = remote(f"http://localhost:{mcp_port}/mcp")
    try:
        first = await mcp.call_tool(server, "echo", {"text": "first"})
        hanging = asyncio.create_task(mcp.call_tool(server, "hang", {}))
        await asyncio.sleep(0.3)
        names["localhost"] = "169.254.169.254"
        with pytest.raises(NodeError) as refused:
            await mcp.call_tool(server, "echo", {"text": "second"})
        hanging.cancel()
    finally:
        await mcp.aclose()

    assert first.structured == {"result": "echo: first"}
    assert calls == ["localhost", "localhost"]  # once per connection
    assert refused.value.type == "mcp_not_allowed"
    assert refused.value.message == (
        f"MCP server 'remote' (http://localhost:{mcp_port}/mcp): refused by the outbound "
        "policy: localhost (169.254.169.254) is a link-local/metadata address"
    )


async def test_a_kept_connection_stays_with_the_address_it_was_judged_for(mcp_port: int):
    """Calls one after the other reuse the session's connection: the name is not resolved
    again, so the answer changing does not move it."""
    names = {"localhost": "127.0.0.1"}
    calls: list[str] = []
    mcp = McpPool(launcher=None, outbound=OutboundPolicy(), resolver=fixed_resolver(names, calls))
    server = remote(f"http://localhost:{mcp_port}/mcp")
    try:
        await mcp.call_tool(server, "echo", {"text": "first"})
        names["localhost"] = "169.254.169.254"
        again = await mcp.call_tool(server, "echo", {"text": "again"})
    finally:
        await mcp.aclose()

    assert again.structured == {"result": "echo: again"}
    assert calls == ["localhost"]


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        (OutboundPolicy(), "localhost (169.254.169.254) is a link-local/metadata address"),
        (
            OutboundPolicy(allow_private=False),
            "localhost (127.0.0.1) is a loopback address, and private addresses are refused "
            "(TAV_OUTBOUND_ALLOW_PRIVATE=false; TAV_OUTBOUND_ALLOW can allow this one)",
        ),
    ],
)
async def test_a_refused_address_is_refused_when_the_session_starts(
    mcp_port: int, policy: OutboundPolicy, reason: str
):
    answer = "169.254.169.254" if policy.allow_private else "127.0.0.1"
    mcp = McpPool(launcher=None, outbound=policy, resolver=fixed_resolver({"localhost": answer}))
    url = f"http://localhost:{mcp_port}/mcp"
    try:
        with pytest.raises(NodeError) as refused:
            await mcp.list_tools(remote(url))
    finally:
        await mcp.aclose()

    assert refused.value.type == "mcp_not_allowed"
    assert refused.value.message == (
        f"MCP server 'remote' ({url}): refused by the outbound policy: {reason}"
    )
