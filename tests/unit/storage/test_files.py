"""FileStore: content on disk under files/, a row each, type detection, sweeping."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from tav.core.errors import NodeError
from tav.core.media import parse_media
from tav.storage.files import FileStore, FileTooLarge, clean_name, detect_mime_type

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201e221bc330000000049454e44ae426082"
)


async def test_an_export_is_stored_under_exports_and_read_back_by_its_uri(file_store: FileStore):
    value = await file_store.write(b"a,b\r\n1,2\r\n", name="report.csv", mime_type="text/csv")

    media = parse_media(value)
    assert media.uri is not None
    assert media.uri.startswith("file:")
    assert (media.mime_type, media.name, media.size) == ("text/csv", "report.csv", 10)
    file_id = media.metadata["file_id"]
    assert media.metadata["url"] == f"/api/v1/files/{file_id}/content"
    assert (file_store.root / "exports" / file_id).read_bytes() == b"a,b\r\n1,2\r\n"
    assert await file_store.read(media.uri) == b"a,b\r\n1,2\r\n"
    record = await file_store.get(file_id)
    assert record is not None
    assert record.kind == "export"
    assert record.execution_id is None


async def test_a_file_of_an_execution_lives_in_its_folder(file_store: FileStore):
    value = await file_store.save(b"hello", name="hi.txt", execution_id="e" * 32)

    file_id = value["metadata"]["file_id"]
    assert (file_store.root / "executions" / ("e" * 32) / file_id).read_bytes() == b"hello"
    assert value["kind"] == "text"
    assert value["mime_type"] == "text/plain"


async def test_an_export_remembers_the_execution_that_made_it(file_store: FileStore):
    value = await file_store.save(b"{}", name="x.json", execution_id="e" * 32, export=True)

    record = await file_store.get(value["metadata"]["file_id"])
    assert record is not None
    assert (record.kind, record.execution_id) == ("export", "e" * 32)
    assert file_store.path_of(record).parent.name == "exports"


@pytest.mark.parametrize(
    ("head", "name", "declared", "expected"),
    [
        (PNG, "photo.txt", "text/plain", "image/png"),  # the content wins
        (b"%PDF-1.7\n...", None, None, "application/pdf"),
        (b"a,b\n1,2\n", "data.csv", None, "text/csv"),
        (b'{"a": 1}', "data.json", "application/octet-stream", "application/json"),
        (b"plain words", "notes", "text/x-custom", "text/x-custom"),
        ("héllo wörld".encode(), None, None, "text/plain"),
        (b"\x00\x01\x02\xff", None, None, "application/octet-stream"),
        (
            b"PK\x03\x04" + b"\x00" * 40,
            "sheet.xlsx",
            None,
            ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ),
    ],
)
def test_types_are_detected_by_content_then_name_then_what_the_client_said(
    head: bytes, name: str | None, declared: str | None, expected: str
):
    assert detect_mime_type(head, name, declared) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ada\\report.pdf", "report.pdf"),
        ("a\x00b\nc.txt", "abc.txt"),
        ("", "file"),
        (None, "file"),
        ("x" * 300 + ".csv", "x" * 251 + ".csv"),
    ],
)
def test_names_keep_only_their_last_part(name: str | None, expected: str):
    assert clean_name(name) == expected


async def test_a_stream_beyond_the_limit_leaves_nothing(file_store: FileStore):
    with pytest.raises(FileTooLarge):
        await file_store.add_stream(
            io.BytesIO(b"x" * 2000), name="big.bin", kind="upload", max_bytes=1000
        )

    assert (await file_store.find())[1] == 0
    assert not any((file_store.root / "tmp").iterdir())


async def test_a_stream_is_hashed_and_typed_as_it_is_copied(file_store: FileStore):
    record = await file_store.add_stream(io.BytesIO(PNG), name="dot", kind="upload")

    assert (record.size, record.mime_type) == (len(PNG), "image/png")
    assert file_store.path_of(record) == file_store.root / "uploads" / record.id
    assert record.sha256 == hashlib.sha256(PNG).hexdigest()


async def test_reading_what_is_not_a_stored_file_fails_clearly(file_store: FileStore):
    for uri in ("file:///etc/passwd", "https://example.com/x", "file:" + "0" * 32):
        with pytest.raises(NodeError) as caught:
            await file_store.read(uri)
        assert caught.value.type == "file_not_found"
        assert not caught.value.retryable


async def test_deleting_removes_the_row_and_the_content(file_store: FileStore):
    record = await file_store.add(b"x", name="x.txt", kind="upload")

    assert await file_store.delete(record.id)
    assert not file_store.path_of(record).exists()
    assert await file_store.get(record.id) is None
    assert not await file_store.delete(record.id)


async def test_listing_is_newest_first_and_paged(file_store: FileStore):
    ids = [(await file_store.add(b"x", name=f"{i}.txt", kind="upload")).id for i in range(5)]
    await file_store.add(b"y", name="e.txt", kind="export")

    page, total = await file_store.find(kind="upload", limit=2, offset=1)
    assert total == 5
    assert [r.id for r in page] == [ids[3], ids[2]]


async def test_sweep_removes_folders_no_row_names_and_old_temporary_files(
    file_store: FileStore,
):
    kept = await file_store.save(b"keep", name="k.txt", execution_id="a" * 32)
    gone = await file_store.save(b"gone", name="g.txt", execution_id="b" * 32)
    await file_store.remove_execution("b" * 32)  # rows and folder
    orphan = file_store.root / "executions" / ("c" * 32)
    orphan.mkdir(parents=True)
    (orphan / "stray").write_bytes(b"?")
    stale = file_store.root / "tmp" / "stale"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"?")
    os.utime(stale, (0, 0))

    assert await file_store.sweep() == 1
    assert await file_store.read(kept["uri"]) == b"keep"
    assert not orphan.exists()
    assert not stale.exists()
    assert not (file_store.root / "executions" / ("b" * 32)).exists()
    with pytest.raises(NodeError):
        await file_store.read(gone["uri"])


async def test_missing_content_is_reported_as_such(file_store: FileStore, tmp_path: Path):
    record = await file_store.add(b"x", name="x.txt", kind="upload")
    file_store.path_of(record).unlink()

    with pytest.raises(NodeError, match="missing"):
        await file_store.read(record.uri)


async def test_paths_under_files_are_read_but_never_outside_it(file_store: FileStore):
    folder = file_store.root / "email" / "abc"
    folder.mkdir(parents=True)
    (folder / "big.pdf").write_bytes(b"%PDF")
    (file_store.root.parent / "secret").write_bytes(b"no")

    assert await file_store.read("files/email/abc/big.pdf") == b"%PDF"
    for uri in ("files/../secret", "files/email/../../secret", "files/email/abc", "files/tmp/x"):
        with pytest.raises(NodeError):
            await file_store.read(uri)


async def test_received_files_are_stored_files_of_their_kind(file_store: FileStore):
    value = await file_store.receive(b"a,b\n", name="stock.csv", mime_type="text/csv", via="email")
    record = await file_store.get(value["metadata"]["file_id"])
    assert record is not None
    assert (record.kind, record.mime_type, value["uri"]) == ("email", "text/csv", record.uri)
    assert file_store.path_of(record) == file_store.root / "email" / record.id
    assert await file_store.read(record.uri) == b"a,b\n"
    with pytest.raises(ValueError, match="not a kind of received file"):
        await file_store.receive(b"x", name="x", mime_type=None, via="upload")
