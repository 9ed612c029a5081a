"""Stored files: uploads, exports, files of executions and received email attachments
(content at ``url``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

FileKind = Literal["upload", "export", "execution", "email"]


class FilePublic(BaseModel):
    id: str
    name: str
    mime_type: str = Field(description="Detected from the content, else the name.")
    size: int = Field(description="In bytes.")
    sha256: str = Field(description="Hex SHA-256 of the content.")
    kind: FileKind = Field(
        description="upload (POST /files), export (export nodes), execution (written by "
        "a node; deleted with its execution) or email (a large attachment a mail trigger "
        "received)."
    )
    execution_id: str | None = Field(description="The execution that wrote it.")
    created_at: datetime
    url: str = Field(description="Where to download the content.")
    value: dict[str, Any] = Field(
        description="The file as a MediaFormat value (uri file:<id>), to pass to workflows."
    )


class FilePage(BaseModel):
    items: list[FilePublic]
    total: int = Field(description="How many files match, on every page.")
    limit: int
    offset: int
