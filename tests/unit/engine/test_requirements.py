"""Host services a node type requires are checked when a workflow compiles, not when it runs.

A node that needs a service its host does not supply (chat models on a host without AI,
stored files on a host without storage) is a located problem before anything runs, the way
an unknown type or a bad param is; what a node needs comes from its capabilities and its
own ``requires``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tav.core.errors import NodeError, Problem, WorkflowInvalid
from tav.core.states import ExecutionStatus
from tav.engine.bus import InMemoryBus
from tav.engine.executor import Executor
from tav.engine.plan import validate
from tav.nodes.base import Node, NodeSpec, Outputs
from tav.nodes.capabilities import ExportCapability, LLMCapability
from tav.nodes.context import NodeContext
from tav.nodes.host import (
    CHAT_MODELS,
    FILES,
    MAILER,
    HostServices,
    PdfFonts,
    Requirement,
)
from tav.nodes.registry import NodeRegistry
from tests.helpers import document, node, run, workflow


class Stash:
    """``Files`` that keeps what nodes save in memory."""

    def __init__(self) -> None:
        self.saved: dict[str, bytes] = {}

    async def write(self, data: bytes, *, name: str, mime_type: str) -> dict[str, Any]:
        return await self.save(data, name=name, mime_type=mime_type, export=True)

    async def read(self, uri: str) -> bytes:
        return self.saved[uri]

    async def save(self, data: bytes, *, name: str, **_: Any) -> dict[str, Any]:
        self.saved[f"file:{name}"] = data
        return {"uri": f"file:{name}"}


class SaveNote(Node):
    """Saves its input as a file: it requires stored files."""

    spec = NodeSpec(type="test.save_note")
    requires = (FILES,)

    async def run(self, params: Any, input: Any, ctx: NodeContext) -> Outputs:
        return {"output": await ctx.service(FILES).save(str(input).encode(), name="note.txt")}


class MailedExport(ExportCapability, LLMCapability, Node):
    """Capabilities and the node's own ``requires`` add up, each once."""

    spec = NodeSpec(type="test.mailed_export")
    requires = (MAILER, FILES)

    async def run(self, params: Any, input: Any, ctx: NodeContext) -> Outputs:
        return {}


class Undeclared(Node):
    """Asks for stored files without declaring them: found out only when it runs."""

    spec = NodeSpec(type="test.undeclared")

    async def run(self, params: Any, input: Any, ctx: NodeContext) -> Outputs:
        return {"output": await ctx.service(FILES).read("file:x")}


@pytest.fixture
def registry(registry: NodeRegistry) -> NodeRegistry:
    for node_type in (SaveNote, MailedExport, Undeclared):
        registry.register(node_type)
    return registry


def executor_with(registry: NodeRegistry, services: HostServices) -> Executor:
    return Executor(registry, bus=InMemoryBus(), services=services)


def refused(executor: Executor, *nodes: dict[str, Any], links: tuple[str, ...]) -> list[Problem]:
    with pytest.raises(WorkflowInvalid) as info:
        executor.compile(workflow(*nodes, links=links))
    return info.value.problems


def test_a_node_needing_a_service_the_host_lacks_is_a_located_problem(registry):
    executor = executor_with(registry, HostServices())
    problems = refused(
        executor,
        node("start", "trigger.manual"),
        node("save", "test.save_note"),
        node("ask", "ai.llm_chat", params={"prompt": "hi"}),
        links=("start -> save", "start -> ask"),
    )
    assert [(p.node, p.field, p.message) for p in problems] == [
        ("save", None, "needs stored files, which this host does not provide"),
        ("ask", None, "needs chat models, which this host does not provide"),
    ]


async def test_the_same_workflow_compiles_and_runs_on_a_host_that_supplies_the_service(registry):
    files = Stash()
    executor = executor_with(registry, HostServices(files=files))
    wf = workflow(
        node("start", "trigger.manual"),
        node("save", "test.save_note"),
        links=("start -> save",),
    )
    result = await run(executor, wf, "hello")
    assert result.status is ExecutionStatus.SUCCEEDED
    assert files.saved == {"file:note.txt": b"hello"}


