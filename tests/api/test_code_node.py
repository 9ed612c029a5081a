"""``code.python`` through the API: what the code sees and returns, its log, its errors,
and the node settings (timeout, retry, on_error) it follows like every node."""

from __future__ import annotations

import json
import textwrap
import time
from typing import Any

import pytest

from tav.settings import Settings
from tests.api.helpers import run_to_end, stored
from tests.helpers import document, node


@pytest.fixture(params=["sqlite"])
def database(request: pytest.FixtureRequest) -> str:
    return str(request.param)  # the node does not touch the database: one is enough


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        retention_max_age_days=None,
        retention_max_count=None,
        code_timeout_s=20,
        code_warm=1,
    )


def flow(code: str, **fields: Any) -> dict[str, Any]:
    """manual trigger -> prep (core.set) -> code -> result (core.output)."""
    return document(
        node("start", "trigger.manual"),
        node("prep", "core.set", params={"values": {"answer": 41}}),
        node("code", "code.python", params={"code": textwrap.dedent(code)}, **fields),
        node("result", "core.output"),
        links=("start -> prep", "prep -> code", "code -> result"),
        vars={"greeting": "hello"},
    )


async def events(client, execution_id: str) -> list[dict[str, Any]]:
    """The stored events of a finished execution, from its stream."""
    response = await client.get(f"/api/v1/executions/{execution_id}/stream")
    assert response.status_code == 200
    return [
        json.loads(line.removeprefix("data: "))
        for line in response.text.splitlines()
        if line.startswith("data: ")
    ]


async def test_main_gets_the_input_and_sees_trigger_vars_and_nodes(client, server):
    code = """
    def main(input):
        return {
            "sum": input["answer"] + trigger["plus"],
            "greeting": vars["greeting"],
            "prep": nodes["prep"]["output"],
            "start": nodes["start"]["output"],
        }
    """
    workflow_id = await stored(server, flow(code))
    execution = await run_to_end(client, workflow_id, input={"plus": 1})
    assert execution["status"] == "succeeded", execution
    assert execution["output"] == {
        "sum": 42,
        "greeting": "hello",
        "prep": {"answer": 41},
        "start": {"plus": 1},
    }


async def test_print_goes_to_the_nodes_log(client, server):
    code = """
    def main(input):
        print("checking", input["answer"])
        print("done")
        return True
    """
    workflow_id = await stored(server, flow(code))
    execution = await run_to_end(client, workflow_id)
    logged = [
        event["data"]["log"]
        for event in await events(client, execution["execution_id"])
        if event["type"] == "node.progress" and event["node_id"] == "code"
    ]
    assert "".join(logged) == "checking 41\ndone\n"


async def test_an_exception_fails_the_node_with_the_authors_line(client, server):
    code = """
    def main(input):
        total = 0
        for value in input.values():
            total += value / 0
        return total
    """
    workflow_id = await stored(server, flow(code))
    execution = await run_to_end(client, workflow_id)
    assert execution["status"] == "failed"
    error = execution["nodes"]["code"]["error"]
    # (The code's first line is blank: dedent keeps it.)
    assert error == {"type": "code_error", "message": "line 5: ZeroDivisionError: division by zero"}
    logged = "".join(
        e["data"]["log"]
        for e in await events(client, execution["execution_id"])
        if e["type"] == "node.progress"
    )
    assert 'File "<code>", line 5, in main' in logged
    assert "total += value / 0" in logged


async def test_a_syntax_error_names_its_line(client, server):
    workflow_id = await stored(server, flow("def main(input):\n    return )\n"))
    execution = await run_to_end(client, workflow_id)
    error = execution["nodes"]["code"]["error"]
    assert error["type"] == "code_syntax"
    assert error["message"].startswith("line 2: SyntaxError: ")


async def test_the_nodes_timeout_ends_the_code(client, server):
    code = "import time\ndef main(input):\n    time.sleep(30)\n"
    workflow_id = await stored(server, flow(code, timeout_s=0.5))
    started = time.monotonic()
    execution = await run_to_end(client, workflow_id)
    assert time.monotonic() - started < 10
    error = execution["nodes"]["code"]["error"]
    assert error == {"type": "timeout", "message": "did not finish within 0.5 s"}


async def test_the_nodes_retry_runs_the_code_again_each_time_afresh(client, server):
    code = """
    import os
    def main(input):
        print("attempt sees", sorted(os.listdir("/tmp")))
        open("/tmp/attempted", "w").write("1")
        raise RuntimeError("flaky service")
    """
    retry = {"max_attempts": 3, "backoff_s": 0, "jitter": False}
    workflow_id = await stored(server, flow(code, retry=retry))
    execution = await run_to_end(client, workflow_id)
    result = execution["nodes"]["code"]
    assert result["attempts"] == 3
    assert result["error"]["message"] == "line 6: RuntimeError: flaky service"
    stream = await events(client, execution["execution_id"])
    assert [e["attempt"] for e in stream if e["type"] == "node.retrying"] == [1, 2]
    seen = [e["data"]["log"] for e in stream if e["type"] == "node.progress"]
    assert "".join(seen).count("attempt sees []\n") == 3  # (each a fresh /tmp)


async def test_on_error_branch_sends_the_error_down_the_error_port(client, server):
    doc = document(
        node("start", "trigger.manual"),
        node(
            "code",
            "code.python",
            params={"code": "def main(input):\n    raise ValueError('bad input')\n"},
            on_error="branch",
        ),
        node("result", "core.output"),
        links=("start -> code", "code:error -> result"),
    )
    execution = await run_to_end(client, await stored(server, doc), input={"x": 1})
    assert execution["status"] == "succeeded"
    assert execution["output"] == {
        "type": "code_error",
        "message": "line 2: ValueError: bad input",
        "node": "code",
        "input": {"x": 1},
    }


async def test_the_node_is_in_the_catalog_with_a_code_param(client):
    catalog = (await client.get("/api/v1/nodes")).json()
    entry = next(e for e in catalog if e["type"] == "code.python")
    assert entry["params_schema"]["properties"]["code"]["format"] == "code"
    assert entry["category"] == "data"
