"""Param templates: native types, context, filters, located errors and the sandbox."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from tav.core.errors import TemplateError
from tav.core.results import ExecutionResult
from tav.core.states import ExecutionStatus
from tav.engine import templates
from tav.engine.executor import Executor
from tests.helpers import node, run, statuses, workflow

CONTEXT: dict[str, Any] = {
    "trigger": {"n": 3, "tags": ["a", "b"], "obj": {"k": "v"}, "yes": True, "none": None},
    "input": {"items": [1, 2, 3], "keys": "mine"},
    "nodes": {},
    "vars": {},
    "execution": {"id": "e1"},
}


def render(source: str) -> Any:
    return templates.render(source, CONTEXT, where="node 'x', params.p")


async def set_values(executor: Executor, values: Any, trigger: Any = None) -> ExecutionResult:
    """Run ``trigger.manual → core.set(values)``."""
    wf = workflow(
        node("start", "trigger.manual"),
        node("s", "core.set", params={"values": values}),
        links=("start -> s",),
    )
    return await run(executor, wf, trigger)


def failure(result: ExecutionResult, node_id: str) -> str:
    assert result.status is ExecutionStatus.FAILED
    error = result.nodes[node_id].error
    assert error is not None
    assert error.type == "template_error"
    return error.message


# -- what a template renders to ---------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ trigger.tags }}", ["a", "b"]),
        ("{{ trigger.n }}", 3),
        ("{{ trigger.n * 2 + 0.5 }}", 6.5),
        ("{{ trigger.obj }}", {"k": "v"}),
        ("{{ trigger.yes }}", True),
        ("{{ trigger.n > 5 }}", False),
        ("{{ trigger.none }}", None),
        ("  {{ trigger.n }}\n", 3),
        ("{{ [trigger.n, trigger.obj.k] }}", [3, "v"]),
        ("{{ {'n': trigger.n} }}", {"n": 3}),
    ],
)
def test_a_single_expression_keeps_its_native_type(source, expected):
    value = render(source)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("n={{ trigger.n }}", "n=3"),
        ("{{ trigger.n }}{{ trigger.n }}", "33"),
        ("[{{ trigger.tags | join(',') }}]", "[a,b]"),
        ("{% if trigger.yes %}on{% else %}off{% endif %}", "on"),
        ("{% for t in trigger.tags %}{{ t }},{% endfor %}", "a,b,"),
        ("{{ '}}' }}", "}}"),
    ],
)
def test_anything_else_renders_to_a_string(source, expected):
    assert render(source) == expected


TEXT_OF_PATHS = [
    "n={{ trigger.n }}",
    "{{ trigger.n }}{{ trigger.n }}",
    "{{ trigger.tags }} and {{ trigger.obj }} / {{ trigger.none }} {{ trigger.yes }}",
    "https://x/{{ trigger.tags[1] }}?k={{ trigger['obj'].k }}&i={{ input.items[0] }}\n",
    "{{- trigger.n -}}  {# a comment #} {% raw %}{{ not read }}{% endraw %}",
    "{{ input.keys }}: {{ execution.id }}",
]


@pytest.mark.parametrize("source", TEXT_OF_PATHS)
def test_text_with_variables_renders_as_jinja_renders_it(source):
    """Such a template skips Jinja's context (``jinja_env._text_reader``): it renders
    exactly what Jinja's compiled template renders."""
    from tav.engine import jinja_env
    from tav.engine.template_budget import Budget, spending

    assert jinja_env._text_of_paths(source) is not None
    with spending(Budget()):
        expected = jinja_env.ENV.from_string(source).render(CONTEXT)
    assert render(source) == expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("n={{ trigger.missing }}", "missing"),
        ("n={{ nobody.n }}", "nobody"),
        ("n={{ trigger.tags[5] }}", "tags"),
    ],
)
def test_text_with_variables_fails_as_jinja_fails(source, message):
    """What the text reader cannot read, the compiled template fails with."""
    with pytest.raises(TemplateError, match=message):
        render(source)


