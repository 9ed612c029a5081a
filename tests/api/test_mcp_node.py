"""``mcp.call_tool`` against real MCP servers (the official SDK's, ``tests.fakes.mcp``): over
streamable HTTP as a process on 127.0.0.1, and over stdio in the code sandbox; servers
that hang, die mid-call and answer garbage."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tav.app.server import Server
from tests.api.helpers import run_to_end, stored
from tests.fakes.mcp import (
    garbage_http_server,
    garbage_stdio_data,
    http_tools_server,
    stdio_data,
)
from tests.helpers import document, node

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is missing")


@pytest.fixture
def database() -> str:
    return "sqlite"


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    with http_tools_server() as url:
        yield url


async def credential(server: Server, data: dict[str, Any], name: str = "tools") -> str:
    return (await server.parts.credentials.create(name, "mcp_server", data)).id


def calling(credential_id: str, tool: str, arguments: Any, **extra: Any) -> dict[str, Any]:
    return document(
        node("start", "trigger.manual"),
        node(
            "call",
            "mcp.call_tool",
            params={"credential": credential_id, "tool": tool, "arguments": arguments},
            **extra,
        ),
        node("out", "core.output"),
        links=("start -> call", "call -> out"),
        name=f"call {tool}",
    )


async def call(
    client: httpx.AsyncClient, server: Server, credential_id: str, tool: str, arguments: Any
) -> dict[str, Any]:
    workflow_id = await stored(server, calling(credential_id, tool, arguments))
    return await run_to_end(client, workflow_id, input={"x": 20, "word": "hello"})


def error_of(execution: dict[str, Any]) -> dict[str, Any]:
    assert execution["status"] == "failed", execution
    return dict(execution["nodes"]["call"]["error"])


async def test_a_tool_over_http_with_templated_arguments(client, server, mcp_url):
    tools = await credential(server, {"transport": "http", "url": mcp_url})
    summed = await call(client, server, tools, "add", {"a": "{{ trigger.x }}", "b": 22})
    echoed = await call(client, server, tools, "echo", {"text": "{{ trigger.word }}"})

    assert summed["status"] == "succeeded", summed
    assert summed["output"] == {"sum": 42}
    assert echoed["output"] == {"result": "echo: hello"}


async def test_a_tool_error_and_bad_arguments_fail_the_node_with_the_servers_message(
    client, server, mcp_url
):
    tools = await credential(server, {"transport": "http", "url": mcp_url})
    failed = error_of(await call(client, server, tools, "fail", {"reason": "out of stock"}))
    refused = error_of(await call(client, server, tools, "add", {"a": "many"}))
    unknown = error_of(await call(client, server, tools, "nope", {}))

    assert failed["type"] == "mcp_tool_error"
    assert "failed on purpose: out of stock" in failed["message"]
    assert "'tools'" in failed["message"]
    assert refused["type"] == "mcp_tool_error"
    assert "valid integer" in refused["message"]
    assert unknown["type"] == "mcp_tool_error"
    assert "Unknown tool: nope" in unknown["message"]


async def test_an_image_is_stored_as_a_file_of_the_execution(client, server, mcp_url):
    tools = await credential(server, {"transport": "http", "url": mcp_url})
    workflow_id = await stored(
        server,
        document(
            node("start", "trigger.manual"),
            node("call", "mcp.call_tool", params={"credential": tools, "tool": "pixel"}),
            node("out", "core.output"),
            links=("start -> call", "call:media -> out"),
        ),
    )
    execution = await run_to_end(client, workflow_id)

    assert execution["status"] == "succeeded", execution
    (image,) = execution["output"]
    assert (image["kind"], image["mime_type"]) == ("image", "image/png")
    data = (await client.get(image["metadata"]["url"])).content
    assert data.startswith(b"\x89PNG")


async def test_the_connection_is_reused_across_runs(client, server, mcp_url):
    tools = await credential(server, {"transport": "http", "url": mcp_url})
    ports = [(await call(client, server, tools, "peer", {}))["output"] for _ in range(3)]
    assert ports[0]["result"] > 0
    assert ports == [ports[0]] * 3  # one TCP connection, from one client port


@needs_bwrap
async def test_a_stdio_server_runs_in_the_sandbox_without_the_network(client, server, mcp_url):
    local = await credential(server, stdio_data(env={"GREETING": "hi from env"}))
    port = int(mcp_url.rsplit(":", 1)[1].split("/")[0])  # something listening on 127.0.0.1
    who = await call(client, server, local, "whoami", {"port": port})
    env = await call(client, server, local, "env", {"name": "GREETING"})
    home = await call(client, server, local, "env", {"name": "TAV_DATA_DIR"})

    assert who["status"] == "succeeded", who
    assert who["output"]["uid"] == 65534  # nobody
    assert who["output"]["network"] != "connected"
    assert env["output"] == {"result": "***"}  # it arrived, and is redacted: env is secret
    assert home["output"] == {"result": ""}


@needs_bwrap
async def test_a_stdio_server_with_the_network_reaches_it(client, server, mcp_url):
    local = await credential(server, stdio_data(network=True))
    port = int(mcp_url.rsplit(":", 1)[1].split("/")[0])
    who = await call(client, server, local, "whoami", {"port": port})
    assert who["output"]["network"] == "connected", who


@needs_bwrap
async def test_a_stdio_server_may_not_see_the_data_dir(client, server):
    local = await credential(server, stdio_data(paths=[str(server.settings.data_dir)]))
    error = error_of(await call(client, server, local, "echo", {"text": "x"}))
    assert error["type"] == "mcp_not_allowed"
    assert "data dir" in error["message"]


@needs_bwrap
async def test_a_stdio_server_is_kept_warm_and_started_again_when_it_dies(client, server):
    local = await credential(server, stdio_data(), name="local")
    first = await call(client, server, local, "whoami", {})
    again = await call(client, server, local, "whoami", {})
    died = error_of(await call(client, server, local, "die", {}))
    restarted = await call(client, server, local, "whoami", {})

    assert first["output"]["pid"] == again["output"]["pid"]  # the same process
    assert died["type"] == "mcp_unavailable"
    assert "'local' closed the connection while calling tool 'die'" in died["message"]
    assert restarted["status"] == "succeeded", restarted


@needs_bwrap
async def test_a_hung_server_times_out_while_another_keeps_answering(client, server, mcp_url):
    slow = await credential(
        server, {"transport": "http", "url": mcp_url, "call_timeout_s": 2}, name="slow"
    )
    local = await credential(server, stdio_data(), name="local")
    await call(client, server, local, "whoami", {})  # started
    hung = asyncio.create_task(call(client, server, slow, "hang", {}))
    await asyncio.sleep(0.3)
    started = time.monotonic()
    answered = await call(client, server, local, "add", {"a": 2, "b": 3})
    meanwhile = time.monotonic() - started

    assert answered["output"] == {"sum": 5}
    assert meanwhile < 1.5
    assert not hung.done()
    error = error_of(await hung)
    assert error["type"] == "mcp_timeout"
    assert "'slow': tool 'hang' did not answer within 2 s" in error["message"]


async def test_a_server_answering_garbage_over_http_is_a_protocol_error(client, server):
    with garbage_http_server() as url:
        garbage = await credential(server, {"transport": "http", "url": url, "call_timeout_s": 5})
        error = error_of(await call(client, server, garbage, "echo", {"text": "x"}))
    assert error["type"] == "mcp_protocol_error", error


@needs_bwrap
async def test_a_server_answering_garbage_over_stdio_is_a_protocol_error(client, server):
    garbage = await credential(server, {**garbage_stdio_data(), "call_timeout_s": 5})
    error = error_of(await call(client, server, garbage, "echo", {"text": "x"}))
    assert error["type"] == "mcp_protocol_error", error


async def test_an_unreachable_server_is_unavailable(client, server):
    from tests.fakes.mcp import free_port

    gone = await credential(
        server, {"transport": "http", "url": f"http://127.0.0.1:{free_port()}/mcp"}
    )
    error = error_of(await call(client, server, gone, "echo", {"text": "x"}))
    assert error["type"] == "mcp_unavailable"
    assert "cannot be reached" in error["message"]


async def test_the_editor_lists_a_servers_tools_with_their_schemas(client, server, mcp_url):
    tools = await credential(server, {"transport": "http", "url": mcp_url})
    answer = await client.get(f"/api/v1/credentials/{tools}/mcp-tools")

    assert answer.status_code == 200, answer.text
    listed = {tool["name"]: tool for tool in answer.json()}
    assert {"add", "echo", "fail", "hang", "pixel"} <= set(listed)
    add = listed["add"]
    assert add["description"] == "Adds two integers."
    assert add["input_schema"]["required"] == ["a", "b"]
    assert add["output_schema"]["properties"]["sum"]["type"] == "integer"


async def test_listing_the_tools_of_a_server_that_is_gone_says_why(client, server):
    from tests.fakes.mcp import free_port

    gone = await credential(
        server, {"transport": "http", "url": f"http://127.0.0.1:{free_port()}/mcp"}
    )
    answer = await client.get(f"/api/v1/credentials/{gone}/mcp-tools")
    assert answer.status_code == 502
    assert answer.json()["error"]["code"] == "mcp_unavailable"


async def test_only_mcp_servers_have_tools(client, server):
    other = await server.parts.credentials.create("key", "api_key", {"api_key": "k-123456"})
    answer = await client.get(f"/api/v1/credentials/{other.id}/mcp-tools")
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "credential_kind"


@needs_bwrap
async def test_a_server_that_never_starts_holds_up_its_own_calls_only(client, server, mcp_url):
    stuck_data = {**garbage_stdio_data(), "call_timeout_s": 2}
    stuck_data["args"] = ["-c", "import time; time.sleep(600)"]
    stuck = await credential(server, stuck_data, name="stuck")
    remote = await credential(server, {"transport": "http", "url": mcp_url}, name="remote")
    waiting = asyncio.create_task(call(client, server, stuck, "echo", {"text": "x"}))
    await asyncio.sleep(0.3)
    answered = await call(client, server, remote, "add", {"a": 1, "b": 2})

    assert answered["output"] == {"sum": 3}
    assert not waiting.done()
    error = error_of(await waiting)
    assert error["type"] == "mcp_timeout"
    assert "'stuck'" in error["message"]
