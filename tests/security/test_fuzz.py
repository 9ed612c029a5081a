"""Property-based fuzzing of what strangers send: template strings, workflow documents and
webhook bodies.

Each property holds for every generated input:

- nothing answers 5xx, and nothing escapes as an exception;
- nothing takes longer than ``HANG_S`` (templates have budgets; bodies are bounded);
- nothing stored is left inconsistent: every result can be stored (the storage codec takes
  it), every execution that was accepted is stored and has ended, every stored workflow
  reads back.

``make test`` runs a derandomized pass of about a minute; ``make fuzz`` runs the same
properties with many more random examples (``TAV_FUZZ_EXAMPLES``, default 2,000 each) and
keeps Hypothesis's example database in ``.hypothesis/``, so a failure found there is
replayed first next time.
"""

from __future__ import annotations

import asyncio
import json
import os
import string
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tav.api.app import create_app
from tav.app.root import build
from tav.app.server import Server
from tav.core.errors import TavError
from tav.engine.bus import InMemoryBus
from tav.engine.executor import Executor
from tav.engine.memory import MemoryStore
from tav.nodes.builtin import BUILTIN_NODE_TYPES
from tav.nodes.registry import NodeRegistry
from tav.nodes.testing import TESTING_NODE_TYPES
from tav.settings import Settings
from tav.storage import codec
from tests.helpers import document, node

HANG_S = 5.0  # the budget is 1 s; the rest is room for a machine the suite keeps busy
FUZZING = "TAV_FUZZ_EXAMPLES" in os.environ
EXAMPLES = int(os.environ.get("TAV_FUZZ_EXAMPLES", "0")) or None
BASE_URL = "http://127.0.0.1"
TERMINAL = {"succeeded", "failed", "cancelled"}


def budget(default: int) -> Any:
    """Hypothesis settings: ``default`` derandomized examples under ``make test``; under
    ``make fuzz``, ``TAV_FUZZ_EXAMPLES`` random ones, remembered in ``.hypothesis/``."""
    return settings(
        max_examples=EXAMPLES or default,
        deadline=None,
        derandomize=not FUZZING,
        database=None if not FUZZING else settings.default.database,
        suppress_health_check=list(HealthCheck),
    )


# -- template strings ---------------------------------------------------------------------

NAMES = [
    "trigger",
    "input",
    "nodes",
    "vars",
    "execution",
    "x",
    "loop",
    "self",
    "range",
    "lipsum",
    "cycler",
    "joiner",
    "namespace",
    "dict",
    "__class__",
    "mro",
    "items",
]
FILTERS = [
    "length",
    "list",
    "string",
    "join",
    "replace('a', 'bb')",
    "indent(40)",
    "wordwrap(3)",
    "center(80)",
    "upper",
    "reverse",
    "sort",
    "unique",
    "tojson",
    "batch(3)",
    "slice(2)",
    "format(1)",
    "first",
    "last",
    "sum",
    "int",
    "float",
    "default('d')",
    "truncate(5)",
    "urlencode",
    "safe",
    "e",
    "attr('x')",
    "map('upper')",
    "select",
    "reject",
    "dictsort",
    "groupby('a')",
    "trim",
    "title",
    "wordcount",
]
ATOMS = [
    "1",
    "2",
    "0",
    "-1",
    "999999",
    "10**6",
    "'a'",
    "'\\ud800'",
    "[1, 2]",
    "{'a': 1}",
    "none",
    "true",
    "trigger.a",
    "trigger.items",
    "nodes.s.output",
    "range(1000)",
    "lipsum(50)",
    "namespace(a=1)",
    "cycler(1, 2)",
    "joiner()",
    "self",
    "loop",
    "x.__class__",
    "''.join",
    "'{:>99}'.format(1)",
    "'%s' % 1",
    "vars.v",
    "input",
]
OPERATORS = [" ~ ", " + ", " * ", " ** ", " % ", " // ", " and ", " or ", " in ", " == ", "|"]


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> str:
    if depth > 3 or draw(st.integers(0, 2)) == 0:
        return draw(st.sampled_from(ATOMS))
    kind = draw(st.integers(0, 3))
    inner = draw(expressions(depth + 1))
    if kind == 0:
        return f"{inner}|{draw(st.sampled_from(FILTERS))}"
    if kind == 1:
        op = draw(st.sampled_from(OPERATORS))
        return f"({inner}{op}{draw(expressions(depth + 1))})"
    if kind == 2:
        return f"{draw(st.sampled_from(NAMES))}({inner})"
    index = draw(st.sampled_from(["0", "1", "'a'", "-1", "::2"]))
    return f"{inner}[{index}]"


