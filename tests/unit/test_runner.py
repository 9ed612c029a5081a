"""The Python API: ``tav.run_workflow`` and ``tav.run_workflow_sync``.

They run on the host every process builds (``tav.app.root``), over the data dir of the
settings (``TAV_DATA_DIR``), and keep the execution in memory only.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path

import pytest

import tav
from tav.app.root import build
from tav.core.errors import WorkflowInvalid
from tav.core.results import ExecutionResult
from tav.core.states import ExecutionStatus
from tav.core.workflow import Workflow
from tav.settings import Settings
from tests.fakes.llm import FakeProviders, Reply
from tests.helpers import document, node


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("TAV_DATA_DIR", str(path))
    return path


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


async def test_an_export_is_stored_in_the_data_dir_and_the_execution_is_not(data_dir):
    doc = document(
        node("start", "trigger.manual"), node("save", "export.csv"), links=("start -> save",)
    )

    result = await tav.run_workflow(doc, [{"a": 1}])

    assert result.status is ExecutionStatus.SUCCEEDED, result.error
    output = result.nodes["save"].outputs["output"]
    path = data_dir / "files" / "exports" / output["uri"].removeprefix("file:")
    assert path.read_bytes() == b"a\r\n1\r\n"
    assert await recorded(data_dir) == ([], 0)


async def test_an_ai_node_uses_a_credential_and_variables_of_the_data_dir(
    data_dir: Path, fake_llm: FakeProviders
):
    settings = Settings(data_dir=data_dir)
    parts = build(settings)
    try:
        await asyncio.to_thread(data_dir.mkdir)
        await parts.db.migrate()
        data = {"api_key": "sk-py-secret", "base_url": fake_llm.url("openai")}
        credential = (await parts.credentials.create("Fake OpenAI", "openai", data)).id
        await parts.variables.put("topic", "Paris")
    finally:
        await parts.aclose()
    fake_llm.reply("openai", Reply(text="the capital of France"))
    models = {"models": [{"credential": credential, "model": "gpt-test"}]}
    doc = document(
        node("start", "trigger.manual"),
        node("ask", "ai.llm_chat", params={"prompt": "What is {{ vars.topic }}?", **models}),
        links=("start -> ask",),
    )

    result = await tav.run_workflow(doc, settings=settings)

    assert result.status is ExecutionStatus.SUCCEEDED, result.error
    assert result.nodes["ask"].outputs["output"]["text"] == "the capital of France"
    [request] = fake_llm.requests
    assert request.json["messages"][-1]["content"] == "What is Paris?"
    assert await recorded(data_dir) == ([], 0)


def test_the_log_redaction_is_taken_off_the_handlers_after_the_run():
    """While it runs, stored secrets are kept out of the process's logs; after, the
    caller's handlers are as they were (a long-lived program calls it many times)."""
    handler = logging.StreamHandler(io.StringIO())
    logging.getLogger().addHandler(handler)
    try:
        for _ in range(2):
            assert tav.run_workflow_sync(DOC, {"name": "Di"}).output == "hi Di!"
            assert handler.filters == []
    finally:
        logging.getLogger().removeHandler(handler)


def test_an_invalid_workflow_leaves_the_data_dir_untouched(data_dir):
    with pytest.raises(WorkflowInvalid):
        tav.run_workflow_sync(document(node("a", "core.nope")))
    assert not data_dir.exists()


async def recorded(data_dir: Path) -> tuple[list[object], int]:
    """The executions stored in ``data_dir``: (summaries, total)."""
    parts = build(Settings(data_dir=data_dir))
    try:
        found, total = await parts.executions.find()
        return list(found), total
    finally:
        await parts.aclose()
