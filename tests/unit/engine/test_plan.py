"""Compiling workflows against the node registry: every problem located, and migrations."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from tav.core.errors import Problem, WorkflowInvalid
from tav.core.states import ExecutionStatus
from tav.engine.plan import Source, compile_plan, migrate_params, upgrade_workflow, validate
from tav.nodes.base import Node, NodeSpec, Outputs
from tav.nodes.context import NodeContext
from tav.nodes.registry import NodeRegistry
from tests.helpers import node, run, statuses, workflow

Where = tuple[str | None, int | None, str | None]


def problems(
    registry: NodeRegistry, *nodes: dict[str, Any], links: tuple[str, ...] = ()
) -> list[Problem]:
    return validate(workflow(*nodes, links=links), registry)


def located(found: list[Problem]) -> dict[Where, str]:
    return {(p.node, p.edge, p.field): p.message for p in found}


def only(found: list[Problem]) -> Problem:
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


# -- a valid workflow compiles into a plan ------------------------------------------------


def test_a_valid_workflow_compiles_into_a_plan(registry):
    wf = workflow(
        node("start", "trigger.manual"),
        node("a", "core.set", params={"values": {"x": 1}}),
        node("b", "core.set", params={"values": {"y": "{{ trigger.y }}"}}),
        node("m", "core.merge"),
        node("out", "core.output"),
        links=("start -> a", "start -> b", "b -> m", "a -> m", "m -> out"),
    )
    plan = compile_plan(wf, registry, source="flows/x.json")
    assert validate(wf, registry) == []
    assert plan.output_node == "out"
    assert plan.source == "flows/x.json"
    assert plan.predecessors["m"] == {"a", "b"}
    assert plan.nodes["m"].incoming["input"] == (Source("b", "output"), Source("a", "output"))
    assert plan.nodes["a"].static_params is not None
    assert plan.nodes["b"].static_params is None


def test_compile_plan_raises_with_the_source(registry):
    with pytest.raises(WorkflowInvalid) as info:
        compile_plan(workflow(node("a", "core.nop")), registry, source="x.json")
    assert info.value.source == "x.json"
    assert "invalid workflow (x.json): 1 problem(s)" in str(info.value)


# -- node types and params --------------------------------------------------------------


def test_an_unknown_node_type_suggests_near_misses(registry):
    problem = only(problems(registry, node("a", "core.nop")))
    assert (problem.node, problem.field) == ("a", "type")
    assert problem.message.startswith("unknown node type 'core.nop'; did you mean 'core.noop'")


def test_an_unknown_node_type_without_a_near_miss_suggests_nothing(registry):
    problem = only(problems(registry, node("a", "zzz.qqq")))
    assert problem.message == "unknown node type 'zzz.qqq'"


def test_a_node_type_whose_module_fails_to_import_is_a_located_problem():
    from tav.nodes.builtin import BUILTIN_NODE_TYPES
    from tav.nodes.modules import NodeModule

    registry = NodeRegistry(
        BUILTIN_NODE_TYPES,
        modules=[
            NodeModule("tav_no_such_module", ("core.foo",)),
            NodeModule("tav.nodes.builtin.core.flow", ("acme.missing",)),
        ],
    )
    wf = workflow(
        node("start", "trigger.manual"),
        node("x", "core.foo"),
        node("y", "acme.missing"),
        links=("start -> x", "start -> y"),
    )

    with pytest.raises(WorkflowInvalid) as caught:
        compile_plan(wf, registry)

    assert [str(p) for p in caught.value.problems] == [
        "node 'x', type: type 'core.foo' could not be loaded: "
        "ModuleNotFoundError: No module named 'tav_no_such_module'",
        "node 'y', type: type 'acme.missing' could not be loaded: "
        "LookupError: tav.nodes.builtin.core.flow defines no node type 'acme.missing'",
    ]
    upgraded = upgrade_workflow(wf, registry)
    assert upgraded.nodes[1:] == wf.nodes[1:]


def test_a_missing_required_param(registry):
    problem = only(problems(registry, node("wait", "core.delay")))
    assert str(problem) == "node 'wait', params.seconds: required param is missing"


def test_an_ill_typed_param(registry):
    problem = only(problems(registry, node("wait", "core.delay", params={"seconds": "abc"})))
    assert (problem.node, problem.field) == ("wait", "params.seconds")
    assert "valid number" in problem.message


def test_an_unknown_param(registry):
    problem = only(problems(registry, node("wait", "core.delay", params={"seconds": 1, "x": 2})))
    assert problem.field == "params.x"


def test_a_nested_param_problem_has_its_full_path(registry):
    sw = node("sw", "core.switch", params={"value": "x", "cases": ["ok", "not ok"]})
    problem = only(problems(registry, sw))
    assert problem.field == "params.cases"
    assert "'not ok' must be a port name" in problem.message


def test_a_templated_param_is_not_type_checked_when_validating(registry):
    wf = workflow(
        node("start", "trigger.manual"),
        node("wait", "core.delay", params={"seconds": "{{ trigger.s }}"}),
        links=("start -> wait",),
    )
    assert validate(wf, registry) == []
    assert compile_plan(wf, registry).nodes["wait"].static_params is None


def test_a_param_with_text_around_a_template_is_not_type_checked_either(registry):
    wait = node("wait", "core.delay", params={"seconds": "1{{ trigger.zeros }}"})
    assert problems(registry, node("start", "trigger.manual"), wait, links=("start -> wait",)) == []


async def test_a_templated_param_is_type_checked_when_it_runs(executor):
    wf = workflow(
        node("start", "trigger.manual"),
        node("wait", "core.delay", params={"seconds": "{{ trigger.s }}"}),
        links=("start -> wait",),
    )
    result = await run(executor, wf, {"s": "abc"})
    assert result.status is ExecutionStatus.FAILED
    error = result.nodes["wait"].error
    assert error is not None
    assert error.type == "params_invalid"
    assert error.message.startswith("node 'wait': params.seconds: ")
    assert result.nodes["wait"].attempts == 1

    assert (await run(executor, wf, {"s": 0})).succeeded


# -- templates ------------------------------------------------------------------------


def test_a_template_syntax_error_is_located_at_its_param_path(registry):
    values = {"ok": "{{ trigger.x }}", "deep": {"list": ["fine", "{{ trigger. }}"]}}
    found = problems(
        registry,
        node("start", "trigger.manual"),
        node("s", "core.set", params={"values": values}),
        links=("start -> s",),
    )
    problem = only(found)
    assert (problem.node, problem.field) == ("s", "params.values.deep.list[1]")
    assert problem.message.startswith("template syntax error: ")
    assert problem.message.endswith("(line 1)")


def test_a_block_syntax_error_is_reported_too(registry):
    bad = node("f", "core.fail", params={"message": "{% if trigger.x %}no end"})
    problem = only(problems(registry, bad))
    assert (problem.node, problem.field) == ("f", "params.message")
    assert "template syntax error" in problem.message


def test_a_template_reading_an_unknown_node(registry):
    found = problems(
        registry, node("s", "core.set", params={"values": {"x": "{{ nodes.nope.output }}"}})
    )
    assert str(only(found)) == "node 's', params.values.x: template reads unknown node 'nope'"


def test_a_template_reading_a_node_that_is_not_upstream(registry):
    found = problems(
        registry,
        node("start", "trigger.manual"),
        node("left"),
        node("right", "core.set", params={"values": {"x": "{{ nodes['left'].output }}"}}),
        links=("start -> left", "start -> right"),
    )
    problem = only(found)
    assert (problem.node, problem.field) == ("right", "params.values.x")
    assert "node 'left', which is not upstream of 'right'" in problem.message


def test_a_template_may_read_any_ancestor(registry):
    found = problems(
        registry,
        node("start", "trigger.manual"),
        node("a"),
        node("b"),
        node("c", "core.set", params={"values": {"x": "{{ nodes.start.output }}"}}),
        links=("start -> a", "a -> b", "b -> c"),
    )
    assert found == []


def test_an_unknown_type_does_not_make_templates_across_it_look_unrelated(registry):
    found = problems(
        registry,
        node("a", "core.nop"),
        node("b", "core.set", params={"values": {"x": "{{ nodes.a.output }}"}}),
        links=("a -> b",),
    )
    assert only(found).field == "type"


# -- ports ----------------------------------------------------------------------------


def test_an_edge_from_a_missing_output_port_lists_the_ports(registry):
    found = problems(
        registry,
        node("check", "core.if", params={"condition": "{{ input }}"}),
        node("b"),
        links=("check:yes -> b",),
    )
    assert located(found) == {
        (None, 0, "from"): "node 'check' (core.if) has no output port 'yes' (outputs: true, false)"
    }


def test_an_edge_to_a_missing_input_port_lists_the_ports(registry):
    found = problems(registry, node("a"), node("b"), links=("a -> b:left",))
    assert located(found) == {
        (None, 0, "to"): "node 'b' (core.noop) has no input port 'left' (inputs: input)"
    }


def test_an_edge_from_a_node_without_outputs(registry):
    found = problems(
        registry, node("f", "core.fail", params={"message": "x"}), node("b"), links=("f -> b",)
    )
    assert "(outputs: none)" in only(found).message


def test_an_edge_from_the_error_port_needs_on_error_branch(registry):
    found = problems(registry, node("a", "test.raise"), node("b"), links=("a:error -> b",))
    problem = only(found)
    assert (problem.edge, problem.field) == (0, "from")
    assert problem.message == "edge from 'a:error' needs on_error: branch on node 'a'"


def test_an_edge_from_the_error_port_of_a_branching_node_is_valid(registry):
    raiser = node("a", "test.raise", on_error="branch")
    assert problems(registry, raiser, node("b"), links=("a:error -> b",)) == []


def test_at_most_one_output_node(registry):
    found = problems(
        registry, node("o1", "core.output"), node("o2", "core.output"), node("o3", "core.output")
    )
    problem = only(found)
    assert (problem.node, problem.field) == ("o2", "type")
    assert problem.message == "at most 1 core.output node(s) per workflow; found o1, o2, o3"


def switch(*cases: str) -> dict[str, Any]:
    return node("sw", "core.switch", params={"value": "{{ input }}", "cases": list(cases)})


@pytest.mark.parametrize("port", ["high", "low", "default"])
def test_switch_output_ports_come_from_its_cases(registry, port):
    assert problems(registry, switch("high", "low"), node("b"), links=(f"sw:{port} -> b",)) == []


def test_an_edge_from_a_switch_case_that_is_not_listed(registry):
    found = problems(registry, switch("low"), node("b"), links=("sw:high -> b",))
    assert only(found).message == (
        "node 'sw' (core.switch) has no output port 'high' (outputs: low, default)"
    )


def test_switch_ports_are_not_checked_while_its_cases_are_templated(registry):
    sw = node("sw", "core.switch", params={"value": "x", "cases": "{{ trigger.cases }}"})
    assert problems(registry, sw, node("b"), links=("sw:anything -> b",)) == []


def test_a_pin_on_a_missing_port(registry):
    found = problems(registry, node("a", pin={"output": 1, "nope": 2}))
    assert str(only(found)) == "node 'a', pin: no output port 'nope' to pin (outputs: output)"


def test_a_pin_on_a_node_without_outputs(registry):
    found = problems(registry, node("f", "core.fail", params={"message": "x"}, pin={"output": 1}))
    assert only(found).field == "pin"


def test_a_pin_on_a_switch_case(registry):
    sw = switch("high")
    sw["pin"] = {"high": {"n": 1}}
    assert problems(registry, sw) == []


# -- versions ---------------------------------------------------------------------------


def test_a_node_saved_with_a_newer_type_version(registry):
    problem = only(problems(registry, node("a", version=3)))
    assert (problem.node, problem.field) == ("a", "version")
    assert problem.message == ("saved with version 3 of core.noop, but only version 1 is installed")


# -- every problem at once --------------------------------------------------------------


def test_a_broken_workflow_reports_every_problem_at_once(registry):
    wf = workflow(
        node("start", "trigger.manual"),
        node("start", "trigger.manual"),
        node("typo", "core.nop"),
        node("wait", "core.delay"),
        node("late", "core.delay", params={"seconds": "abc"}),
        node("fmt", "core.set", params={"values": {"x": "{{ trigger. }}"}}),
        node("peek", "core.set", params={"values": {"x": "{{ nodes.ghost.output }}"}}),
        node("check", "core.if", params={"condition": "{{ input }}"}),
        node("sw", "core.switch", params={"value": "{{ input }}", "cases": ["high"]}),
        node("o1", "core.output", pin={"nope": 1}),
        node("o2", "core.output", version=9),
        node("a"),
        node("b"),
        links=(
            "start -> wait",
            "wait -> nowhere",
            "check:maybe -> a",
            "a -> b:side",
            "a:error -> b",
            "sw:low -> b",
            "a -> a",
            "check:true -> sw",
            "check:true -> sw",
            "o1 -> o2",
            "o2 -> o1",
        ),
    )
    with pytest.raises(WorkflowInvalid) as info:
        compile_plan(wf, registry)
    assert set(located(info.value.problems)) == {
        ("start", None, None),  # duplicate id
        (None, 1, "to"),  # edge to a missing node
        (None, 6, None),  # self-loop
        (None, 8, None),  # duplicate edge
        ("o1", None, None),  # cycle
        ("typo", None, "type"),
        ("wait", None, "params.seconds"),
        ("late", None, "params.seconds"),
        ("fmt", None, "params.values.x"),
        ("peek", None, "params.values.x"),
        ("o1", None, "pin"),
        ("o2", None, "version"),
        (None, 2, "from"),  # no port 'maybe'
        (None, 3, "to"),  # no input 'side'
        (None, 4, "from"),  # error port without branch
        (None, 5, "from"),  # no switch case 'low'
        ("o2", None, "type"),  # two outputs
    }
    assert len(info.value.problems) == 17
    assert "o1 → o2 → o1" in located(info.value.problems)[("o1", None, None)]


# -- node classes and migrations --------------------------------------------------------


class GreetParams(BaseModel):
    name: str
    punctuation: str = "!"


def rename_who_to_name(params: dict[str, Any]) -> dict[str, Any]:
    params["name"] = params.pop("who")
    return params


class Greet(Node):
    """Version 2 renamed the `who` param to `name`."""

    spec = NodeSpec(type="test.greet", version=2)
    Params = GreetParams
    migrations = {1: rename_who_to_name}

    async def run(self, params: GreetParams, input: Any, ctx: NodeContext) -> Outputs:
        return {"output": f"hello {params.name}{params.punctuation}"}


def greet_workflow(**greet: Any) -> Any:
    return workflow(
        node("start", "trigger.manual"),
        node("greet", "test.greet", **greet),
        node("out", "core.output"),
        links=("start -> greet", "greet -> out"),
    )


@pytest.fixture
def greet_registry(registry: NodeRegistry) -> NodeRegistry:
    registry.register(Greet)
    return registry


async def test_a_node_saved_with_an_old_version_runs_with_migrated_params(greet_registry, executor):
    wf = greet_workflow(version=1, params={"who": "{{ trigger.name }}"})
    plan = compile_plan(wf, greet_registry)
    assert plan.nodes["greet"].params == {"name": "{{ trigger.name }}"}
    result = await run(executor, wf, {"name": "Ada"})
    assert result.output == "hello Ada!"


def test_migrating_does_not_change_the_workflow(greet_registry):
    wf = greet_workflow(version=1, params={"who": "Ada"})
    compile_plan(wf, greet_registry)
    assert wf.node("greet").params == {"who": "Ada"}


def test_old_params_without_their_version_are_invalid(greet_registry):
    problem = only(validate(greet_workflow(params={"who": "Ada"}), greet_registry))
    assert (problem.node, problem.field) == ("greet", "params.name")


async def test_upgrade_workflow_rewrites_params_and_records_the_version(greet_registry, executor):
    old = greet_workflow(version=1, params={"who": "Ada", "punctuation": "?"})
    upgraded = upgrade_workflow(old, greet_registry)
    greet = upgraded.to_document()["nodes"][1]
    assert (greet["version"], greet["params"]) == (2, {"name": "Ada", "punctuation": "?"})
    assert upgraded.node("start").version == 1
    assert old.node("greet").version == 1
    assert upgrade_workflow(upgraded, greet_registry) == upgraded
    assert (await run(executor, upgraded)).output == "hello Ada?"


def test_upgrade_workflow_leaves_nodes_it_cannot_upgrade(greet_registry):
    wf = workflow(node("new", "test.greet", version=5, params={"x": 1}), node("gone", "x.gone"))
    upgraded = upgrade_workflow(wf, greet_registry)
    assert upgraded.nodes == wf.nodes
    assert {p.field for p in validate(upgraded, greet_registry)} == {"version", "type"}


def test_migrations_run_in_order_from_the_saved_version():
    class Counter(Node):
        spec = NodeSpec(type="test.counter", version=4)
        migrations = {
            1: lambda p: {**p, "trail": [*p["trail"], 1]},
            2: lambda p: {**p, "trail": [*p["trail"], 2]},
            3: lambda p: {**p, "trail": [*p["trail"], 3]},
        }

        async def run(self, params: Any, input: Any, ctx: NodeContext) -> Outputs:
            return {}

    assert migrate_params(Counter, {"trail": []}, 1) == {"trail": [1, 2, 3]}
    assert migrate_params(Counter, {"trail": []}, 3) == {"trail": [3]}
    assert migrate_params(Counter, {"trail": []}, 4) == {"trail": []}


def test_a_version_bump_without_migrations_keeps_the_params(registry):
    class Bumped(Node):
        spec = NodeSpec(type="test.bumped", version=2)

        async def run(self, params: Any, input: Any, ctx: NodeContext) -> Outputs:
            return {"output": input}

    registry.register(Bumped)
    assert validate(workflow(node("b", "test.bumped", version=1)), registry) == []


def test_a_failing_migration_is_a_located_problem(registry):
    def broken(params: dict[str, Any]) -> dict[str, Any]:
        raise ValueError("no 'who' to rename")

    class Fragile(Node):
        spec = NodeSpec(type="test.fragile", version=2)
        migrations = {1: broken}

        async def run(self, params: Any, input: Any, ctx: NodeContext) -> Outputs:
            return {}

    registry.register(Fragile)
    problem = only(validate(workflow(node("f", "test.fragile", version=1)), registry))
    assert (problem.node, problem.field) == ("f", "params")
    assert problem.message == "params of version 1 cannot be upgraded: no 'who' to rename"


def test_migrations_must_cover_every_older_version():
    with pytest.raises(
        TypeError, match=r"migrations must cover every older version; missing \[1\]"
    ):

        class Partial(Node):
            spec = NodeSpec(type="test.partial", version=3)
            migrations = {2: rename_who_to_name}

            async def run(self, params: Any, input: Any, ctx: NodeContext) -> Outputs:
                return {}


def test_a_node_class_needs_a_spec():
    with pytest.raises(TypeError, match=r"NoSpec: needs `spec = NodeSpec"):

        class NoSpec(Node):
            async def run(self, params: Any, input: Any, ctx: NodeContext) -> Outputs:
                return {}


@pytest.mark.parametrize("type_id", ["noop", "Core.Noop", "core.", "core-x.y", "1core.x"])
def test_a_node_class_needs_a_dotted_lowercase_type_id(type_id):
    with pytest.raises(TypeError, match=r"must look like 'family\.name'"):

        class BadId(Node):
            spec = NodeSpec(type=type_id)

            async def run(self, params: Any, input: Any, ctx: NodeContext) -> Outputs:
                return {}


def test_a_node_class_needs_an_async_run():
    with pytest.raises(TypeError, match=r"SyncRun: must implement `async def run"):

        class SyncRun(Node):
            spec = NodeSpec(type="test.sync_run")

            def run(self, params: Any, input: Any, ctx: NodeContext) -> Outputs:
                return {}


def test_a_node_class_needs_a_run():
    with pytest.raises(TypeError, match="must implement"):

        class NoRun(Node):
            spec = NodeSpec(type="test.no_run")


def test_an_abstract_node_class_is_not_checked():
    class Base(Node, abstract=True):
        pass

    class Concrete(Base):
        spec = NodeSpec(type="test.concrete")

        async def run(self, params: Any, input: Any, ctx: NodeContext) -> Outputs:
            return {"output": input}

    assert Concrete.spec.title == "Concrete"


async def test_a_pinned_node_is_not_run_and_its_pin_flows_on(executor):
    wf = workflow(
        node("start", "trigger.manual"),
        node("boom", "test.raise", pin={"output": {"n": 7}}),
        node("out", "core.output", params={"value": "{{ input.n * 6 }}"}),
        links=("start -> boom", "boom -> out"),
    )
    result = await run(executor, wf)
    assert result.output == 42
    assert result.nodes["boom"].pinned
    assert statuses(result) == {"start": "succeeded", "boom": "succeeded", "out": "succeeded"}


# -- a node's own pool ----------------------------------------------------------------------


def test_a_node_may_name_a_pool_the_host_has_a_limit_for(registry):
    wf = workflow(
        node("start", "trigger.manual"),
        node("wait", "core.delay", params={"seconds": 0.01}, pool="slow"),
    )
    plan = compile_plan(wf, registry, pools={"http": 64, "slow": 2})

    assert plan.nodes["wait"].pool == "slow"
    assert plan.nodes["start"].pool is None


def test_a_node_without_a_pool_runs_in_its_types(registry):
    wf = workflow(node("get", "core.http_request", params={"url": "http://127.0.0.1/"}))
    assert compile_plan(wf, registry, pools={}).nodes["get"].pool == "http"


def test_a_node_may_name_the_pool_of_a_node_type_in_its_workflow(registry):
    wf = workflow(
        node("get", "core.http_request", params={"url": "http://127.0.0.1/"}),
        node("wait", "core.delay", params={"seconds": 0.01}, pool="http"),
    )
    assert validate(wf, registry, pools=()) == []


def test_an_unknown_pool_is_a_located_problem(registry):
    wf = workflow(
        node("start", "trigger.manual"),
        node("wait", "core.delay", params={"seconds": 0.01}, pool="slwo"),
    )
    found = only(validate(wf, registry, pools={"http": 64, "slow": 2}))

    assert (found.node, found.field) == ("wait", "pool")
    assert found.message == (
        "unknown pool 'slwo' (pools: http, slow); set its limit in the pools setting first"
    )
    with pytest.raises(WorkflowInvalid):
        compile_plan(wf, registry, pools={"slow": 2})


def test_pools_are_not_checked_when_the_host_does_not_say_which_it_has(registry):
    wf = workflow(node("wait", "core.delay", params={"seconds": 0.01}, pool="anything"))
    assert compile_plan(wf, registry).nodes["wait"].pool == "anything"


def test_a_pool_name_is_letters_digits_and_a_few_signs(registry):
    with pytest.raises(ValueError, match="pattern"):
        workflow(node("wait", "core.delay", params={"seconds": 0.01}, pool="no spaces"))