def test_every_missing_service_of_a_node_is_named_in_one_problem(registry):
    executor = executor_with(registry, HostServices(chat_models=object()))  # type: ignore[arg-type]
    problems = refused(
        executor,
        node("start", "trigger.manual"),
        node("rag", "ai.rag_answer", params={"question": "q", "collection": "c"}),
        node("both", "test.mailed_export"),
        links=("start -> rag", "start -> both"),
    )
    assert [p.message for p in problems] == [
        "needs embedding models and vector stores, which this host does not provide",
        "needs stored files and a mail client, which this host does not provide",
    ]


def test_requirements_come_from_capabilities_and_the_node_each_once():
    found: tuple[Requirement[Any], ...] = MailedExport.requires
    assert found == (CHAT_MODELS, FILES, MAILER)


def test_compiling_without_a_host_does_not_check_requirements(registry):
    wf = workflow(
        node("start", "trigger.manual"), node("save", "test.save_note"), links=("start -> save",)
    )
    assert validate(wf, registry) == []
    assert [p.message for p in validate(wf, registry, services=HostServices())] == [
        "needs stored files, which this host does not provide"
    ]


async def test_a_sub_workflow_needing_a_missing_service_fails_its_caller_with_the_problem(
    registry, tmp_path: Path
):
    (tmp_path / "sub.json").write_text(
        json.dumps(
            document(
                node("start", "trigger.manual"),
                node("save", "test.save_note"),
                links=("start -> save",),
            )
        )
    )
    parent = tmp_path / "parent.json"
    parent.write_text(
        json.dumps(
            document(
                node("start", "trigger.manual"),
                node("call", "core.subworkflow", params={"workflow": "sub.json"}),
                links=("start -> call",),
            )
        )
    )
    executor = executor_with(registry, HostServices())
    wf = workflow(
        node("start", "trigger.manual"),
        node("call", "core.subworkflow", params={"workflow": "sub.json"}),
        links=("start -> call",),
    )
    result = await executor.execute(executor.compile(wf, source=str(parent)))
    error = result.nodes["call"].error
    assert error is not None
    assert error.type == "subworkflow_invalid"
    assert "node 'save': needs stored files, which this host does not provide" in error.message


async def test_an_undeclared_service_the_host_lacks_fails_the_node_when_it_runs(registry):
    executor = executor_with(registry, HostServices())
    wf = workflow(
        node("start", "trigger.manual"), node("ask", "test.undeclared"), links=("start -> ask",)
    )
    result = await run(executor, wf)
    error = result.nodes["ask"].error
    assert error is not None
    assert (error.type, error.message) == (
        "service_unavailable",
        "this node needs stored files, which this host does not provide",
    )


async def test_optional_services_are_read_from_the_context(registry):
    seen: list[HostServices] = []

    class Peek(Node):
        spec = NodeSpec(type="test.peek")

        async def run(self, params: Any, input: Any, ctx: NodeContext) -> Outputs:
            seen.append(ctx.services)
            return {"output": ctx.services.pdf_fonts.files}

    registry.register(Peek)
    services = HostServices(pdf_fonts=PdfFonts(("/fonts/a.ttf",)))
    executor = executor_with(registry, services)
    wf = workflow(node("start", "trigger.manual"), node("p", "test.peek"), links=("start -> p",))
    result = await run(executor, wf)
    assert result.nodes["p"].outputs == {"output": ("/fonts/a.ttf",)}
    assert seen == [services]


def test_a_node_class_requiring_something_else_than_a_requirement_fails_at_definition():
    with pytest.raises(TypeError, match=r"requires must list requirements from tav\.nodes\.host"):

        class Wrong(Node):
            spec = NodeSpec(type="test.wrong")
            requires = (NodeError,)  # type: ignore[assignment]

            async def run(self, params: Any, input: Any, ctx: NodeContext) -> Outputs:
                return {}


def test_a_requirement_names_a_host_service():
    with pytest.raises(ValueError, match="names a field of HostServices, not 'gpu'"):
        Requirement("gpu", "a GPU")
