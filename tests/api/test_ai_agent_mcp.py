"""ai.agent with MCP servers as tool sources (``{"mcp": credential}``): the SDK's server over
streamable HTTP and over stdio in the sandbox, through the real chat service against the
fake provider servers (``tests.fakes.llm``)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tav.app.server import Server
from tests.api.helpers import run_to_end, stored
from tests.fakes.llm import FakeProviders, Reply
from tests.fakes.mcp import http_tools_server, stdio_data
from tests.helpers import document, node


@pytest.fixture
def database() -> str:
    return "sqlite"


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    with http_tools_server() as url:
        yield url


async def agent(server: Server, fake: FakeProviders, tools: list[Any]) -> str:
    data = {"api_key": "sk-test", "base_url": fake.url("openai")}
    model = await server.parts.credentials.create("Fake OpenAI", "openai", data)
    return await stored(
        server,
        document(
            node("start", "trigger.manual"),
            node(
                "agent",
                "ai.agent",
                params={
                    "prompt": "{{ trigger.question }}",
                    "tools": tools,
                    "models": [{"credential": model.id, "model": "gpt-test"}],
                },
            ),
            node("out", "core.output"),
            links=("start -> agent", "agent -> out"),
        ),
    )


async def mcp_server(server: Server, data: dict[str, Any], name: str) -> str:
    return (await server.parts.credentials.create(name, "mcp_server", data)).id


async def test_the_agent_calls_a_tool_of_an_http_server_and_answers(
    client, server, fake_llm, mcp_url
):
    tools = await mcp_server(server, {"transport": "http", "url": mcp_url}, "remote")
    agent_id = await agent(server, fake_llm, [{"mcp": tools, "tools": ["add", "fail"]}])
    fake_llm.reply(
        "openai",
        Reply(
            tool_calls=[
                {"name": "add", "arguments": {"a": 40, "b": 2}},
                {"name": "fail", "arguments": {"reason": "testing"}},
            ]
        ),
        Reply(text="40 + 2 is 42."),
    )
    execution = await run_to_end(client, agent_id, input={"question": "40 + 2?"})

    assert execution["status"] == "succeeded", execution
    added, failed = execution["output"]["steps"]
    assert added == {"tool": "add", "arguments": {"a": 40, "b": 2}, "output": {"sum": 42}}
    assert "failed on purpose: testing" in failed["error"]

    first, second = (r.json for r in fake_llm.requests_to("openai"))
    offered = {tool["function"]["name"]: tool["function"] for tool in first["tools"]}
    assert set(offered) == {"add", "fail"}
    assert offered["add"]["description"] == "Adds two integers."
    assert offered["add"]["parameters"]["required"] == ["a", "b"]
    told = [m for m in second["messages"] if m["role"] == "tool"]
    assert '"sum": 42' in told[0]["content"]
    assert told[1]["content"].startswith("Error:")


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is missing")
async def test_the_agent_uses_every_tool_of_a_stdio_server_beside_an_http_one(
    client, server, fake_llm, mcp_url
):
    local = await mcp_server(server, stdio_data(), "local")
    remote = await mcp_server(server, {"transport": "http", "url": mcp_url}, "remote")
    agent_id = await agent(server, fake_llm, [{"mcp": local}, {"mcp": remote, "tools": ["echo"]}])
    fake_llm.reply(
        "openai",
        Reply(
            tool_calls=[
                {"name": "whoami", "arguments": {}},
                {"name": "echo_2", "arguments": {"text": "hi"}},
            ]
        ),
        Reply(text="Done."),
    )
    execution = await run_to_end(client, agent_id, input={"question": "Who are you?"})

    assert execution["status"] == "succeeded", execution
    who, echoed = execution["output"]["steps"]
    assert who["output"]["uid"] == 65534
    assert echoed["output"] == {"result": "echo: hi"}
    (first, _) = (r.json for r in fake_llm.requests_to("openai"))
    names = [tool["function"]["name"] for tool in first["tools"]]
    assert "whoami" in names
    assert "echo" in names  # the stdio server's
    assert "echo_2" in names  # the HTTP server's, named apart


async def test_a_tool_the_server_does_not_offer_fails_the_node(client, server, fake_llm, mcp_url):
    tools = await mcp_server(server, {"transport": "http", "url": mcp_url}, "remote")
    agent_id = await agent(server, fake_llm, [{"mcp": tools, "tools": ["add", "nothing"]}])
    execution = await run_to_end(client, agent_id, input={"question": "?"})

    assert execution["status"] == "failed"
    error = execution["nodes"]["agent"]["error"]
    assert error["type"] == "tool_not_found"
    assert "offers no tool 'nothing'" in error["message"]