def test_text_with_variables_reads_attributes_through_the_sandbox():
    assert render("n={{ trigger.n.real }}") == "n=3"


def test_text_with_a_value_that_is_not_data_is_refused():
    context = {**CONTEXT, "trigger": {"f": print}}
    with pytest.raises(TemplateError, match="not something to call"):
        templates.render("x={{ trigger.f }}", context, where="w")


def test_strings_without_template_markers_pass_as_written():
    assert not templates.is_template("plain { text } here")
    assert templates.render_value("plain {text}", CONTEXT, where="w") == "plain {text}"


def test_render_value_renders_nested_dicts_and_lists():
    value = {
        "n": "{{ trigger.n }}",
        "list": ["{{ trigger.tags }}", "x{{ trigger.n }}", 7, None],
        "deep": {"deeper": {"k": "{{ trigger.obj.k | upper }}"}},
        "flag": False,
    }
    assert templates.render_value(value, CONTEXT, where="w") == {
        "n": 3,
        "list": [["a", "b"], "x3", 7, None],
        "deep": {"deeper": {"k": "V"}},
        "flag": False,
    }


def test_a_nested_error_names_the_path_inside_the_param():
    with pytest.raises(TemplateError, match=r"^node 's', params\.values\.list\[1\]: "):
        templates.render_value(
            {"list": ["ok", "{{ trigger.gone }}"]}, CONTEXT, where="node 's', params.values"
        )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ trigger.obj.k | upper }}", "V"),
        ("{{ trigger.tags | length }}", 2),
        ("{{ trigger.missing | default('fallback') }}", "fallback"),
        ("{{ trigger.obj | tojson }}", '{"k": "v"}'),
        ("{{ trigger.tags | join('+') }}", "a+b"),
        ("{{ trigger.missing is defined }}", False),
    ],
)
def test_filters_and_tests(source, expected):
    assert render(source) == expected


def test_attribute_syntax_reads_a_key_before_a_dict_method():
    assert render("{{ input.items }}") == [1, 2, 3]
    assert render("{{ input.items | length }}") == 3
    assert render("{{ input.keys }}") == "mine"
    assert render("{{ trigger.obj.items() | list }}") == [
        ["k", "v"]
    ]  # tuples become lists, as in JSON


def test_syntax_error_is_a_message_with_its_line():
    assert templates.syntax_error("{{ ok }}") is None
    message = templates.syntax_error("line one\n{{ broken. }}")
    assert message is not None
    assert message.startswith("template syntax error: ")
    assert message.endswith("(line 2)")


def test_a_template_nested_too_deeply_to_compile_is_a_syntax_error():
    source = "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}"
    assert templates.syntax_error(source) == "template syntax error: nested too deeply"


def test_referenced_nodes_reads_attribute_and_item_syntax():
    source = "{{ nodes.a.output }} {{ nodes['b'].x }} {% for i in nodes.c.output %}{% endfor %}"
    assert templates.referenced_nodes(source) == {"a", "b", "c"}
    assert templates.referenced_nodes("{% set nodes = trigger %}{{ nodes.z }}") == set()


# -- the context in real executions -----------------------------------------------------


async def test_trigger_input_and_upstream_outputs(executor):
    wf = workflow(
        node("start", "trigger.manual"),
        node("fetch", "core.set", params={"values": {"status": 200, "body": "{{ trigger.q }}"}}),
        node(
            "use",
            "core.set",
            params={
                "values": {
                    "status": "{{ nodes.fetch.output.status }}",
                    "body": "{{ input.body | upper }}",
                    "q": "{{ trigger.q }}",
                    "start": "{{ nodes.start.output }}",
                }
            },
        ),
        node("out", "core.output"),
        links=("start -> fetch", "fetch -> use", "use -> out"),
    )
    result = await run(executor, wf, {"q": "hi"})
    assert result.output == {"status": 200, "body": "HI", "q": "hi", "start": {"q": "hi"}}


