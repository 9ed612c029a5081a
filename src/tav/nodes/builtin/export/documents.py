"""``export.json``, ``export.markdown``, ``export.html``: data as a JSON file or a readable
document (a heading, paragraphs, a table)."""

from __future__ import annotations

import html
import json
from typing import Any

from pydantic import Field

from tav.nodes.base import Node, NodeSpec, Outputs
from tav.nodes.builtin.export.common import (
    FILE_OUTPUTS,
    DocumentParams,
    ExportParams,
    Table,
    data_of,
    document_table,
    file_name,
    paragraphs,
    table_of,
    text_of,
)
from tav.nodes.capabilities import ExportCapability
from tav.nodes.context import NodeContext


class JsonParams(ExportParams):
    indent: int | None = Field(2, ge=0, le=8, description="None: everything on one line.")
    lines: bool = Field(False, description="JSON Lines: one item of a list per line.")


class ExportJson(ExportCapability, Node):
    """Writes data as a JSON (or JSON Lines) file under files/exports; outputs its file
    value."""

    spec = NodeSpec(type="export.json", title="Export JSON", category="export", icon="braces")
    Params = JsonParams
    outputs = FILE_OUTPUTS

    async def run(self, params: JsonParams, input: Any, ctx: NodeContext) -> Outputs:
        value = data_of(params, input)
        if params.columns is not None:
            table = table_of(value, params.columns)
            value = [dict(zip(table.columns, row, strict=False)) for row in table.rows]
        if params.lines:
            items = value if isinstance(value, list) else [value]
            text = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
            name, mime_type = file_name(params, "jsonl"), "application/x-ndjson"
        else:
            text = json.dumps(value, ensure_ascii=False, indent=params.indent) + "\n"
            name, mime_type = file_name(params, "json"), "application/json"
        return {"output": await self.export(ctx, text.encode(), name=name, mime_type=mime_type)}


class ExportMarkdown(ExportCapability, Node):
    """Writes a Markdown document — the title as a heading, the text, then the data as a
    table (text data as it is) — under files/exports; outputs its file value."""

    spec = NodeSpec(
        type="export.markdown", title="Export Markdown", category="export", icon="file-text"
    )
    Params = DocumentParams
    outputs = FILE_OUTPUTS

    async def run(self, params: DocumentParams, input: Any, ctx: NodeContext) -> Outputs:
        text = markdown(params, data_of(params, input))
        name = file_name(params, "md")
        return {
            "output": await self.export(ctx, text.encode(), name=name, mime_type="text/markdown")
        }


def markdown(params: DocumentParams, value: Any) -> str:
    parts = [f"# {_one_line(params.title)}"] if params.title else []
    parts += paragraphs(params.text)
    if isinstance(value, str):
        parts.append(value.strip())
    table = document_table(value, params.columns)
    if table is not None:
        parts.append(markdown_table(table))
    return "\n\n".join(part for part in parts if part) + "\n"


def markdown_table(table: Table) -> str:
    if not table.columns:
        return ""
    lines = [
        _md_row(table.columns),
        "| " + " | ".join("---" for _ in table.columns) + " |",
        *(_md_row([text_of(cell) for cell in row]) for row in table.rows),
    ]
    return "\n".join(lines)


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(_md_cell(cell) for cell in cells) + " |"


def _md_cell(text: str) -> str:
    return (
        text.replace("\\", "\\\\").replace("|", "\\|").replace("\r\n", "<br>").replace("\n", "<br>")
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


class ExportHtml(ExportCapability, Node):
    """Writes a standalone HTML page — the title, the text, then the data as a table —
    under files/exports; outputs its file value. Every value is escaped."""

    spec = NodeSpec(type="export.html", title="Export HTML", category="export", icon="code")
    Params = DocumentParams
    outputs = FILE_OUTPUTS

    async def run(self, params: DocumentParams, input: Any, ctx: NodeContext) -> Outputs:
        page = html_page(params, data_of(params, input))
        name = file_name(params, "html")
        return {"output": await self.export(ctx, page.encode(), name=name, mime_type="text/html")}


STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#1f2328}"
    "table{border-collapse:collapse}th,td{border:1px solid #d0d7de;padding:.3rem .6rem;"
    "text-align:left;vertical-align:top}th{background:#f6f8fa}"
)


def html_page(params: DocumentParams, value: Any) -> str:
    title = html.escape(params.title or "Export")
    body = [f"<h1>{html.escape(params.title)}</h1>"] if params.title else []
    texts = paragraphs(params.text) + (paragraphs(value) if isinstance(value, str) else [])
    body += [f"<p>{html.escape(text).replace(chr(10), '<br>')}</p>" for text in texts]
    table = document_table(value, params.columns)
    if table is not None:
        body.append(html_table(table))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(name)}</th>" for name in table.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(text_of(cell))}</td>" for cell in row) + "</tr>\n"
        for row in table.rows
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}</tbody>\n</table>"
