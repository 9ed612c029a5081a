"""Stored files: the content on disk under the data dir's ``files/``, one ``files`` row each.

Layout::

    files/uploads/<id>                      uploaded through the API; kept until deleted
    files/exports/<id>                      written by export nodes; kept until deleted
    files/email/<id>                        large attachments of mail triggers; kept until
                                            deleted
    files/executions/<execution id>/<id>    written by nodes; deleted with the execution
    files/tmp/                              content being written

Paths on disk are made of ids only: the name a file was given lives in its row, so no name
can reach outside ``files/``. Content is written to ``files/tmp`` first, then the row is
committed, then the file is moved into place: a folder under ``files/executions`` exists
only once a row names its execution, which is what lets ``sweep`` remove the folders of
pruned executions without a lock. (Writing the row last would leave, for a moment, a
folder that a concurrent sweep could take for an orphan.) A crash between the commit and
the move leaves a row without content, which reads as ``content missing``.

``FileStore`` is the host's ``Files`` service (``tav.nodes.capabilities``): nodes hand it
bytes and get a MediaFormat value back, whose ``uri`` (``file:<id>``) it reads again. It is
also where triggers keep what arrives too large to travel inline (``receive``). It still
reads the ``files/email/<folder>/<name>`` paths earlier versions wrote without a row, so
payloads of old executions keep working, never anything outside ``files/``.
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal

from sqlalchemy import delete, func, select

from tav.core.errors import NodeError
from tav.core.events import utcnow
from tav.core.media import Media
from tav.storage.db import Database
from tav.storage.models import FileRow

FileKind = Literal["upload", "export", "execution", "email"]
FILE_URI = re.compile(r"^file:([0-9a-f]{32})$")
SAFE_ID = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")
"""An execution id that can name a folder (no path separators, no leading dot)."""
RELATIVE_URI = re.compile(r"^files(/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$")
"""A path under files/ whose parts cannot climb out of it (none starts with a dot)."""
DOWNLOAD_PATH = "/api/v1/files/{id}/content"
SNIFF_BYTES = 8192
"""What type detection looks at: the longest signature ``filetype`` checks."""
CONTAINERS = frozenset({"application/zip"})
"""Signatures that many formats share (xlsx, docx, epub are zip files): the name says more."""
CHUNK = 1024 * 1024
TMP_MAX_AGE_S = 3600
NAME_MAX = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class FileTooLarge(Exception):
    """Content beyond the size limit it was stored under."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the file is larger than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True, slots=True)
class FileRecord:
    id: str
    name: str
    mime_type: str
    size: int
    sha256: str
    kind: str
    execution_id: str | None
    created_at: datetime

    @property
    def uri(self) -> str:
        return f"file:{self.id}"

    @property
    def url(self) -> str:
        """Where the API serves its content."""
        return DOWNLOAD_PATH.format(id=self.id)

    def value(self) -> dict[str, Any]:
        """The MediaFormat value that stands for the file in workflows."""
        return Media.file(
            self.uri,
            mime_type=self.mime_type,
            name=self.name,
            size=self.size,
            metadata={"file_id": self.id, "url": self.url, "sha256": self.sha256},
        ).to_value()


def file_id(uri: str) -> str | None:
    """The id in a stored file's uri (``file:<id>``); ``None`` for any other uri."""
    match = FILE_URI.match(uri)
    return match.group(1) if match else None


def clean_name(name: str | None) -> str:
    """The last part of a client's file name, without control characters."""
    base = PurePosixPath((name or "").replace("\\", "/")).name
    base = _CONTROL.sub("", base).strip()
    if len(base) > NAME_MAX:
        stem, dot, suffix = base.rpartition(".")
        if dot and stem and len(suffix) <= 16:  # keep the extension
            base = f"{stem[: NAME_MAX - len(suffix) - 1]}.{suffix}"
        else:
            base = base[:NAME_MAX]
    return base or "file"


def detect_mime_type(head: bytes, name: str | None, declared: str | None = None) -> str:
    """The type of content starting with ``head``: by its signature (images, PDF, archives,
    office documents, audio, video), else by the name's extension, else as the client
    declared it, else ``text/plain`` for UTF-8 text and ``application/octet-stream``."""
    import filetype  # type: ignore[import-untyped]  # 15 modules a start has no use for

    guessed = filetype.guess_mime(head) if head else None
    by_name = mimetypes.guess_type(name or "")[0]
    if guessed and not (guessed in CONTAINERS and by_name):
        return str(guessed)
    if by_name:
        return by_name
    if declared and declared.split(";")[0].strip() not in ("", "application/octet-stream"):
        return declared.split(";")[0].strip().lower()
    if head and _is_text(head):
        return "text/plain"
    return "application/octet-stream"