async def test_vars_from_the_workflow_and_the_host(registry):
    executor = Executor(registry, vars={"region": "eu", "env": "host"})
    wf = workflow(
        node("start", "trigger.manual"),
        node("s", "core.set", params={"values": {"r": "{{ vars.region }}", "e": "{{ vars.env }}"}}),
        node("out", "core.output"),
        links=("start -> s", "s -> out"),
        vars={"env": "workflow"},
    )
    result = await run(executor, wf)
    assert result.output == {"r": "eu", "e": "workflow"}


async def test_execution_id_and_workflow(executor):
    values = {"id": "{{ execution.id }}", "wf": "{{ execution.workflow }}"}
    result = await set_values(executor, values)
    output = result.nodes["s"].outputs["output"]
    assert output == {"id": result.execution_id, "wf": "test"}
    assert isinstance(output["id"], str)


async def test_core_set_values_keep_native_types_recursively(executor):
    values = {
        "tags": "{{ trigger.tags }}",
        "nested": {"n": ["{{ trigger.n }}", "n={{ trigger.n }}"]},
    }
    result = await set_values(executor, values, {"tags": ["x"], "n": 1})
    assert result.nodes["s"].outputs["output"] == {"tags": ["x"], "nested": {"n": [1, "n=1"]}}


async def test_input_items_through_a_node(executor):
    wf = workflow(
        node("start", "trigger.manual"),
        node("count", "core.output", params={"value": "{{ input.items | length }}"}),
        links=("start -> count",),
    )
    assert (await run(executor, wf, {"items": ["a", "b"]})).output == 2


# -- undefined variables ----------------------------------------------------------------


async def test_a_missing_key_names_node_param_and_full_path(executor):
    wf = workflow(
        node("start", "trigger.manual"),
        node("fetch", "core.set", params={"values": {"status": 200, "body": "ok"}}),
        node("check", "core.if", params={"condition": "{{ nodes.fetch.output.statuss == 200 }}"}),
        links=("start -> fetch", "fetch -> check"),
    )
    message = failure(await run(executor, wf), "check")
    assert message == (
        "node 'check', params.condition: undefined variable 'nodes.fetch.output.statuss': "
        "nodes.fetch.output has no key 'statuss' (keys: 'status', 'body')"
    )


@pytest.mark.parametrize(
    "source",
    [
        "{{ trigger.nope }}",
        "id: {{ trigger.nope }}",
        "{{ [trigger.nope] }}",
        "{{ trigger.nope.x }}",
    ],
)
async def test_an_undefined_key_fails_in_every_form(executor, source):
    message = failure(await set_values(executor, {"v": source}, {"a": 1}), "s")
    assert message.startswith("node 's', params.values.v: undefined variable 'trigger.nope'")
    assert "(keys: 'a')" in message


async def test_an_undefined_name_lists_what_exists(executor):
    message = failure(await set_values(executor, {"v": "{{ trigger_payload }}"}), "s")
    assert message == (
        "node 's', params.values.v: undefined variable 'trigger_payload' "
        "(available: execution, input, nodes, trigger, vars)"
    )


async def test_an_index_past_the_end_says_how_many_items_there_are(executor):
    message = failure(await set_values(executor, {"v": "{{ trigger.l[5] }}"}, {"l": [1, 2]}), "s")
    assert "undefined variable 'trigger.l[5]': trigger.l has 2 item(s)" in message


async def test_reading_a_skipped_node_says_it_was_skipped(executor):
    wf = workflow(
        node("start", "trigger.manual"),
        node("check", "core.if", params={"condition": "{{ trigger.go }}"}),
        node("taken"),
        node("m", "core.merge"),
        node("use", "core.set", params={"values": {"v": "{{ nodes.taken.output }}"}}),
        links=(
            "start -> check",
            "check:true -> taken",
            "taken -> m",
            "check:false -> m",
            "m -> use",
        ),
    )
    result = await run(executor, wf, {"go": False})
    assert statuses(result)["taken"] == "skipped"
    message = failure(result, "use")
    assert "undefined variable 'nodes.taken.output'" in message
    assert "(node 'taken' skipped)" in message