@st.composite
def templates(draw: st.DrawFn) -> str:
    """Jinja-shaped text: expressions, loops, sets, macros, and plain noise."""
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.integers(0, 5))
        expr = draw(expressions())
        if kind == 0:
            parts.append("{{ " + expr + " }}")
        elif kind == 1:
            body = "{{ " + draw(expressions()) + " }}"
            parts.append("{% for i in " + expr + " %}" + body + "{% endfor %}")
        elif kind == 2:
            parts.append("{% set s = " + expr + " %}{{ s ~ s }}")
        elif kind == 3:
            parts.append("{% macro f(n) %}{{ " + expr + " }}{{ f(n) }}{% endmacro %}{{ f(1) }}")
        elif kind == 4:
            parts.append(draw(st.text(string.printable + "{}%#", max_size=30)))
        else:
            parts.append("{% if " + expr + " %}y{% else %}n{% endif %}")
    return "".join(parts)


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=25,
)


def template_flow(template: str) -> dict[str, Any]:
    return document(
        node("start", "trigger.manual"),
        node("s", "core.set", params={"values": {"v": template}}),
        node("out", "core.output"),
        links=("start -> s", "s -> out"),
    )


@budget(1000)
@given(template=templates(), trigger=json_values)
async def test_any_template_ends_in_a_value_or_a_template_error(
    template: str, trigger: Any
) -> None:
    registry = NodeRegistry([*BUILTIN_NODE_TYPES, *TESTING_NODE_TYPES])
    executor = Executor(registry, bus=InMemoryBus(), store=MemoryStore())
    try:
        plan = executor.compile(_workflow(template_flow(template)))
    except TavError:
        return  # refused when compiled, with where: fine
    began = time.monotonic()
    result = await asyncio.wait_for(executor.execute(plan, trigger), timeout=30)
    elapsed = time.monotonic() - began
    assert elapsed < HANG_S, f"{template!r} took {elapsed:.1f} s"
    assert result.status.value in TERMINAL
    step = result.nodes["s"]
    if step.status.value == "failed":
        assert step.error is not None
        assert step.error.message, step.error
    codec.to_bytes(result)  # what the writer stores: every result must be storable


def _workflow(doc: dict[str, Any]) -> Any:
    from tav.core.workflow import parse_workflow

    return parse_workflow(doc)


# -- a served app ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("fuzz") / "data"
    return Settings(
        data_dir=data_dir,
        retention_max_age_days=None,
        retention_max_count=None,
        shutdown_timeout_s=0,
    )


@pytest.fixture
async def served(fuzz_settings: Settings) -> AsyncIterator[tuple[Server, httpx.AsyncClient]]:
    server = Server(
        build(fuzz_settings, registry=NodeRegistry([*BUILTIN_NODE_TYPES, *TESTING_NODE_TYPES]))
    )
    await server.start(prune=False)
    _, key = await server.parts.auth.create_api_key("fuzz")
    app = create_app(server.settings, server=server)
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers) as client:
        yield server, client
    await server.stop(timeout_s=0)


async def _timed(call: Any) -> httpx.Response:
    began = time.monotonic()
    response: httpx.Response = await asyncio.wait_for(call, timeout=30)
    elapsed = time.monotonic() - began
    request = response.request
    assert response.status_code < 500, f"{request.method} {request.url}: {response.text[:500]}"
    assert elapsed < HANG_S, f"{request.method} {request.url} took {elapsed:.1f} s"
    return response


async def _consistent(
    server: Server, client: httpx.AsyncClient, accepted: list[str], workflows: tuple[str, ...] = ()
) -> None:
    """Every accepted execution is stored and ends; the workflows stored read back."""
    await server.parts.writer.flush()
    for execution_id in accepted:
        handle = server.parts.executions_service.running.get(execution_id)
        if handle is not None:
            await asyncio.wait_for(handle.wait(), timeout=10)
    await server.parts.writer.flush()
    for execution_id in accepted:
        response = await _timed(client.get(f"/api/v1/executions/{execution_id}"))
        assert response.status_code == 200, execution_id
        assert response.json()["status"] in TERMINAL, response.json()
    for workflow_id in workflows:
        assert (await _timed(client.get(f"/api/v1/workflows/{workflow_id}"))).status_code == 200


# -- workflow documents ---------------------------------------------------------------------

