"""``tav run`` gives nodes the services a server gives them, with or without ``--no-store``.

Both ways build the same host (``tav.app.root``) over the data dir: AI nodes reach their
stored credentials, export nodes write under ``files/exports``. ``--no-store`` keeps only
the execution itself in memory: no executions row, no stored events.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tav.app.root import build
from tav.settings import Settings
from tests.fakes.llm import Reply
from tests.helpers import document, node
from tests.integration.test_cli_run import stored_runs, tav, write


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("TAV_DATA_DIR", str(path))
    return path


def exporting(tmp_path: Path) -> Path:
    return write(
        tmp_path,
        document(
            node("start", "trigger.manual"),
            node("save", "export.csv"),
            node("out", "core.output"),
            links=("start -> save", "save -> out"),
        ),
    )


def store_credential(data_dir: Path, data: dict[str, Any]) -> str:
    """An OpenAI credential stored in ``data_dir`` through the Python API, as the editor
    would store it."""

    async def create() -> str:
        parts = build(Settings(data_dir=data_dir), record=False)
        try:
            await parts.db.migrate()
            return (await parts.credentials.create("Fake OpenAI", "openai", data)).id
        finally:
            await parts.aclose()

    data_dir.mkdir(parents=True, exist_ok=True)
    return asyncio.run(create())


def exported(data_dir: Path, output: dict[str, Any]) -> bytes:
    assert output["uri"].startswith("file:")
    return (data_dir / "files" / "exports" / output["uri"].removeprefix("file:")).read_bytes()


@pytest.mark.parametrize("store", [True, False], ids=["stored", "no-store"])
def test_an_export_is_written_to_the_data_dirs_files(tmp_path, data_dir, store):
    flags = () if store else ("--no-store",)
    proc = tav("run", str(exporting(tmp_path)), *flags, "--json", "--input", '[{"a": 1}]')
    assert proc.returncode == 0, proc.stderr
    output = json.loads(proc.stdout)["output"]
    assert (output["name"], output["mime_type"], output["size"]) == ("export.csv", "text/csv", 6)
    assert exported(data_dir, output) == b"a\r\n1\r\n"
    assert len(stored_runs(data_dir)) == (1 if store else 0)


def test_no_store_runs_an_ai_node_with_a_stored_credential(tmp_path, data_dir, fake_llm):
    key = "sk-cli-secret"
    credential = store_credential(data_dir, {"api_key": key, "base_url": fake_llm.url("openai")})
    fake_llm.reply("openai", Reply(text="Paris"))
    models = [{"credential": credential, "model": "gpt-test"}]
    flow = document(
        node("start", "trigger.manual"),
        node("ask", "ai.llm_chat", params={"prompt": "{{ trigger.q }}", "models": models}),
        node("out", "core.output", params={"value": "{{ input.text }}"}),
        links=("start -> ask", "ask -> out"),
    )

    proc = tav("run", str(write(tmp_path, flow)), "--no-store", "--json", "--input", '{"q": "?"}')

    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["output"] == "Paris"
    assert key not in proc.stdout + proc.stderr
    [request] = fake_llm.requests
    assert request.json["messages"][-1]["content"] == "?"
    assert stored_runs(data_dir) == []


def test_no_store_refuses_an_invalid_workflow_before_touching_the_data_dir(tmp_path, data_dir):
    flow = write(tmp_path, document(node("start", "trigger.manual"), node("x", "core.nope")))
    proc = tav("run", str(flow), "--no-store", "--json")
    assert proc.returncode == 2, proc.stdout
    assert "core.nope" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not data_dir.exists()