# -- the sandbox ------------------------------------------------------------------------

ATTACKS = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ self.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ lipsum.__globals__ }}",
    "{{ config }}",
    "{{ request }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{{ 'a' * 100000000 }}",
    "{{ 9 ** 99999999 }}",
    "{% for i in range(10**9) %}{% endfor %}",
    # Beyond the classics: values that are not data, and integers too big to show.
    "{{ trigger.__class__ }}",
    "{{ trigger['__class__'] }}",
    "{{ trigger.items }}",
    "{{ range }}",
    "{{ lipsum }}",
    "{{ cycler }}",
    "{{ (9 ** 999) ** 999 }}",
    "{% set x = 9 ** 999 %}{% set x = x * x %}{% set x = x * x %}{{ x * x }}",
    "{{ [1, 2] * 10000000 }}",
]
LEAKS = re.compile(r"<class|function|module|0x[0-9a-fA-F]{4,}")


@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize("framing", ["{}", "text {} text"])
async def test_reaching_python_internals_fails_cleanly_and_leaks_nothing(executor, attack, framing):
    result = await set_values(executor, {"x": framing.format(attack)}, {"a": 1})
    message = failure(result, "s")
    assert message.startswith("node 's', params.values.x: ")
    assert result.error is not None
    assert result.error.type == "template_error"
    for text in (message, result.error.message, json.dumps(result.to_json())):
        assert not LEAKS.search(text), text


async def test_a_template_error_is_not_retried(executor):
    retry = {"max_attempts": 5, "backoff_s": 0}
    wf = workflow(
        node("start", "trigger.manual"),
        node("s", "core.set", params={"values": {"x": "{{ trigger.nope }}"}}, retry=retry),
        links=("start -> s",),
    )
    result = await run(executor, wf, {})
    failure(result, "s")
    assert result.nodes["s"].attempts == 1


def test_moderate_arithmetic_is_allowed():
    assert render("{{ 2 ** 100 }}") == 2**100
    assert render("{{ (2 ** 999) * (2 ** 999) }}") == 2**1998
    assert render("{{ 'ab' * 3 }}") == "ababab"
    assert render("{{ 1.5 ** 2 }}") == 2.25


@pytest.mark.parametrize(
    "source", ["{{ trigger.append }}", "{{ trigger.tags.append(1) }}", "{{ trigger.obj.clear() }}"]
)
def test_templates_cannot_change_data(source):
    with pytest.raises(TemplateError):
        render(source)
    assert CONTEXT["trigger"]["tags"] == ["a", "b"]
    assert CONTEXT["trigger"]["obj"] == {"k": "v"}


def test_a_refused_template_error_is_a_node_error_that_is_not_retryable():
    with pytest.raises(TemplateError) as info:
        render("{{ ''.__class__ }}")
    assert (info.value.type, info.value.retryable) == ("template_error", False)
    assert (
        str(info.value)
        == "node 'x', params.p: not allowed in templates: reading attribute '__class__'"
    )


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'x' | center(10**9) }}",
        "{{ 'x' | indent(10**8) }}",
        "{{ '%999999999d' % 1 }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ lipsum(10**9) }}",
    ],
)
def test_templates_that_would_build_huge_strings_are_refused_at_once(source):
    started = time.perf_counter()
    with pytest.raises(TemplateError, match="not allowed in templates"):
        templates.render(source, {}, where="node 'n', params.p")
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ 'ab' | center(6) }}", "  ab  "),
        ("{{ '%05d' % 3 }}", "00003"),
        ("{{ '{:>4}'.format(1) }}", "   1"),
        ("{{ 7 % 3 }}", 1),
    ],
)
def test_ordinary_formatting_still_works(source, expected):
    assert templates.render(source, {}, where="p") == expected
