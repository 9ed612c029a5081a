"""Templates cannot freeze the server: every render has a budget (text built, loop
iterations, time) enforced inside the sandbox, heavy renders run off the event loop, and a
workflow document's templates are capped and checked off the event loop when it is saved."""

from __future__ import annotations

import asyncio
import json
import re
import time
import tracemalloc
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tav.api.app import create_app
from tav.app.root import build
from tav.app.server import Server
from tav.core.errors import TemplateError, WorkflowInvalid
from tav.engine import jinja_env, templates
from tav.engine.executor import Executor
from tav.engine.template_budget import TemplateLimits
from tav.nodes.builtin import BUILTIN_NODE_TYPES
from tav.nodes.registry import NodeRegistry
from tav.settings import Settings
from tests.helpers import node, workflow

WHERE = "node 'x', params.url"
BYTES = "template output exceeds 16777216 bytes"
LOOPS = "template ran more than 1000000 loop iterations"
TIME = "template took longer than 1 s"
STEPS = (LOOPS, TIME)  # whichever comes first on this machine
ANY = (BYTES, LOOPS, TIME)
DEEP = "the template calls itself too deeply"
REFUSED = "not allowed in templates"
STATUS = "/api/v1/auth/status"

# A list of a million shared references to one thousand characters: cheap to build, a
# gigabyte as text.
SHARED = "{% set a = ['x' * 1000] * 1000 %}{% set b = [a] * 1000 %}"
DOUBLING = "{% set ns = namespace(s='x') %}{% for i in range(30) %}{% set ns.s = ns.s OP ns.s %}"

ATTACKS = [
    ("{{ lipsum(999999)|length }}", BYTES),
    ("{{ lipsum(999999) }}", BYTES),
    ("{{ lipsum(50, max=999999)|length }}", BYTES),
    ("{{ ('a\n' * 500000)|indent(999999) }}", BYTES),
    ("{% for i in range(100000) %}{{ 'a'|indent(999999, true) }}{% endfor %}", BYTES),
    ("{{ ('x' * 999999)|wordwrap(1) }}", BYTES),
    ("{{ ('word ' * 199999)|wordwrap(1) }}", TIME),
    ("{{ ('a' * 999999)|replace('a', 'bbbbbbbbbbbbbbbbbbbb') }}", BYTES),
    ("{{ ('a' * 999999)|replace('', 'bbbbbbbbbbbbbbbbbbbb') }}", BYTES),
    ("{{ ('a' * 999999).replace('a', 'bbbbbbbbbbbbbbbbbbbb') }}", BYTES),
    ("{{ range(100000)|join('x' * 999999) }}", BYTES),
    ("{{ ('x' * 999999).join(['a'] * 100000) }}", BYTES),
    ("{{ ('x' * 999999).join(range(100000)|map('string')) }}", ANY),
    ("{{ (['x' * 999999] * 20)|join }}", BYTES),
    (DOUBLING.replace("OP", "~") + "{% endfor %}{{ ns.s|length }}", BYTES),
    (DOUBLING.replace("OP", "+") + "{% endfor %}{{ ns.s|length }}", BYTES),
    ("{% for i in range(100) %}{{ 'x' * 999999 ~ 'y' * 999999 }}{% endfor %}", BYTES),
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", STEPS),
    (
        "{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}",
        ANY,
    ),
    ("{{ (range(999999)|list|string) }}", "ranges larger than MAX_RANGE (100000)."),
    ("{% for i in range(100) %}{{ (range(99999)|list|string) }}{% endfor %}", ANY),
    ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", DEEP),
    (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
        "{{ f(40) }}",
        TIME,
    ),
    ("{% for x in range(3) recursive %}{{ loop(range(100000)) }}{% endfor %}", DEEP),
    (SHARED + "{{ b }}", BYTES),
    (SHARED + "{{ b|string }}", BYTES),
    (SHARED + "{{ b|tojson }}", BYTES),
    (SHARED + "{{ b|pprint }}", BYTES),
    (SHARED + "{{ 'b: ' ~ b }}", BYTES),
    (SHARED + "{{ '%s' % [b] }}", BYTES),
    (SHARED + "{{ '{}'.format(b) }}", BYTES),
    (SHARED + "{{ b|join }}", BYTES),
    (SHARED + "{{ b|upper }}", BYTES),
    (SHARED + "{% set c = [b] * 1000 %}{{ c|length }}{{ c }}", BYTES),
    ("{{ ('{:>999999}' * 20).format(*range(20)) }}", BYTES),
    ("{{ '%999999s' * 20 % ((1,) * 20) }}", BYTES),
    ("{% for i in range(100) %}{{ '%*d' % (999999, 1) }}{% endfor %}", BYTES),
    ("{{ ('\t' * 999999).expandtabs(999999) }}", BYTES),
    ("{% for i in range(100) %}{{ 'x'.center(999999) }}{% endfor %}", BYTES),
    ("{{ range(1000)|map('center', 999999)|list|length }}", BYTES),
    ("{{ ([[1] * 1000] * 1000)|sum(start=[]) }}", BYTES),
    ("{% for i in range(100) %}{% for b in [1]|batch(999999, 0) %}{% endfor %}{% endfor %}", BYTES),
    ("{% set x %}{% for i in range(100000) %}{{ 'x' * 999 }}{% endfor %}{% endset %}", BYTES),
    ("{% for i in range(100000) %}{{ 'x' * 999 }}{% endfor %}", BYTES),
    ("{% for i in range(100) %}{{ [1, 2]|tojson(999999) }}{% endfor %}", BYTES),
    ("{% for i in range(100) %}{{ lipsum(5, max=99999) }}{% endfor %}", (BYTES, TIME)),
]
HARMLESS = [
    # No line after the first to indent: the result is "a".
    ("{{ 'a'|indent(999999) }}", "a"),
    # A variable set in a loop is the loop's own: each step starts from the outer 'x'.
    ("{% set s = 'x' %}{% for i in range(40) %}{% set s = s ~ s %}{% endfor %}{{ s }}", "x"),
    ("{{ ('x' * 999999)|length }}", 999999),
]


