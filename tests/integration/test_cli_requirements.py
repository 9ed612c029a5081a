"""``tav run`` refuses, before running, a workflow whose nodes need services it lacks.

``tav run --no-store`` keeps nothing on disk, so it has no stored files, and no AI
services; a workflow with an AI or an export node is invalid there (exit 2, the nodes
named), rather than run until the node fails. ``tav run`` with its data dir has them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import document, node
from tests.integration.test_cli_run import tav, write


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("TAV_DATA_DIR", str(path))
    return path


def needs_services(tmp_path: Path) -> Path:
    return write(
        tmp_path,
        document(
            node("start", "trigger.manual"),
            node("ask", "ai.llm_chat", params={"prompt": "Summarize {{ trigger }}"}),
            node("save", "export.csv"),
            links=("start -> ask", "start -> save"),
        ),
    )


def test_no_store_refuses_at_compile_the_nodes_whose_services_it_lacks(tmp_path, data_dir):
    proc = tav("run", str(needs_services(tmp_path)), "--no-store", "--json", "--input", "[]")
    assert proc.returncode == 2, proc.stdout
    assert proc.stdout == ""
    assert "node 'ask': needs chat models, which this host does not provide" in proc.stderr
    assert "node 'save': needs stored files, which this host does not provide" in proc.stderr
    assert "service_unavailable" not in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not data_dir.exists()


def test_a_stored_run_supplies_stored_files(tmp_path):
    flow = write(
        tmp_path,
        document(
            node("start", "trigger.manual"),
            node("save", "export.csv"),
            node("out", "core.output"),
            links=("start -> save", "save -> out"),
        ),
    )
    proc = tav("run", str(flow), "--json", "--input", '[{"a": 1}]')
    assert proc.returncode == 0, proc.stderr
    output = json.loads(proc.stdout)["output"]
    assert (output["name"], output["mime_type"], output["size"]) == ("export.csv", "text/csv", 6)
