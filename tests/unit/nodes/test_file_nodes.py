"""file.read and file.write against real file storage (SQLite and a files dir in tmp)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tav.core.media import Media
from tav.engine.executor import Executor
from tav.nodes.host import HostServices
from tav.nodes.registry import NodeRegistry
from tav.storage.files import FileStore
from tests.helpers import node, run, workflow


@pytest.fixture
def executor(registry: NodeRegistry, file_store: FileStore) -> Executor:
    return Executor(registry, services=HostServices(files=file_store))


async def read(executor: Executor, file: Any, **params: Any) -> Any:
    wf = workflow(
        node("start", "trigger.manual"),
        node("read", "file.read", params={"file": "{{ trigger.file }}", **params}),
        links=("start -> read",),
    )
    result = await run(executor, wf, {"file": file})
    outcome = result.nodes["read"]
    assert outcome.status.value == "succeeded", outcome.error
    return outcome.outputs["output"]


async def stored(file_store: FileStore, data: bytes, name: str) -> dict[str, Any]:
    return (await file_store.add(data, name=name, kind="upload")).value()


async def test_text_is_read_from_a_stored_file(executor: Executor, file_store: FileStore):
    value = await stored(file_store, "Grüße\nzweite Zeile\n".encode(), "notes.txt")

    assert await read(executor, value) == "Grüße\nzweite Zeile\n"


async def test_csv_becomes_rows_keyed_by_the_header(executor: Executor, file_store: FileStore):
    value = await stored(file_store, b"\xef\xbb\xbfname;qty\r\nbolt;3\r\nnut;10\r\n", "parts.csv")

    assert await read(executor, value) == [
        {"name": "bolt", "qty": "3"},
        {"name": "nut", "qty": "10"},
    ]
    assert await read(executor, value, header=False) == [
        ["name", "qty"],
        ["bolt", "3"],
        ["nut", "10"],
    ]


async def test_json_is_parsed(executor: Executor, file_store: FileStore):
    value = await stored(file_store, json.dumps({"a": [1, 2]}).encode(), "data.json")

    assert await read(executor, value) == {"a": [1, 2]}
    assert await read(executor, Media.json_value([1, 2]).to_value()) == [1, 2]


async def test_the_text_of_a_pdf_is_extracted(executor: Executor, file_store: FileStore):
    from fpdf import FPDF

    pdf = FPDF()
    for text in ("First page text", "Second page text"):
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        pdf.cell(text=text)
    value = await stored(file_store, bytes(pdf.output()), "doc.pdf")

    text = await read(executor, value)
    assert text.split("\n\n") == ["First page text", "Second page text"]


async def test_inline_media_needs_no_file_storage(registry: NodeRegistry):
    value = Media.from_bytes(b"a,b\n1,2\n", name="x.csv").to_value()

    assert await read(Executor(registry), value) == [{"a": "1", "b": "2"}]


async def test_format_can_be_forced(executor: Executor, file_store: FileStore):
    value = await stored(file_store, b'{"x": 1}', "data.txt")

    assert await read(executor, value) == '{"x": 1}'
    assert await read(executor, value, format="json") == {"x": 1}


@pytest.mark.parametrize(
    ("file", "error_type", "message"),
    [
        ({"kind": "text"}, "params_invalid", "not a media value"),
        (
            Media.file("file:" + "0" * 32, mime_type="text/plain").to_value(),
            "file_not_found",
            "no stored file",
        ),
        (
            Media.from_bytes(b"\x89PNG\r\n\x1a\n", mime_type="image/png").to_value(),
            "unsupported_format",
            "as text",
        ),
        (
            Media.from_bytes(b"\xff\xfe\x00bad", name="x.txt").to_value(),
            "invalid_content",
            "not utf-8 text",
        ),
        (
            Media.from_bytes(b"not a pdf", name="x.pdf").to_value(),
            "invalid_content",
            "not a readable PDF",
        ),
    ],
)
async def test_what_cannot_be_read_fails_without_retrying(
    executor: Executor, file: Any, error_type: str, message: str
):
    wf = workflow(
        node("start", "trigger.manual"),
        node(
            "read",
            "file.read",
            params={"file": "{{ trigger.file }}"},
            retry={"max_attempts": 3, "backoff_s": 0},
        ),
        links=("start -> read",),
    )
    result = await run(executor, wf, {"file": file})

    outcome = result.nodes["read"]
    assert outcome.status.value == "failed"
    assert outcome.error is not None
    assert outcome.error.type == error_type
    assert message in outcome.error.message
    assert outcome.attempts == 1


async def test_file_write_stores_a_file_of_the_execution(executor: Executor, file_store: FileStore):
    wf = workflow(
        node("start", "trigger.manual"),
        node("text", "file.write", params={"content": "{{ trigger.text }}", "name": "a.md"}),
        node("data", "file.write", params={"content": "{{ trigger.rows }}"}),
        node("copy", "file.write", params={"content": "{{ nodes.text.output }}"}),
        node("back", "file.read", params={"file": "{{ nodes.data.output }}"}),
        links=("start -> text", "start -> data", "text -> copy", "data -> back"),
    )
    result = await run(executor, wf, {"text": "# Hi", "rows": [{"a": 1}]})

    text = result.nodes["text"].outputs["output"]
    assert (text["name"], text["mime_type"], text["size"]) == ("a.md", "text/markdown", 4)
    data = result.nodes["data"].outputs["output"]
    assert (data["name"], data["mime_type"]) == ("data.json", "application/json")
    assert result.nodes["back"].outputs["output"] == [{"a": 1}]
    copy = result.nodes["copy"].outputs["output"]
    assert (copy["name"], copy["mime_type"]) == ("a.md", "text/markdown")
    assert copy["uri"] != text["uri"]
    records, total = await file_store.find(execution_id=result.execution_id)
    assert total == 3
    assert {r.kind for r in records} == {"execution"}
    assert await file_store.read(copy["uri"]) == b"# Hi"