def render(source: str, context: dict[str, Any] | None = None, **limits: Any) -> Any:
    return templates.render_value(
        source, context or {}, where=WHERE, limits=TemplateLimits(**limits)
    )


def measured(source: str) -> tuple[BaseException | Any, float, float]:
    """(the error or the result, seconds, MB the process's memory grew to at most)."""
    before = _memory("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets the peak (VmHWM) to now
    started = time.perf_counter()
    try:
        outcome: BaseException | Any = render(source)
    except TemplateError as exc:
        outcome = exc
    elapsed = time.perf_counter() - started
    return outcome, elapsed, _memory("VmHWM") - before


def _memory(field: str) -> float:
    """MB of this process's resident memory (Linux): now, or at its peak."""
    found = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    assert found is not None
    return int(found[1]) / 1024


@pytest.mark.parametrize(("source", "budget"), ATTACKS)
def test_a_template_over_its_budget_fails_within_a_second_in_bounded_memory(
    source: str, budget: str | tuple[str, ...]
) -> None:
    outcome, elapsed, peak = measured(source)
    assert isinstance(outcome, TemplateError), repr(outcome)[:200]
    assert str(outcome).startswith(f"{WHERE}: "), outcome
    assert str(outcome).endswith(budget), outcome
    assert outcome.type == "template_error"
    assert not outcome.retryable
    assert elapsed < 1.5, elapsed  # the 1 s budget and the step that crosses it
    assert peak < 100, peak


@pytest.mark.parametrize(("source", "expected"), HARMLESS)
def test_big_numbers_that_build_little_are_fine(source: str, expected: Any) -> None:
    outcome, elapsed, peak = measured(source)
    assert outcome == expected
    assert elapsed < 0.5
    assert peak < 20


def test_each_limit_is_a_setting_and_the_error_names_it() -> None:
    with pytest.raises(TemplateError, match="template output exceeds 1000 bytes"):
        render("{{ 'x' * 600 ~ 'y' * 600 }}", max_bytes=1000)
    with pytest.raises(TemplateError, match="ran more than 10 loop iterations"):
        render("{% for i in range(11) %}{% endfor %}", max_iterations=10)
    started = time.perf_counter()
    with pytest.raises(TemplateError, match=r"took longer than 0\.2 s"):
        render("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
               timeout_s=0.2, max_iterations=10**12)  # fmt: skip
    assert time.perf_counter() - started < 0.5
    assert render("{% for i in range(10) %}{{ i }}{% endfor %}", max_iterations=10) == (
        "0123456789"
    )


def test_filters_run_only_when_rendering_never_while_compiling() -> None:
    # Jinja folds filters of constants at compile time, where no budget applies: a save
    # (which compiles every template) would build the gigabyte.
    text = "\n".join(["a"] * 2000)
    source = "{{ '" + text.replace("\n", "\\n") + "'|indent(999999) }}"
    tracemalloc.start()
    assert templates.syntax_error(source) is None
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    assert peak < 20, peak
    with pytest.raises(TemplateError, match=BYTES):
        render(source)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ rows|map(attribute='name')|join(',') }}", ",".join(f"n{i}" for i in range(20000))),
        ("{% for r in rows %}{{ r.name }};{{ r.n * 2 }}\n{% endfor %}", None),
        ("{{ rows|length }}", 20000),
        ("{{ (rows|first).name|center(11) }}", "     n0    "),
        ("{{ 'ab cd ef'|wordwrap(2) }}", "ab\ncd\nef"),
        ("{{ '{:>5}|{:.2f}'.format('a', 1.5) }}", "    a|1.50"),
        ("{{ '%-4s|' % 'ab' }}", "ab  |"),
        ("{{ [1, 2] + [3] }}", [1, 2, 3]),
        ("{{ 'a' + 'b' ~ 1 }}", "ab1"),
        ("{{ rows[:2]|tojson }}", '[{"n": 0, "name": "n0"}, {"n": 1, "name": "n1"}]'),
        (
            "{% for x in [[1, [2]], [3]] recursive %}"
            "{{ x if x is number else loop(x) }}{% endfor %}",
            "123",
        ),
    ],
)
def test_ordinary_templates_over_real_data_still_render(source: str, expected: Any) -> None:
    rows = [{"n": i, "name": f"n{i}"} for i in range(20000)]
    result = render(source, {"rows": rows})
    if expected is None:
        assert result.count("\n") == 20000
    else:
        assert result == expected