SAFE_TYPES = [
    "trigger.manual",
    "core.set",
    "core.if",
    "core.switch",
    "core.merge",
    "core.noop",
    "core.output",
    "core.fail",
    "core.subworkflow",
    "file.read",
    "core.map",
]
PARAM_KEYS = [
    "values",
    "value",
    "condition",
    "cases",
    "mode",
    "message",
    "workflow",
    "input",
    "items",
    "file",
    "format",
    "keep_input",
    "concurrency",
]
ODD_IDS = ["a", "b", "c", "start", "out", "x:y", "", "é", "a" * 300, "nodes", "__proto__"]
REFS = ["/etc/passwd", "../../secret.key", "0" * 32, "flow.json", "~/.ssh/id_rsa", "file:///x"]


@st.composite
def node_documents(draw: st.DrawFn) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from(PARAM_KEYS), max_size=3, unique=True)):
        params[key] = draw(
            st.one_of(
                json_values, templates(), st.sampled_from(REFS), st.lists(templates(), max_size=2)
            )
        )
    doc: dict[str, Any] = {
        "id": draw(st.sampled_from(ODD_IDS) | st.text(max_size=10)),
        "type": draw(st.sampled_from(SAFE_TYPES) | st.text(max_size=12)),
        "params": params,
    }
    if draw(st.booleans()):
        doc["retry"] = draw(
            st.dictionaries(st.sampled_from(["max_attempts", "backoff_s"]), json_scalars)
        )
    if draw(st.booleans()):
        doc["timeout_s"] = draw(json_scalars)
    if draw(st.booleans()):
        doc["on_error"] = draw(st.sampled_from(["stop", "continue", "branch", "explode"]))
    return doc


def _any(draw: st.DrawFn) -> Any:
    return draw(st.one_of(json_values, templates(), st.sampled_from(REFS)))


def _params(draw: st.DrawFn, type_: str) -> dict[str, Any]:
    """Params of the right shape for ``type_``, holding fuzzed values and templates."""
    if type_ == "core.set":
        keys = st.text(min_size=1, max_size=6)
        return {"values": draw(st.dictionaries(keys, st.one_of(json_values, templates())))}
    if type_ == "core.if":
        return {"condition": draw(templates())}
    if type_ == "core.switch":
        return {"value": draw(templates()), "cases": ["a", "b"]}
    if type_ == "core.merge":
        return {"mode": draw(st.sampled_from(["list", "object"]))}
    if type_ in ("core.output", "core.fail"):
        return {"value" if type_ == "core.output" else "message": draw(templates())}
    if type_ == "core.subworkflow":
        return {"workflow": draw(st.sampled_from(REFS)), "input": _any(draw)}
    if type_ == "core.map":
        return {"workflow": draw(st.sampled_from(REFS)), "items": _any(draw)}
    if type_ == "file.read":
        return {"file": _any(draw)}
    return {}


PORTS = {"core.if": ["true", "false"], "core.switch": ["a", "b", "default"]}


@st.composite
def runnable_documents(draw: st.DrawFn) -> dict[str, Any]:
    """Well-formed workflows (a manual trigger, then a DAG of safe nodes) whose params are
    fuzzed: most of them are stored and run."""
    nodes = [{"id": "start", "type": "trigger.manual"}]
    edges = []
    for index in range(draw(st.integers(1, 6))):
        type_ = draw(st.sampled_from(SAFE_TYPES[1:]))
        node_id = f"n{index}"
        doc: dict[str, Any] = {"id": node_id, "type": type_, "params": _params(draw, type_)}
        if draw(st.integers(0, 3)) == 0:
            doc["on_error"] = draw(st.sampled_from(["stop", "continue", "branch"]))
        source = draw(st.sampled_from(nodes))
        ports = PORTS.get(source["type"])
        port = f":{draw(st.sampled_from(ports))}" if ports else ""
        if source.get("on_error") == "branch" and draw(st.booleans()):
            port = ":error"
        edges.append({"from": source["id"] + port, "to": node_id})
        nodes.append(doc)
    name = draw(st.text(min_size=1, max_size=20).filter(str.strip))
    return {"schema": 1, "name": name, "nodes": nodes, "edges": edges}


@st.composite
def malformed_documents(draw: st.DrawFn) -> Any:
    """Anything at all, shaped more or less like a workflow."""
    if draw(st.integers(0, 4)) == 0:
        return draw(json_values)  # not even a workflow
    nodes = draw(st.lists(node_documents(), min_size=1, max_size=6))
    ids = [n["id"] for n in nodes if isinstance(n.get("id"), str)] or ["a"]
    ports = ["", ":true", ":false", ":error", ":output", ":nope"]
    edges = [
        {
            "from": draw(st.sampled_from(ids)) + draw(st.sampled_from(ports)),
            "to": draw(st.sampled_from(ids)),
        }
        for _ in range(draw(st.integers(0, 6)))
    ]
    doc = {
        "schema": draw(st.sampled_from([1, 1, 1, 2, "1", None])),
        "name": draw(st.text(max_size=20)),
        "nodes": nodes,
        "edges": edges,
    }
    if draw(st.booleans()):
        doc["ui"] = draw(json_values)
    return doc