def _is_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the end of the sample
            return False
    return b"\x00" not in head


class FileStore:
    """Files under ``root`` (the data dir's ``files/``), recorded in the database."""

    def __init__(self, db: Database, root: Path) -> None:
        self.db = db
        self.root = root

    # -- paths ----------------------------------------------------------------------------

    def path_of(self, record: FileRecord) -> Path:
        if record.kind == "execution" and record.execution_id:
            return self.root / "executions" / record.execution_id / record.id
        folder = {"upload": "uploads", "email": "email"}.get(record.kind, "exports")
        return self.root / folder / record.id

    def _tmp(self) -> Path:
        return self.root / "tmp" / uuid.uuid4().hex

    # -- storing --------------------------------------------------------------------------

    async def add(
        self,
        data: bytes,
        *,
        name: str | None,
        kind: FileKind,
        mime_type: str | None = None,
        execution_id: str | None = None,
    ) -> FileRecord:
        """Store ``data``; ``mime_type`` ``None``: detected from the content and name."""
        if execution_id is not None and not SAFE_ID.match(execution_id):
            raise ValueError(f"{execution_id!r} is not an execution id")
        tmp = self._tmp()
        digest = await asyncio.to_thread(_write, tmp, data)
        name = clean_name(name)
        return await self._commit(
            tmp,
            name=name,
            kind=kind,
            mime_type=mime_type or detect_mime_type(data[:SNIFF_BYTES], name),
            size=len(data),
            sha256=digest,
            execution_id=execution_id,
        )

    async def add_stream(
        self,
        source: IO[bytes],
        *,
        name: str | None,
        kind: FileKind,
        declared_type: str | None = None,
        max_bytes: int | None = None,
    ) -> FileRecord:
        """Store what ``source`` holds (read in chunks off the event loop); raises
        ``FileTooLarge`` past ``max_bytes``, keeping nothing."""
        tmp = self._tmp()
        size, digest, head = await asyncio.to_thread(_copy, source, tmp, max_bytes)
        name = clean_name(name)
        return await self._commit(
            tmp,
            name=name,
            kind=kind,
            mime_type=detect_mime_type(head, name, declared_type),
            size=size,
            sha256=digest,
            execution_id=None,
        )

    async def _commit(self, tmp: Path, *, execution_id: str | None, **fields: Any) -> FileRecord:
        record = FileRecord(
            id=uuid.uuid4().hex, execution_id=execution_id, created_at=utcnow(), **fields
        )
        try:
            async with self.db.transaction() as session:
                session.add(FileRow(**_row(record)))
        except BaseException:
            await asyncio.to_thread(_unlink, tmp)
            raise
        try:
            await asyncio.to_thread(_move, tmp, self.path_of(record))
        except BaseException:
            await self.delete(record.id)
            await asyncio.to_thread(_unlink, tmp)
            raise
        return record

    # -- reading --------------------------------------------------------------------------

    async def get(self, id: str) -> FileRecord | None:
        async with self.db.session() as session:
            row = await session.get(FileRow, id)
            return _record(row) if row is not None else None

    async def find(
        self,
        *,
        kind: str | None = None,
        execution_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[FileRecord], int]:
        """Newest first, with the total count for paging."""
        conditions = []
        if kind is not None:
            conditions.append(FileRow.kind == kind)
        if execution_id is not None:
            conditions.append(FileRow.execution_id == execution_id)
        async with self.db.session() as session:
            total = await session.scalar(
                select(func.count()).select_from(FileRow).where(*conditions)
            )
            rows = await session.scalars(
                select(FileRow)
                .where(*conditions)
                .order_by(FileRow.created_at.desc(), FileRow.id)
                .limit(limit)
                .offset(offset)
            )
            return [_record(row) for row in rows], int(total or 0)

    async def content(self, record: FileRecord) -> bytes:
        """Raises ``FileNotFoundError`` when the content is missing."""
        return await asyncio.to_thread(self.path_of(record).read_bytes)

    # -- deleting -------------------------------------------------------------------------

    async def delete(self, id: str) -> bool:
        async with self.db.transaction() as session:
            row = await session.get(FileRow, id)
            if row is None:
                return False
            record = _record(row)
            await session.delete(row)
        await asyncio.to_thread(_unlink, self.path_of(record))
        return True

    async def remove_execution(self, execution_id: str) -> int:
        """Delete the files of one execution (not its exports); returns how many."""
        if not SAFE_ID.match(execution_id):
            return 0
        async with self.db.transaction() as session:
            result = await session.execute(
                delete(FileRow).where(
                    FileRow.execution_id == execution_id, FileRow.kind == "execution"
                )
            )
        await asyncio.to_thread(_rmtree, self.root / "executions" / execution_id)
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def sweep(self) -> int:
        """Remove the folders of executions that no longer have any files (their rows go
        with the execution when it is pruned or deleted), and temporary files an hour
        old; returns how many folders went."""
        folders = await asyncio.to_thread(_folders, self.root / "executions")
        await asyncio.to_thread(_clear_tmp, self.root / "tmp", TMP_MAX_AGE_S)
        if not folders:
            return 0
        owned: set[str] = set()
        async with self.db.session() as session:
            names = sorted(folders)
            for start in range(0, len(names), 500):
                chunk = names[start : start + 500]
                owned.update(
                    await session.scalars(
                        select(FileRow.execution_id)
                        .where(FileRow.kind == "execution", FileRow.execution_id.in_(chunk))
                        .distinct()
                    )
                )
        orphans = folders - owned
        for name in orphans:
            await asyncio.to_thread(_rmtree, self.root / "executions" / name)
        return len(orphans)

    # -- the nodes' Files service ---------------------------------------------------------

    async def write(self, data: bytes, *, name: str, mime_type: str) -> dict[str, Any]:
        return await self.save(data, name=name, mime_type=mime_type, export=True)

    async def save(
        self,
        data: bytes,
        *,
        name: str,
        mime_type: str | None = None,
        execution_id: str | None = None,
        export: bool = False,
    ) -> dict[str, Any]:
        kind: FileKind = "export" if export or execution_id is None else "execution"
        record = await self.add(
            data, name=name, kind=kind, mime_type=mime_type, execution_id=execution_id
        )
        return record.value()

    async def receive(
        self, data: bytes, *, name: str, mime_type: str | None, via: str
    ) -> dict[str, Any]:
        """Keep what a trigger received (``via``: ``email``) as a file of that kind, kept
        until deleted; returns its file value (``tav.triggers.ports.ReceivedFiles``)."""
        if via != "email":
            raise ValueError(f"{via!r} is not a kind of received file (email)")
        declared = None if mime_type in (None, "application/octet-stream") else mime_type
        record = await self.add(data, name=name, kind="email", mime_type=declared)
        return record.value()

    async def read(self, uri: str) -> bytes:
        id = file_id(uri)
        if id is None and RELATIVE_URI.match(uri) and not uri.startswith("files/tmp/"):
            return await self._read_relative(uri)
        if id is None:
            raise NodeError(
                f"{uri!r} is not a stored file (file:<id>); only files stored in TAV Engine "
                "can be read",
                type="file_not_found",
            )
        record = await self.get(id)
        if record is None:
            raise NodeError(f"no stored file {uri!r}", type="file_not_found")
        try:
            return await self.content(record)
        except FileNotFoundError:
            raise NodeError(
                f"the content of {uri!r} ({record.name}) is missing", type="file_not_found"
            ) from None

    async def _read_relative(self, uri: str) -> bytes:
        """A file earlier versions wrote under ``files/`` without a row and referred to by
        its path (``files/email/<folder>/<name>``: large attachments of mail triggers)."""
        path = self.root / uri.removeprefix("files/")
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError):
            raise NodeError(f"no stored file {uri!r}", type="file_not_found") from None