# -- off the event loop ------------------------------------------------------------------


async def gaps_while(work: Awaitable[Any]) -> tuple[Any, float]:
    """(the work's result, the longest the event loop went without running a 5 ms timer)."""
    task = asyncio.ensure_future(work)
    gaps, last = [0.0], time.perf_counter()
    while not task.done():
        await asyncio.sleep(0.005)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
    return task.result(), max(gaps)


async def test_a_heavy_render_runs_off_the_event_loop() -> None:
    loop_heavy = "{% for i in range(300) %}{% for j in range(1000) %}{% endfor %}{% endfor %}ok"
    rendered, gap = await gaps_while(
        templates.render_params(
            {"a": loop_heavy, "b": "{{ trigger.x }}"},
            {"trigger": {"x": 1}},
            where="node 'n', params",
        )
    )
    assert rendered == {"a": "ok", "b": 1}
    assert gap < 0.1, gap


async def test_an_execution_over_budget_fails_its_node_and_the_loop_keeps_running() -> None:
    executor = Executor(NodeRegistry(BUILTIN_NODE_TYPES))
    attack = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    wf = workflow(
        node("start", "trigger.manual"),
        node("x", "core.set", params={"values": {"url": attack}}),
        links=("start -> x",),
    )
    result, gap = await gaps_while(executor.execute(executor.compile(wf), {}))
    error = result.nodes["x"].error
    assert error is not None
    assert error.type == "template_error"
    assert error.message == f"node 'x', params.values.url: {LOOPS}"
    assert gap < 0.1, gap


# -- through the API -----------------------------------------------------------------------


async def latencies_while(
    client: httpx.AsyncClient, work: Awaitable[Any]
) -> tuple[Any, list[float]]:
    """(the work's result, latencies of status requests sent one after another meanwhile)."""
    task = asyncio.ensure_future(work)
    found = []
    while not task.done():
        started = time.perf_counter()
        assert (await client.get(STATUS)).status_code == 200
        found.append(time.perf_counter() - started)
    return task.result(), found


async def warmed_up(client: httpx.AsyncClient) -> None:
    """Routes and models are built on their first request: that is not what is measured."""
    assert (await client.get(STATUS)).status_code == 200
    created = await client.post("/api/v1/workflows", json=many_templates(1))
    assert created.status_code == 201
    unknown = many_templates(1)
    unknown["nodes"][1]["type"] = "no.such_type"
    assert (await client.post("/api/v1/workflows", json=unknown)).status_code == 422


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


@pytest.mark.parametrize(
    ("attack", "budget"),
    [
        ("{% for i in range(100000) %}{% for j in range(50) %}{% endfor %}{% endfor %}", STEPS),
        ("{{ lipsum(30000)|length }}", BYTES),
    ],
)
async def test_other_requests_keep_answering_while_a_template_blows_its_budget(
    client: httpx.AsyncClient, attack: str, budget: str | tuple[str, ...]
) -> None:
    document = workflow(
        node("start", "trigger.manual"),
        node("x", "core.set", params={"values": {"url": attack}}),
        links=("start -> x",),
    ).to_document()
    await warmed_up(client)
    created = await client.post("/api/v1/workflows", json=document)
    assert created.status_code == 201, created.text
    run = client.post(f"/api/v1/workflows/{created.json()['id']}/run?wait=true", json={})
    answer, busy = await latencies_while(client, run)
    assert p99(busy) < 0.2, (p99(busy), max(busy), len(busy))
    execution = answer.json()
    assert execution["status"] == "failed", execution
    error = execution["nodes"]["x"]["error"]
    assert error["type"] == "template_error"
    assert error["message"].startswith("node 'x', params.values.url: ")
    assert error["message"].endswith(budget)


