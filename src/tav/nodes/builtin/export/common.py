"""What the export nodes share: their params, and turning input data into a table.

Data arrives as rows (a list of objects, or of lists whose first one is the header), one
object, a list of plain values, text, or a media value holding any of these; tables take
their columns from ``columns`` or from the rows' keys in order of first appearance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ConfigDict, Field

from tav.core.media import is_media, parse_media
from tav.core.model import Model
from tav.nodes.base import Port
from tav.nodes.params import MULTILINE

FILE_OUTPUTS = {
    "output": Port("The file value (MediaFormat, uri file:<id>; download URL in metadata.url).")
}


class ExportParams(Model):
    model_config = ConfigDict(extra="forbid")

    data: Any = Field(
        None,
        description="What to export: rows (objects or lists), an object, a list, text or a "
        "media value; default: what arrived on the input port.",
    )
    filename: str | None = Field(
        None, min_length=1, max_length=200, description="The file's name; default: export.<ext>."
    )
    columns: list[str] | None = Field(
        None, description="Which columns, in order; default: every key of the rows."
    )


class DocumentParams(ExportParams):
    title: str | None = Field(None, max_length=500, description="A heading above everything.")
    text: str | None = Field(
        None,
        description="Paragraphs before the data (blank lines part them).",
        json_schema_extra=MULTILINE,
    )


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)


def data_of(params: ExportParams, input: Any) -> Any:
    """The data param, else the input; a media value stands for its inline content."""
    value = params.data if params.data is not None else input
    if is_media(value):
        media = parse_media(value, where="the data")
        if media.data is not None and media.kind in ("text", "json"):
            return media.data
    return value


def file_name(params: ExportParams, extension: str) -> str:
    name = params.filename or f"export.{extension}"
    return name if name.lower().endswith(f".{extension}") else f"{name}.{extension}"


def table_of(value: Any, columns: list[str] | None = None) -> Table:
    """``value`` as a table (one object is one row; plain values make a ``value`` column)."""
    if value is None:
        return Table(list(columns or []))
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        value = [value]
    if value and all(isinstance(row, dict) for row in value):
        names = columns or _keys(value)
        return Table(names, [[row.get(name) for name in names] for row in value])
    if value and all(isinstance(row, list | tuple) for row in value):
        if columns is not None:
            return Table(list(columns), [list(row) for row in value])
        header, *rows = value
        return Table([text_of(cell) for cell in header], [list(row) for row in rows])
    return Table(list(columns or ["value"]), [[item] for item in value])


def _keys(rows: list[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(str(key) for key in row))
    return list(seen)


def text_of(cell: Any) -> str:
    """A cell as text: nothing for null, JSON for objects and lists."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, dict | list):
        return json.dumps(cell, ensure_ascii=False, separators=(",", ":"))
    return str(cell)


def paragraphs(text: str | None) -> list[str]:
    if not text:
        return []
    return [part.strip() for part in text.replace("\r\n", "\n").split("\n\n") if part.strip()]


def document_table(value: Any, columns: list[str] | None) -> Table | None:
    """The table a document shows for ``value``: one object as a two-column table of its
    fields, rows as rows; ``None`` for text (shown as paragraphs) and no data."""
    if value is None or isinstance(value, str):
        return None
    if isinstance(value, dict) and columns is None:
        return Table(["field", "value"], [[key, item] for key, item in value.items()])
    return table_of(value, columns)
