"""``file.read``: the content of a file (an upload, a stored file, inline media) as data:
text, CSV rows, JSON, or the text of a PDF."""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Literal

from pydantic import ConfigDict, Field

from tav.core.errors import NodeError
from tav.core.media import Media
from tav.core.model import Model
from tav.nodes.base import Node, NodeSpec, Outputs, Port
from tav.nodes.capabilities import media_content, media_param
from tav.nodes.context import NodeContext

Format = Literal["auto", "text", "csv", "json", "pdf"]
CSV_TYPES = frozenset({"text/csv", "application/csv", "text/tab-separated-values"})
SNIFF_CHARS = 64 * 1024


class FileReadParams(Model):
    model_config = ConfigDict(extra="forbid")

    file: Any = Field(
        None,
        description="A media value: an uploaded or stored file (`file:<id>`), or inline "
        "content; default: what arrived on the input port.",
    )
    format: Format = Field(
        "auto", description="How to read it; `auto`: by its type, else its name."
    )
    encoding: str = Field("utf-8", min_length=1, description="Of text and CSV.")
    delimiter: str | None = Field(
        None, pattern=r'^[^"\r\n]$', description="CSV field separator; default: detected."
    )
    header: bool = Field(
        True,
        description="CSV: the first row names the columns (rows are objects); "
        "otherwise rows are lists.",
    )


class FileRead(Node):
    """Reads a file into data: `text` → a string, `csv` → a list of rows, `json` → the
    value, `pdf` → the text of its pages (separated by blank lines). The format follows
    from the file's type or name unless set."""

    spec = NodeSpec(type="file.read", title="Read file", category="files", icon="file-text")
    Params = FileReadParams
    outputs = {"output": Port("Text, a list of rows or a JSON value, by format.")}

    async def run(self, params: FileReadParams, input: Any, ctx: NodeContext) -> Outputs:
        value = params.file if params.file is not None else input
        media = media_param(value, where="the file")
        format = params.format if params.format != "auto" else format_of(media)
        if media.data is not None and media.kind == "json" and format == "json":
            return {"output": media.data}
        data = await media_content(ctx, media)
        if format == "pdf":
            return {"output": await ctx.to_thread(pdf_text, data)}
        text = _decode(data, params.encoding, media)
        if format == "csv":
            return {"output": csv_rows(text, params.delimiter, header=params.header)}
        if format == "json":
            return {"output": _json(text, media)}
        return {"output": text}


def format_of(media: Media) -> str:
    """``pdf``, ``csv``, ``json`` or ``text``, by the media type, else the name."""
    mime = media.mime_type.split(";")[0].strip().lower()
    suffix = (media.name or "").rpartition(".")[2].lower() if "." in (media.name or "") else ""
    if mime == "application/pdf" or suffix == "pdf":
        return "pdf"
    if mime in CSV_TYPES or suffix in ("csv", "tsv"):
        return "csv"
    if mime == "application/json" or mime.endswith("+json") or suffix == "json":
        return "json"
    if mime.startswith("text/") or mime in ("application/xml", "application/x-yaml"):
        return "text"
    if media.kind in ("image", "audio", "video") or mime != "application/octet-stream":
        raise NodeError(
            f"cannot read {media.name or 'the file'} ({mime}) as text; set `format` to read "
            "it anyway",
            type="unsupported_format",
            retryable=False,
        )
    return "text"


def _decode(data: bytes, encoding: str, media: Media) -> str:
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        return data.decode(codec)
    except LookupError:
        raise NodeError(f"unknown encoding {encoding!r}", type="params_invalid") from None
    except UnicodeDecodeError as exc:
        raise NodeError(
            f"{media.name or 'the file'} is not {encoding} text: {exc.reason} at byte {exc.start}",
            type="invalid_content",
            retryable=False,
        ) from None


def csv_rows(text: str, delimiter: str | None, *, header: bool) -> list[Any]:
    """Rows as objects keyed by the header row (cells beyond it under ``_extra``), or as
    lists."""
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(text[:SNIFF_CHARS], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    stream = io.StringIO(text, newline="")
    if header:
        reader = csv.DictReader(stream, delimiter=delimiter, restkey="_extra")
        return [dict(row) for row in reader]
    return list(csv.reader(stream, delimiter=delimiter))


def _json(text: str, media: Media) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise NodeError(
            f"{media.name or 'the file'} is not valid JSON: {exc}",
            type="invalid_content",
            retryable=False,
        ) from None


def pdf_text(data: bytes) -> str:
    """The text of every page, separated by blank lines (CPU-bound: run off the loop)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise NodeError("the PDF is encrypted", type="invalid_content", retryable=False)
        return "\n\n".join((page.extract_text() or "").strip() for page in reader.pages)
    except (PdfReadError, ValueError) as exc:
        raise NodeError(
            f"not a readable PDF: {exc}", type="invalid_content", retryable=False
        ) from None