workflow_documents = st.one_of(runnable_documents(), runnable_documents(), malformed_documents())


@budget(300)
@given(doc=workflow_documents, run_input=json_values)
async def test_any_workflow_document_is_stored_and_run_or_refused_with_a_4xx(
    served: tuple[Server, httpx.AsyncClient], doc: Any, run_input: Any
) -> None:
    server, client = served
    await _timed(client.post("/api/v1/workflows/validate", json=doc))
    created = await _timed(client.post("/api/v1/workflows", json=doc))
    accepted, workflows = [], []
    if created.status_code == 201:
        workflow_id = created.json()["id"]
        workflows.append(workflow_id)
        run = await _timed(
            client.post(f"/api/v1/workflows/{workflow_id}/run", json={"input": run_input})
        )
        if run.status_code == 202:
            accepted.append(run.json()["execution_id"])
    await _consistent(server, client, accepted, tuple(workflows))


# -- webhook bodies -------------------------------------------------------------------------


def _nested(depth: int, leaf: Any) -> bytes:
    """JSON text nested ``depth`` deep (written out: ``json.dumps`` itself cannot go deep)."""
    opening = "".join('{"k":' if level % 2 else "[" for level in range(depth))
    closing = "".join("}" if level % 2 else "]" for level in reversed(range(depth)))
    return (opening + json.dumps(leaf) + closing).encode()


CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-16",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xx",
    "multipart/form-data",
    "application/xml",
    "application/octet-stream",
    "application/vnd.api+json",
    "",
    "text/html; charset=latin-1",
]


@st.composite
def webhook_requests(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        body = json.dumps(draw(json_values)).encode()
    elif kind == 1:
        depth = draw(st.sampled_from([10, 100, 253, 1000, 5000]))
        body = _nested(depth, draw(json_scalars))
    elif kind == 2:
        text = draw(
            st.sampled_from(
                [
                    '{"a": "\\ud800"}',
                    '{"a": 1e999}',
                    "[NaN]",
                    '{"a":',
                    '"\\udfff\\ud800"',
                    '{"__proto__": {"x": 1}}',
                    "a=1&a=2&b",
                    "--xx\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--xx--",
                ]
            )
        )
        body = text.encode()
    else:
        body = draw(st.binary(max_size=200))
    return {
        "method": draw(st.sampled_from(["POST", "PUT", "GET", "PATCH", "DELETE"])),
        "content": body,
        "content_type": draw(st.sampled_from(CONTENT_TYPES)),
        "query": draw(st.text(string.ascii_letters + string.digits + "=&%;+-_.~[]{}", max_size=30)),
        "path": draw(st.sampled_from(["orders", "orders/", "ORDERS", "orders/x", "..%2forders"])),
    }


WEBHOOK_FLOW = document(
    node("hook", "trigger.webhook", params={"path": "orders", "methods": ["POST", "PUT", "GET"]}),
    node(
        "shape",
        "core.set",
        params={"values": {"got": "{{ trigger.body }}", "q": "{{ trigger.query }}"}},
    ),
    node("result", "core.output"),
    links=("hook -> shape", "shape -> result"),
    name="fuzzed webhook",
)


@pytest.fixture
async def hooked(
    served: tuple[Server, httpx.AsyncClient],
) -> tuple[Server, httpx.AsyncClient]:
    """``served``, with an active webhook workflow at /webhook/orders."""
    server, _ = served
    stored = await server.parts.workflows.create(WEBHOOK_FLOW)
    await server.parts.triggers.activate(stored.id)
    return served


@budget(400)
@given(request=webhook_requests())
async def test_any_webhook_request_is_answered_below_500_and_stored_consistently(
    hooked: tuple[Server, httpx.AsyncClient], request: dict[str, Any]
) -> None:
    server, client = hooked
    headers = {"Content-Type": request["content_type"], "Authorization": ""}
    response = await _timed(
        client.request(
            request["method"],
            f"/webhook/{request['path']}?{request['query']}",
            content=request["content"],
            headers=headers,
        )
    )
    accepted = [response.json()["execution_id"]] if response.status_code == 202 else []
    await _consistent(server, client, accepted)
