"""A custom node is one short file: drop it in a folder on TAV_NODES_PATH and use it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import tav
from tav.core.errors import WorkflowInvalid
from tav.core.states import ExecutionStatus
from tav.nodes.discovery import default_registry
from tests.helpers import document, node

# What a plugin author writes, whole: a Params model, a spec and `run`.
WORD_COUNT = '''\
"""Counts the words of a text."""

from typing import Any

from pydantic import BaseModel, Field

from tav.nodes import Node, NodeContext, NodeSpec, Outputs


class Params(BaseModel):
    text: str = Field(description="The text to count (usually a template).")
    min_length: int = Field(1, ge=1, description="Shorter words are not counted.")


class WordCount(Node):
    """Outputs how many words the text has."""

    spec = NodeSpec(type="acme.word_count", title="Word count", category="text", icon="hash")
    Params = Params

    async def run(self, params: Params, input: Any, ctx: NodeContext) -> Outputs:
        words = [w for w in params.text.split() if len(w) >= params.min_length]
        return {"output": {"words": len(words)}}
'''


@pytest.fixture
def nodes_path(tmp_path, monkeypatch) -> Path:
    """A plugin folder on TAV_NODES_PATH, after an empty one (the variable is a path list)."""
    folder = tmp_path / "my-nodes"
    folder.mkdir()
    (folder / "word_count.py").write_text(WORD_COUNT)
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("TAV_NODES_PATH", f"{tmp_path / 'empty'}{os.pathsep}{folder}")
    monkeypatch.setenv("TAV_DATA_DIR", str(tmp_path / "data"))  # tav.run_workflow's
    return folder


@pytest.fixture
def counting_workflow(tmp_path) -> Path:
    path = tmp_path / "count.json"
    doc = document(
        node("start", "trigger.manual"),
        node("count", "acme.word_count", params={"text": "{{ trigger.text }}", "min_length": 3}),
        node("out", "core.output"),
        links=("start -> count", "count -> out"),
        name="count words",
    )
    path.write_text(json.dumps(doc))
    return path


async def test_a_custom_node_file_on_tav_nodes_path_runs(nodes_path, counting_workflow):
    result = await tav.run_workflow(counting_workflow, {"text": "a custom node is one file"})

    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.output == {"words": 4}


def test_it_runs_from_sync_code_too(nodes_path, counting_workflow):
    result = tav.run_workflow_sync(counting_workflow, {"text": "one two three four a b"})

    assert result.output == {"words": 4}


def test_its_catalog_entry_comes_from_the_file(nodes_path):
    info = default_registry([nodes_path]).describe("acme.word_count")

    assert (info["title"], info["category"], info["icon"]) == ("Word count", "text", "hash")
    assert info["description"] == "Outputs how many words the text has."
    assert info["params_schema"]["required"] == ["text"]
    assert info["params_schema"]["properties"]["min_length"]["minimum"] == 1


async def test_its_params_are_checked_before_running(nodes_path, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps(document(node("count", "acme.word_count", params={"min_length": 0})))
    )

    with pytest.raises(WorkflowInvalid) as caught:
        await tav.run_workflow(path)

    fields = {(p.node, p.field) for p in caught.value.problems}
    assert fields == {("count", "params.text"), ("count", "params.min_length")}