def many_templates(count: int) -> dict[str, Any]:
    values = {f"k{i}": f"{{{{ trigger.k{i} }}}}" for i in range(count)}
    return workflow(
        node("start", "trigger.manual"),
        node("x", "core.set", params={"values": values}),
        links=("start -> x",),
    ).to_document()


async def test_saving_a_workflow_with_60000_templates_is_refused_quickly_without_freezing(
    client: httpx.AsyncClient,
) -> None:
    body = json.dumps(many_templates(60_000))  # not on the clock: the client's own work
    headers = {"Content-Type": "application/json"}
    await warmed_up(client)
    started = time.perf_counter()
    answer, busy = await latencies_while(
        client, client.post("/api/v1/workflows", content=body, headers=headers)
    )
    elapsed = time.perf_counter() - started
    assert p99(busy) < 0.2, (p99(busy), max(busy), len(busy))
    assert answer.status_code == 422, answer.text[:500]
    problems = answer.json()["error"]["details"]
    assert any(
        p["message"] == "too many templates: 60000 found, at most 2000 per workflow"
        for p in problems
    ), problems
    assert elapsed < 5, elapsed


async def test_the_first_run_of_a_large_workflow_compiles_off_the_event_loop(
    client: httpx.AsyncClient,
) -> None:
    values = {f"k{i}": f"{{{{ {i} }}}}" for i in range(2000)}  # the most a workflow holds
    document = workflow(
        node("start", "trigger.manual"),
        node("x", "core.set", params={"values": values}),
        links=("start -> x",),
    ).to_document()
    created = await client.post("/api/v1/workflows", json=document)
    assert created.status_code == 201, created.text[:500]
    await warmed_up(client)
    jinja_env.compile_template.cache_clear()  # as after a restart: nothing compiled yet
    run = client.post(f"/api/v1/workflows/{created.json()['id']}/run?wait=true", json={})
    answer, busy = await latencies_while(client, run)
    assert p99(busy) < 0.2, (p99(busy), max(busy), len(busy))
    assert answer.json()["status"] == "succeeded", answer.text[:500]
    assert answer.json()["nodes"]["x"]["outputs"]["output"]["k1999"] == 1999


async def test_the_template_caps_are_settings(settings: Settings) -> None:
    capped = settings.model_copy(
        update={"workflow_max_templates": 10, "workflow_max_template_bytes": 200}
    )
    server = Server(build(capped, registry=NodeRegistry(BUILTIN_NODE_TYPES)))
    await server.start(prune=False)
    try:
        _, secret = await server.parts.auth.create_api_key("tests")
        transport = httpx.ASGITransport(app=create_app(capped, server=server))
        headers = {"Authorization": f"Bearer {secret}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1", headers=headers
        ) as client:
            refused = await client.post("/api/v1/workflows", json=many_templates(11))
            long = many_templates(1)
            long["nodes"][1]["params"]["values"]["k0"] = "{{ trigger.k0 }}" + "x" * 200
            too_long = await client.post("/api/v1/workflows/validate", json=long)
            accepted = await client.post("/api/v1/workflows", json=many_templates(10))
    finally:
        await server.stop(timeout_s=0)
    assert refused.status_code == 422
    assert "too many templates: 11 found, at most 10 per workflow" in refused.text
    assert too_long.json()["valid"] is False
    assert too_long.json()["problems"][0]["message"] == (
        "templates too long: 216 characters of template text found, at most 200 per workflow"
    )
    assert accepted.status_code == 201, accepted.text


def test_compiling_refuses_too_many_templates_before_compiling_any() -> None:
    executor = Executor(NodeRegistry(BUILTIN_NODE_TYPES))
    wf = workflow(*many_templates(60_000)["nodes"], links=("start -> x",))
    started = time.perf_counter()
    with pytest.raises(WorkflowInvalid) as info:
        executor.compile(wf)
    assert time.perf_counter() - started < 1
    assert [p.message for p in info.value.problems] == [
        "too many templates: 60000 found, at most 2000 per workflow"
    ]
