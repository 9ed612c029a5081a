"""``tav run`` and ``tav nodes`` as a user runs them: a separate process.

Every test gets its own data dir (``TAV_DATA_DIR``), so that stored runs land in a
temporary directory rather than in ``./.tav``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tav.settings import Settings
from tav.storage.db import Database
from tav.storage.executions import ExecutionRecord, ExecutionRepository
from tests.helpers import RESULT_KEYS, document, node

EXAMPLE = Path(__file__).parents[2] / "examples" / "hello.json"
NODE_KEYS = {"status", "attempts", "outputs", "error", "started_at", "finished_at", "duration_ms"}


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("TAV_DATA_DIR", str(path))
    return path


Stored = tuple[ExecutionRecord, list[dict[str, Any]], dict[str, Any] | None]


def stored_runs(data_dir: Path) -> list[Stored]:
    """Every execution stored in ``data_dir``: its record, events and document."""

    async def read() -> list[Stored]:
        db = Database(Settings(data_dir=data_dir, database_url=None).resolved_database_url())
        executions = ExecutionRepository(db)
        try:
            runs = []
            for summary in (await executions.find())[0]:
                execution_id = summary.execution_id
                record = await executions.get(execution_id)
                assert record is not None
                events = await executions.events(execution_id)
                runs.append((record, events, await executions.document(execution_id)))
            return runs
        finally:
            await db.close()

    return asyncio.run(read())


def tav(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tav", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def write(tmp_path: Path, doc: dict[str, Any], name: str = "flow.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_run_json_prints_the_documented_result_and_exits_0():
    proc = tav("run", str(EXAMPLE), "--input", '{"name": "Ada"}', "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert set(result) == RESULT_KEYS
    assert result["status"] == "succeeded"
    assert result["error"] is None
    assert result["output"] == {"greetings": ["Hello, Ada!", "Bonjour, Ada !", "Hallo, Ada!"]}
    assert result["duration_ms"] >= 500
    for node_id, node_result in result["nodes"].items():
        assert set(node_result) == NODE_KEYS, node_id
    assert result["nodes"]["upper"]["status"] == "skipped"
    assert result["nodes"]["plain"]["outputs"]["output"]["greetings"][0] == "Hello, Ada!"


def test_input_from_a_file(tmp_path):
    payload = tmp_path / "input.json"
    payload.write_text('{"name": "Grace", "shout": true}')
    proc = tav("run", str(EXAMPLE), "--input", f"@{payload}", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["output"]["greetings"][0] == "HELLO, GRACE!"


def test_a_failed_execution_exits_1_with_typed_errors(tmp_path):
    doc = document(
        node("start", "trigger.manual"),
        node("slow", "core.delay", params={"seconds": 5}, timeout_s=0.2),
        node("bad", "core.set", params={"values": {"x": "{{ trigger.missing.deeper }}"}}),
        links=("start -> slow", "start -> bad"),
    )
    doc["nodes"][2]["on_error"] = "continue"
    proc = tav("run", str(write(tmp_path, doc)), "--input", "{}", "--json")
    assert proc.returncode == 1, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "failed"
    assert result["nodes"]["slow"]["error"]["type"] == "timeout"
    assert result["nodes"]["bad"]["error"]["type"] == "template_error"
    assert "trigger.missing" in result["nodes"]["bad"]["error"]["message"]
    assert "slow" in result["error"]["message"]


def test_an_invalid_workflow_exits_2_listing_every_problem(tmp_path):
    doc = document(
        node("a", "core.delay", params={"seconds": "soon"}),
        node("b", "core.nope"),
        node("a", "core.noop"),
        links=("a -> ghost",),
    )
    proc = tav("run", str(write(tmp_path, doc)), "--json")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    for expected in ("duplicate node id", "core.nope", "ghost", "edge #0"):
        assert expected in proc.stderr, proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input", "{not json"], "--input is not valid JSON"),
        (["--input", "@/nonexistent/input.json"], "cannot read input file"),
    ],
)
def test_bad_input_exits_2(args, message):
    proc = tav("run", str(EXAMPLE), *args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unreadable_or_malformed_files_exit_2(tmp_path):
    missing = tav("run", str(tmp_path / "absent.json"))
    assert missing.returncode == 2
    assert "not found" in missing.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    proc = tav("run", str(broken))
    assert proc.returncode == 2
    assert "not valid YAML" in proc.stderr


def test_yaml_workflow_runs(tmp_path):
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        "schema: 1\nname: yaml\nnodes:\n"
        "  - {id: start, type: trigger.manual}\n"
        "  - {id: out, type: core.output, params: {value: '{{ trigger.n + 1 }}'}}\n"
        "edges:\n  - {from: start, to: out}\n"
    )
    proc = tav("run", str(flow), "--input", '{"n": 1}', "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["output"] == 2


def test_progress_view_without_json_reports_nodes_and_output():
    proc = tav("run", str(EXAMPLE), "--input", '{"name": "Lin"}')
    assert proc.returncode == 0, proc.stderr
    assert "succeeded" in proc.stderr
    assert "skipped upper" in proc.stderr
    assert json.loads(proc.stdout)["greetings"][1] == "Bonjour, Lin !"


def _running(tmp_path: Path, name: str) -> subprocess.Popen[str]:
    """A ``tav run`` waiting in a 30 s delay once this returns."""
    doc = document(
        node("start", "trigger.manual"),
        node("wait", "core.delay", params={"seconds": 30}),
        node("after", "core.noop"),
        links=("start -> wait", "wait -> after"),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "tav", "run", str(write(tmp_path, doc, f"{name}.json"))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    # Without a terminal the progress view prints a line per settled node: once the
    # trigger has settled, the delay is running.
    assert "start" in proc.stderr.readline()
    return proc


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_cancels_the_execution_and_exits_1(tmp_path, data_dir, sig):
    proc = _running(tmp_path, "flow")
    started = time.monotonic()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=10)
    assert time.monotonic() - started < 3
    assert proc.returncode == 1, err
    assert "cancelled wait" in err
    assert "cancelled after" in err
    assert "the execution was cancelled" in err
    [(record, events, _)] = stored_runs(data_dir)
    assert record.status.value == "cancelled"
    assert events[-1]["type"] == "execution.cancelled"


def test_a_run_is_stored_in_the_data_dir(data_dir):
    proc = tav("run", str(EXAMPLE), "--input", '{"name": "Ada"}', "--json")
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    [(record, events, ran)] = stored_runs(data_dir)
    assert record.execution_id == printed["execution_id"]
    assert record.mode == "cli"
    assert record.status.value == "succeeded"
    assert record.input == {"name": "Ada"}
    assert record.output == printed["output"]
    assert record.to_json()["nodes"] == printed["nodes"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "execution.started"
    assert events[-1]["type"] == "execution.completed"
    assert ran is not None  # the document it ran, as for any ad-hoc run
    assert ran["name"] == json.loads(EXAMPLE.read_text())["name"]
    assert {n["id"] for n in ran["nodes"]} == set(printed["nodes"])


def test_the_summary_names_the_stored_execution():
    proc = tav("run", str(EXAMPLE), "--input", '{"name": "Ada"}')
    assert proc.returncode == 0, proc.stderr
    assert "stored as execution " in proc.stderr


def test_no_store_keeps_the_run_in_memory(data_dir):
    proc = tav("run", str(EXAMPLE), "--input", '{"name": "Ada"}', "--json", "--no-store")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "succeeded"
    plain = tav("run", str(EXAMPLE), "--input", '{"name": "Ada"}', "--no-store")
    assert plain.returncode == 0, plain.stderr
    assert "stored as" not in plain.stderr
    assert stored_runs(data_dir) == []  # the data dir serves the nodes; nothing is recorded


def test_an_invalid_workflow_creates_no_data_dir(tmp_path, data_dir):
    doc = document(node("a", "core.nope"))
    proc = tav("run", str(write(tmp_path, doc)))
    assert proc.returncode == 2
    assert not data_dir.exists()


def test_nodes_list_and_show():
    listing = tav("nodes", "list", "--json")
    assert listing.returncode == 0, listing.stderr
    types = {entry["type"] for entry in json.loads(listing.stdout)}
    assert {"trigger.manual", "core.http_request", "core.map"} <= types
    shown = tav("nodes", "show", "core.delay")
    assert shown.returncode == 0
    info = json.loads(shown.stdout)
    assert info["params_schema"]["properties"]["seconds"]["type"] == "number"
    assert set(info["outputs"]) == {"output"}
    unknown = tav("nodes", "show", "core.dealy")
    assert unknown.returncode == 2
    assert "core.delay" in unknown.stderr


def test_custom_node_from_tav_nodes_path(tmp_path):
    plugins = tmp_path / "nodes"
    plugins.mkdir()
    (plugins / "shout.py").write_text(
        "from pydantic import BaseModel\n"
        "from tav.nodes import Node, NodeSpec\n\n"
        "class Params(BaseModel):\n    suffix: str = '!'\n\n"
        "class Shout(Node):\n"
        "    '''Upper-cases its input.'''\n"
        "    spec = NodeSpec(type='acme.shout', category='text')\n"
        "    Params = Params\n\n"
        "    async def run(self, params, input, ctx):\n"
        "        return {'output': str(input).upper() + params.suffix}\n"
    )
    doc = document(
        node("start", "trigger.manual"),
        node("shout", "acme.shout", params={"suffix": "!!"}),
        node("out", "core.output"),
        links=("start -> shout", "shout -> out"),
    )
    env = {"TAV_NODES_PATH": str(plugins)}
    proc = tav("run", str(write(tmp_path, doc)), "--input", '"hi"', "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["output"] == "HI!!"
    shown = tav("nodes", "show", "acme.shout", env=env)
    assert json.loads(shown.stdout)["description"] == "Upper-cases its input."


def test_a_killed_run_is_settled_by_the_next_start_and_a_live_one_left_alone(tmp_path, data_dir):
    killed, alive = _running(tmp_path, "killed"), _running(tmp_path, "alive")
    try:
        killed.kill()  # SIGKILL: nothing of it runs after this
        killed.communicate(timeout=10)
        later = tav("run", str(EXAMPLE), "--input", '{"name": "Ada"}', "--json")
        assert later.returncode == 0, later.stderr
        runs = {record.execution_id: record for record, _, _ in stored_runs(data_dir)}
        assert alive.poll() is None
        by_status = {record.status.value: record for record in runs.values()}
        assert set(by_status) == {"failed", "running", "succeeded"}
        crashed = by_status["failed"]
        assert crashed.error is not None
        assert crashed.error.type == "crashed"
        assert "tav run" in crashed.error.message
        assert crashed.nodes["start"].status.value == "succeeded"
        assert by_status["running"].mode == "cli"
    finally:
        alive.send_signal(signal.SIGINT)
        alive.communicate(timeout=10)
        for proc in (killed, alive):
            if proc.poll() is None:
                proc.kill()


def test_a_run_that_waits_is_stored_waiting_and_exits_3(tmp_path, data_dir):
    doc = document(
        node("start", "trigger.manual"),
        node("ask", "core.wait", params={"mode": "approval", "title": "Go on?"}),
        links=("start -> ask",),
    )
    flow = write(tmp_path, doc)
    proc = tav("run", str(flow))
    assert proc.returncode == 3, proc.stderr
    assert "it waits (ask)" in proc.stderr
    ((record, events, _),) = stored_runs(data_dir)
    assert record.status.value == "waiting"
    assert record.nodes["ask"].status.value == "waiting"
    assert events[-1]["type"] == "execution.waiting"
    refused = tav("run", str(flow), "--no-store")
    assert refused.returncode == 2
    assert "needs durable waits" in refused.stderr
