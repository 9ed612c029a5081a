"""The Node base class: mistakes fail when the class is defined; params migrate by version."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from tav.core.errors import WorkflowInvalid
from tav.core.states import ExecutionStatus
from tav.engine.executor import Executor
from tav.engine.plan import upgrade_workflow
from tav.nodes import Node, NodeContext, NodeSpec, Outputs, Port
from tav.nodes.builtin import BUILTIN_NODE_TYPES
from tav.nodes.registry import NodeRegistry
from tests.helpers import node, run, workflow


async def passthrough(self: Node, params: Any, input: Any, ctx: NodeContext) -> Outputs:
    return {"output": input}


def define(name: str = "Custom", **body: Any) -> type[Node]:
    """Define a Node subclass the way a class statement would."""
    return type(name, (Node,), {"run": passthrough, **body})


def test_a_well_formed_node_gets_a_title_from_its_type_id():
    defined = define(spec=NodeSpec(type="acme.send_invoice"))

    assert defined.spec.title == "Send Invoice"


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({}, "needs `spec = NodeSpec"),
        ({"spec": NodeSpec(type="Upper.case")}, "must look like 'family.name'"),
        ({"spec": NodeSpec(type="nodots")}, "must look like 'family.name'"),
        ({"spec": NodeSpec(type="acme.x", version=0)}, "version must be 1 or more"),
        ({"spec": NodeSpec(type="acme.x"), "Params": dict}, "Params must be a pydantic"),
        ({"spec": NodeSpec(type="acme.x"), "run": lambda *a: {}}, "must implement `async def"),
        ({"spec": NodeSpec(type="acme.x"), "outputs": {"a b": Port()}}, "output port 'a b'"),
        ({"spec": NodeSpec(type="acme.x"), "inputs": {"in": "not a port"}}, "input port 'in'"),
        (
            {"spec": NodeSpec(type="acme.x", version=3), "migrations": {1: dict}},
            "missing [2]",
        ),
    ],
)
def test_a_malformed_node_class_fails_when_defined(body, complaint):
    with pytest.raises(TypeError, match=r"node class .*\.Custom: ") as caught:
        define(**body)

    assert complaint in str(caught.value)


def test_a_node_without_run_fails_when_defined():
    with pytest.raises(TypeError, match="must implement"):
        type("Lazy", (Node,), {"spec": NodeSpec(type="acme.lazy")})


def test_an_abstract_base_is_not_checked_and_its_subclasses_are():
    class Base(Node, abstract=True):
        pool = "llm"

    class Concrete(Base):
        spec = NodeSpec(type="acme.concrete")
        run = passthrough

    assert Concrete.pool == "llm"
    with pytest.raises(TypeError, match="needs `spec"):
        type("Forgot", (Base,), {"run": passthrough})


# -- params migrations ------------------------------------------------------------------


class NoticeParams(BaseModel):
    message: str
    level: str


def _v1_to_v2(params: dict[str, Any]) -> dict[str, Any]:
    params["message"] = params.pop("text")
    return params


def _v2_to_v3(params: dict[str, Any]) -> dict[str, Any]:
    return {**params, "level": "info"}


class Notice(Node):
    """Version 1 had `text`; version 2 renamed it `message`; version 3 added `level`."""

    spec = NodeSpec(type="acme.notice", version=3)
    Params = NoticeParams
    migrations = {1: _v1_to_v2, 2: _v2_to_v3}

    async def run(self, params: NoticeParams, input: Any, ctx: NodeContext) -> Outputs:
        return {"output": f"[{params.level}] {params.message}"}


@pytest.fixture
def notices() -> Executor:
    return Executor(NodeRegistry([*BUILTIN_NODE_TYPES, Notice]))


async def test_params_saved_with_an_old_version_are_migrated_before_running(notices):
    wf = workflow(node("say", "acme.notice", version=1, params={"text": "{{ trigger }}"}))

    result = await run(notices, wf, "hi")

    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.nodes["say"].outputs == {"output": "[info] hi"}


def test_upgrading_a_workflow_records_the_current_version(notices):
    wf = workflow(node("say", "acme.notice", version=2, params={"message": "x"}))

    upgraded = upgrade_workflow(wf, notices.registry).node("say")

    assert (upgraded.version, upgraded.params) == (3, {"message": "x", "level": "info"})
    assert wf.node("say").params == {"message": "x"}


def test_a_version_newer_than_installed_is_a_located_problem(notices):
    wf = workflow(node("say", "acme.notice", version=4, params={"message": "x"}))

    with pytest.raises(WorkflowInvalid) as caught:
        notices.compile(wf)

    [problem] = caught.value.problems
    assert (problem.node, problem.field) == ("say", "version")
    assert "only version 3 is installed" in problem.message
