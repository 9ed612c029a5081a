"""ai.agent with MCP servers as tool sources (``{"mcp": credential}``): the SDK's server over
streamable HTTP and over stdio in the sandbox, through the real chat service against the
fake provider servers (``tests.fakes.llm``)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tav.app.server import Server
from tests.api.helpers import ended, run_to_end, stored, until
from tests.api.test_ai_agent_approvals import decide, open_wait, parked
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


async def test_a_tool_of_a_server_named_for_approval_waits_and_runs_with_the_edited_arguments(
    client, server, fake_llm, mcp_url
):
    """``approval: {tools: [...]}``: only calls of the tools named wait; the form is the
    tool's input schema, prefilled with the model's arguments; approved with others, the
    tool runs with those."""
    remote = await mcp_server(server, {"transport": "http", "url": mcp_url}, "remote")
    source = {"mcp": remote, "tools": ["add", "echo"], "approval": {"tools": ["add"]}}
    agent_id = await agent(server, fake_llm, [source])
    fake_llm.reply(
        "openai",
        Reply(
            tool_calls=[
                {"name": "add", "arguments": {"a": 40, "b": 2}},
                {"name": "echo", "arguments": {"text": "free"}},
            ]
        ),
        Reply(text="1 + 2 is 3."),
    )
    execution = await parked(client, agent_id, "40 + 2?")
    execution_id = execution["execution_id"]
    wait = await open_wait(client, execution_id)
    progress = execution["nodes"]["agent"]
    await decide(client, execution_id, decision="approve", data={"a": 1}, comment="smaller")
    finished = await until(client, execution_id, ended, within_s=15)

    assert progress["status"] == "waiting"
    assert wait["title"] == "Allow the agent to call add?"
    assert wait["tool_call"] == {
        "tool": "add",
        "description": "Adds two integers.",
        "arguments": {"a": 40, "b": 2},
        "workflow": None,
    }
    assert wait["fields"]["properties"]["a"]["default"] == 40
    assert wait["fields"]["properties"]["b"]["default"] == 2
    assert wait["fields"]["required"] == ["a", "b"]
    assert finished["status"] == "succeeded", finished
    added, echoed = finished["output"]["steps"]
    assert added["arguments"] == {"a": 1, "b": 2}
    assert added["output"] == {"sum": 3}
    assert added["approval"]["decision"] == "approve"
    assert added["approval"]["asked"] == {"a": 40, "b": 2}
    assert echoed == {
        "tool": "echo",
        "arguments": {"text": "free"},
        "output": {"result": "echo: free"},
    }
    requests = [r.json for r in fake_llm.requests_to("openai")]
    assert len(requests) == 2
    told = [m for m in requests[1]["messages"] if m["role"] == "tool"]
    assert '"sum": 3' in told[0]["content"]


async def test_a_rejected_call_of_a_server_needing_approval_is_told_to_the_model(
    client, server, fake_llm, mcp_url
):
    """``approval: true``: every tool of the server waits; rejected, the tool does not run
    and the model reads the comment."""
    remote = await mcp_server(server, {"transport": "http", "url": mcp_url}, "remote")
    agent_id = await agent(server, fake_llm, [{"mcp": remote, "approval": True}])
    fake_llm.reply(
        "openai",
        Reply(tool_calls=[{"name": "echo", "arguments": {"text": "secret"}}]),
        Reply(text="I may not."),
    )
    execution = await parked(client, agent_id, "Echo it")
    execution_id = execution["execution_id"]
    await decide(client, execution_id, decision="reject", comment="not that")
    finished = await until(client, execution_id, ended, within_s=15)

    assert finished["status"] == "succeeded", finished
    (step,) = finished["output"]["steps"]
    assert step["approval"]["decision"] == "reject"
    assert step.get("output") is None  # it did not run
    told = [m for m in fake_llm.requests_to("openai")[1].json["messages"] if m["role"] == "tool"]
    assert told[0]["content"].startswith("Rejected:")
    assert '"not that"' in told[0]["content"]


async def test_an_approval_naming_a_tool_not_given_fails_the_node(
    client, server, fake_llm, mcp_url
):
    remote = await mcp_server(server, {"transport": "http", "url": mcp_url}, "remote")
    source = {"mcp": remote, "tools": ["add"], "approval": {"tools": ["echo"]}}
    agent_id = await agent(server, fake_llm, [source])
    execution = await run_to_end(client, agent_id, input={"question": "?"})

    assert execution["status"] == "failed"
    error = execution["nodes"]["agent"]["error"]
    assert error["type"] == "tool_not_found"
    assert error["message"] == (
        "the approval of MCP server 'remote' names 'echo', not among the tools the agent "
        "gives the model from it (add)"
    )
    assert fake_llm.requests_to("openai") == []