# -- rows -------------------------------------------------------------------------------


def _row(record: FileRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "mime_type": record.mime_type,
        "size": record.size,
        "sha256": record.sha256,
        "kind": record.kind,
        "execution_id": record.execution_id,
        "created_at": record.created_at,
    }


def _record(row: FileRow) -> FileRecord:
    return FileRecord(
        id=row.id,
        name=row.name,
        mime_type=row.mime_type,
        size=row.size,
        sha256=row.sha256,
        kind=row.kind,
        execution_id=row.execution_id,
        created_at=row.created_at,
    )


# -- the file system (blocking; called through asyncio.to_thread) -----------------------


def _write(path: Path, data: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _copy(source: IO[bytes], target: Path, max_bytes: int | None) -> tuple[int, str, bytes]:
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size, head = 0, b""
    try:
        with target.open("wb") as out:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise FileTooLarge(max_bytes)
                if len(head) < SNIFF_BYTES:
                    head += chunk[: SNIFF_BYTES - len(head)]
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        _unlink(target)
        raise
    return size, digest.hexdigest(), head


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


def _rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _folders(path: Path) -> set[str]:
    try:
        return {entry.name for entry in os.scandir(path) if entry.is_dir()}
    except FileNotFoundError:
        return set()


def _clear_tmp(path: Path, max_age_s: float) -> None:
    cutoff = time.time() - max_age_s
    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return
    for entry in entries:
        try:
            if entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
        except OSError:
            pass
