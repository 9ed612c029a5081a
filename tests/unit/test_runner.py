"""The Python API: ``tav.run_workflow`` and ``tav.run_workflow_sync``."""

from __future__ import annotations

import json

import pytest

import tav
from tav.core.errors import WorkflowInvalid
from tav.core.results import ExecutionResult
from tav.core.states import ExecutionStatus
from tav.core.workflow import Workflow
from tav.settings import Settings
from tests.helpers import document, node

DOC = document(
    node("start", "trigger.manual"),
    node("greet", "core.set", params={"values": {"text": "hi {{ trigger.name }}{{ vars.mark }}"}}),
    node("out", "core.output", params={"value": "{{ input.text }}"}),
    links=("start -> greet", "greet -> out"),
    vars={"mark": "!"},
)


def test_sync_api_runs_a_document_and_returns_the_result_model():
    result = tav.run_workflow_sync(DOC, {"name": "Ada"})
    assert isinstance(result, ExecutionResult)
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.output == "hi Ada!"
    assert result.to_json()["nodes"]["out"]["outputs"] == {"output": "hi Ada!"}


async def test_async_api_runs_a_file_and_a_model(tmp_path):
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(DOC))
    from_file = await tav.run_workflow(path, {"name": "Bo"})
    from_model = await tav.run_workflow(Workflow.model_validate(DOC), {"name": "Bo"})
    assert from_file.output == "hi Bo!"
    assert from_model.output == "hi Bo!"


def test_global_vars_come_from_settings():
    doc = {**DOC, "vars": {}}
    result = tav.run_workflow_sync(doc, {"name": "Cy"}, settings=Settings(vars={"mark": "?"}))
    assert result.output == "hi Cy?"


def test_an_invalid_document_raises_with_every_problem():
    broken = document(node("a", "core.nope"), node("a", "core.noop"), links=("a -> b",))
    with pytest.raises(WorkflowInvalid) as caught:
        tav.run_workflow_sync(broken)
    messages = [str(problem) for problem in caught.value.problems]
    assert any("duplicate node id" in m for m in messages)
    assert any("core.nope" in m for m in messages)
    assert any("unknown node 'b'" in m for m in messages)


def test_a_node_needing_a_service_this_host_lacks_is_refused_before_running():
    """Without storage there are no stored files: an export cannot run, and says so first."""
    doc = document(
        node("start", "trigger.manual"), node("save", "export.csv"), links=("start -> save",)
    )
    with pytest.raises(WorkflowInvalid) as caught:
        tav.run_workflow_sync(doc, [{"a": 1}])
    assert [(p.node, p.message) for p in caught.value.problems] == [
        ("save", "needs stored files, which this host does not provide")
    ]
