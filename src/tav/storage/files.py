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

Nothing under ``files/`` is reached through a symbolic link: every path is opened one
part at a time, each relative to the folder above it and with ``O_NOFOLLOW``, so a link
planted anywhere below ``files/`` (in place of a folder or of a file) is refused, and
cannot be swapped in between a check and the open. (``files/`` itself may be a link: where
the files live is the administrator's choice.) Folders are made with mode 0700 and files
with 0600. Rejected: resolving a path and comparing it with ``files/`` before opening it,
which leaves that moment for a link to appear. This needs ``dir_fd`` (POSIX), like the
rest of TAV Engine's process handling.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import mimetypes
import os
import re
import shutil
import stat
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
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
from tav.storage.private import make_private_dirs

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


class FileRefused(FileNotFoundError):
    """A path under ``files/`` that goes through a symbolic link, or is not a regular
    file: never followed, read or written."""


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
        return self.root.joinpath(*_parts(record))

    async def content_path(self, record: FileRecord) -> Path:
        """``path_of(record)`` once it is checked to be a regular file reached through no
        link; raises ``FileNotFoundError`` (``FileRefused`` for a link) otherwise.

        For a server that opens the file again by its path (a download's range
        requests): the check cannot hold past that moment, so a link swapped in then
        would be followed; reading through ``content`` leaves no such moment."""
        await asyncio.to_thread(_check_file, self.root, _parts(record))
        return self.path_of(record)

    def _tmp(self) -> tuple[str, ...]:
        return ("tmp", uuid.uuid4().hex)

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
        digest = await asyncio.to_thread(_write, self.root, tmp, data)
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
        size, digest, head = await asyncio.to_thread(_copy, source, self.root, tmp, max_bytes)
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

    async def _commit(
        self, tmp: tuple[str, ...], *, execution_id: str | None, **fields: Any
    ) -> FileRecord:
        record = FileRecord(
            id=uuid.uuid4().hex, execution_id=execution_id, created_at=utcnow(), **fields
        )
        try:
            async with self.db.transaction() as session:
                session.add(FileRow(**_row(record)))
        except BaseException:
            await asyncio.to_thread(_unlink, self.root, tmp)
            raise
        try:
            await asyncio.to_thread(_move, self.root, tmp, _parts(record))
        except BaseException:
            await self.delete(record.id)
            await asyncio.to_thread(_unlink, self.root, tmp)
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
        """Raises ``FileNotFoundError`` when the content is missing (``FileRefused``
        when a link stands in its way)."""
        return await asyncio.to_thread(_read, self.root, _parts(record))

    # -- deleting -------------------------------------------------------------------------

    async def delete(self, id: str) -> bool:
        async with self.db.transaction() as session:
            row = await session.get(FileRow, id)
            if row is None:
                return False
            record = _record(row)
            await session.delete(row)
        await asyncio.to_thread(_unlink, self.root, _parts(record))
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
        await asyncio.to_thread(_rmtree, self.root, ("executions", execution_id))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def sweep(self) -> int:
        """Remove the folders of executions that no longer have any files (their rows go
        with the execution when it is pruned or deleted), and temporary files an hour
        old; returns how many folders went."""
        folders = await asyncio.to_thread(_folders, self.root, ("executions",))
        await asyncio.to_thread(_clear_tmp, self.root, ("tmp",), TMP_MAX_AGE_S)
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
            await asyncio.to_thread(_rmtree, self.root, ("executions", name))
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
        except FileRefused as exc:
            raise _refused(uri, exc) from None
        except FileNotFoundError:
            raise NodeError(
                f"the content of {uri!r} ({record.name}) is missing", type="file_not_found"
            ) from None

    async def _read_relative(self, uri: str) -> bytes:
        """A file earlier versions wrote under ``files/`` without a row and referred to by
        its path (``files/email/<folder>/<name>``: large attachments of mail triggers)."""
        parts = tuple(uri.removeprefix("files/").split("/"))
        try:
            return await asyncio.to_thread(_read, self.root, parts)
        except FileRefused as exc:
            raise _refused(uri, exc) from None
        except FileNotFoundError:
            raise NodeError(f"no stored file {uri!r}", type="file_not_found") from None


def _refused(uri: str, exc: FileRefused) -> NodeError:
    return NodeError(f"{uri!r} cannot be read: {exc}", type="file_not_found")


def _parts(record: FileRecord) -> tuple[str, ...]:
    """Where a file's content is, under ``files/``: ids only."""
    if record.kind == "execution" and record.execution_id:
        return ("executions", record.execution_id, record.id)
    folder = {"upload": "uploads", "email": "email"}.get(record.kind, "exports")
    return (folder, record.id)


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
#
# Paths are parts under ``root`` (``files/``), opened one at a time (see the module's
# docstring): ``_folder`` gives a descriptor of a folder reached through no link.

LINK_ERRORS = frozenset({errno.ELOOP, errno.ENOTDIR, errno.EMLINK})
"""What opening a link with ``O_NOFOLLOW`` raises (ENOTDIR: a link where a folder should
be; EMLINK: FreeBSD's ELOOP)."""
FOLDER = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_NOFOLLOW
CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW


@contextmanager
def _folder(root: Path, parts: Sequence[str], *, create: bool = False) -> Iterator[int]:
    """A descriptor of the folder ``root/parts...``; with ``create``, missing folders are
    made (mode 0700)."""
    if create:
        make_private_dirs(root)
    fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        for index, part in enumerate(parts):
            if create:
                with suppress(FileExistsError):
                    os.mkdir(part, 0o700, dir_fd=fd)
            try:
                inner = os.open(part, FOLDER, dir_fd=fd)
            except OSError as exc:
                raise _link_refused(exc, parts[: index + 1]) from None
            os.close(fd)
            fd = inner
        yield fd
    finally:
        os.close(fd)


def _link_refused(exc: OSError, parts: Sequence[str]) -> OSError:
    if exc.errno in LINK_ERRORS:
        where = "/".join(parts)
        return FileRefused(f"files/{where} is a symbolic link or not a folder; not followed")
    return exc


def _open_file(root: Path, parts: Sequence[str]) -> int:
    """A descriptor of the regular file ``root/parts...`` to read."""
    with _folder(root, parts[:-1]) as folder:
        try:
            # O_NONBLOCK: a FIFO planted there must not hang the open (refused just below).
            fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
        except OSError as exc:
            raise _link_refused(exc, parts) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FileRefused(f"files/{'/'.join(parts)} is not a regular file")
    return fd


def _read(root: Path, parts: Sequence[str]) -> bytes:
    with os.fdopen(_open_file(root, parts), "rb") as file:
        return file.read()


def _check_file(root: Path, parts: Sequence[str]) -> None:
    os.close(_open_file(root, parts))


@contextmanager
def _created(root: Path, parts: Sequence[str]) -> Iterator[IO[bytes]]:
    """A new file (mode 0600) to write, removed again if writing it fails."""
    with _folder(root, parts[:-1], create=True) as folder:
        fd = os.open(parts[-1], CREATE, 0o600, dir_fd=folder)
        try:
            with os.fdopen(fd, "wb") as file:
                yield file
        except BaseException:
            os.unlink(parts[-1], dir_fd=folder)
            raise


def _write(root: Path, parts: Sequence[str], data: bytes) -> str:
    with _created(root, parts) as file:
        file.write(data)
    return hashlib.sha256(data).hexdigest()


def _copy(
    source: IO[bytes], root: Path, parts: Sequence[str], max_bytes: int | None
) -> tuple[int, str, bytes]:
    digest = hashlib.sha256()
    size, head = 0, b""
    with _created(root, parts) as out:
        while chunk := source.read(CHUNK):
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise FileTooLarge(max_bytes)
            if len(head) < SNIFF_BYTES:
                head += chunk[: SNIFF_BYTES - len(head)]
            digest.update(chunk)
            out.write(chunk)
    return size, digest.hexdigest(), head


def _move(root: Path, source: Sequence[str], target: Sequence[str]) -> None:
    with _folder(root, source[:-1]) as src, _folder(root, target[:-1], create=True) as dst:
        os.replace(source[-1], target[-1], src_dir_fd=src, dst_dir_fd=dst)


def _unlink(root: Path, parts: Sequence[str]) -> None:
    """Remove a file (a link in its place goes, never what it points to)."""
    with suppress(FileNotFoundError), _folder(root, parts[:-1]) as folder:
        os.unlink(parts[-1], dir_fd=folder)


def _rmtree(root: Path, parts: Sequence[str]) -> None:
    # rmtree with dir_fd removes a link in the folder's place, never what it points to.
    with suppress(FileNotFoundError), _folder(root, parts[:-1]) as folder:
        shutil.rmtree(parts[-1], ignore_errors=True, dir_fd=folder)


def _folders(root: Path, parts: Sequence[str]) -> set[str]:
    try:
        with _folder(root, parts) as folder:
            return {e.name for e in os.scandir(folder) if e.is_dir(follow_symlinks=False)}
    except FileNotFoundError:
        return set()


def _clear_tmp(root: Path, parts: Sequence[str], max_age_s: float) -> None:
    cutoff = time.time() - max_age_s
    with suppress(FileNotFoundError), _folder(root, parts) as folder:
        for entry in list(os.scandir(folder)):
            with suppress(OSError):
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(entry.name, dir_fd=folder)
