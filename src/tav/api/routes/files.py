"""Files: upload, list, describe, download and delete stored files.

An upload's ``value`` is a MediaFormat value (``uri`` ``file:<id>``) to put into a
workflow's input, where ``file.read``, ``email.send`` and other nodes read it. Content is
always served as an attachment with ``nosniff`` and ``Content-Security-Policy: sandbox``,
so an uploaded HTML or SVG file never runs as a page of this origin, even when a browser
shows it inline.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Query, UploadFile
from fastapi.responses import FileResponse

from tav.api.access import requires
from tav.api.deps import FilesDep, SettingsDep
from tav.api.errors import ApiError, responses
from tav.api.schemas.executions import ID_PATTERN
from tav.api.schemas.files import FileKind, FilePage, FilePublic
from tav.core.roles import Role
from tav.storage.files import FileRecord, FileTooLarge

router = APIRouter(
    prefix="/files", tags=["files"], dependencies=[requires(Role.viewer, Role.editor)]
)

FileId = Annotated[str, Path(max_length=64, pattern=ID_PATTERN)]
MAX_OFFSET = 2**31 - 1
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such file."}}


def _public(record: FileRecord) -> FilePublic:
    return FilePublic(
        id=record.id,
        name=record.name,
        mime_type=record.mime_type,
        size=record.size,
        sha256=record.sha256,
        kind=record.kind,
        execution_id=record.execution_id,
        created_at=record.created_at,
        url=record.url,
        value=record.value(),
    )


def _unknown(file_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no file with id {file_id!r}")


@router.post("", status_code=201, responses=responses(413))
async def upload_file(
    files: FilesDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="The file (multipart/form-data).")],
) -> FilePublic:
    """Store a file (at most ``TAV_MAX_UPLOAD_BYTES``); its type is detected from the
    content, else from the name."""
    limit = settings.max_upload_bytes
    if file.size is not None and file.size > limit:
        raise ApiError(413, "file_too_large", f"the file is larger than {limit} bytes")
    try:
        record = await files.add_stream(
            file.file,
            name=file.filename,
            kind="upload",
            declared_type=file.content_type,
            max_bytes=limit,
        )
    except FileTooLarge as exc:
        raise ApiError(413, "file_too_large", str(exc)) from None
    finally:
        await file.close()
    return _public(record)


@router.get("")
async def list_files(
    files: FilesDep,
    kind: FileKind | None = None,
    execution_id: Annotated[str | None, Query(max_length=64, pattern=ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> FilePage:
    """Newest first."""
    found, total = await files.find(
        kind=kind, execution_id=execution_id, limit=limit, offset=offset
    )
    return FilePage(items=[_public(r) for r in found], total=total, limit=limit, offset=offset)


@router.get("/{file_id}", responses=NOT_FOUND)
async def get_file(file_id: FileId, files: FilesDep) -> FilePublic:
    record = await files.get(file_id)
    if record is None:
        raise _unknown(file_id)
    return _public(record)


@router.get(
    "/{file_id}/content",
    response_class=FileResponse,
    responses={200: {"description": "The content, as an attachment."}, **NOT_FOUND},
)
async def download_file(file_id: FileId, files: FilesDep) -> FileResponse:
    record = await files.get(file_id)
    if record is None:
        raise _unknown(file_id)
    try:
        path = await files.content_path(record)
    except FileNotFoundError:  # or a symbolic link in its place: never followed
        raise ApiError(404, "not_found", f"the content of file {file_id!r} is missing") from None
    return FileResponse(
        path,
        media_type=record.mime_type,
        filename=record.name,
        content_disposition_type="attachment",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
            "Cache-Control": "private, no-cache",
        },
    )


@router.delete("/{file_id}", status_code=204, responses=NOT_FOUND)
async def delete_file(file_id: FileId, files: FilesDep) -> None:
    if not await files.delete(file_id):
        raise _unknown(file_id)
