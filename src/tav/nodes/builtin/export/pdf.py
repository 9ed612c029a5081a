"""``export.pdf``: a PDF document — a heading, paragraphs, a table — written with fpdf2.

Text is written in a Unicode font with fallbacks (``fonts``: the configured ones, then the
system's). Characters that no font has cannot be shown: the node says so — a warning in
the file value's ``metadata.warnings`` (the file is still written, as users of an
automation mostly want), or, with ``missing_characters: fail``, a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from tav.core.errors import NodeError
from tav.nodes.base import Node, NodeSpec, Outputs
from tav.nodes.builtin.export.common import (
    FILE_OUTPUTS,
    DocumentParams,
    Table,
    data_of,
    document_table,
    file_name,
    paragraphs,
    text_of,
)
from tav.nodes.builtin.export.fonts import FontChoice, choose
from tav.nodes.capabilities import ExportCapability
from tav.nodes.context import NodeContext

MAX_CELL_CHARS = 2000


class PdfParams(DocumentParams):
    orientation: Literal["portrait", "landscape"] = Field(
        "portrait", description="Landscape fits wider tables."
    )
    font_size: float = Field(10, ge=5, le=24)
    missing_characters: Literal["warn", "fail"] = Field(
        "warn",
        description="When no font has some characters of the text: warn (the file is "
        "written without them, and metadata.warnings of its value says which) or fail.",
    )


class ExportPdf(ExportCapability, Node):
    """Writes a PDF document (A4) — the title, the text, then the data as a table —
    under files/exports; outputs its file value."""

    spec = NodeSpec(type="export.pdf", title="Export PDF", category="export", icon="file")
    Params = PdfParams
    outputs = FILE_OUTPUTS

    async def run(self, params: PdfParams, input: Any, ctx: NodeContext) -> Outputs:
        content = Content.of(params, data_of(params, input))
        fonts = await ctx.to_thread(choose, content.text(), ctx.services.pdf_fonts.files)
        warnings = []
        if fonts.missing:
            message = fonts.missing_message()
            if params.missing_characters == "fail":
                raise NodeError(message, type="missing_characters")
            ctx.log.warning("%s", message)
            warnings.append(message)
        data = await ctx.to_thread(pdf_bytes, params, content, fonts)
        name = file_name(params, "pdf")
        value = await self.export(ctx, data, name=name, mime_type="application/pdf")
        if warnings:
            value["metadata"]["warnings"] = warnings
        return {"output": value}


@dataclass(frozen=True)
class Content:
    """What the document shows, as text."""

    title: str | None
    paragraphs: list[str]
    table: Table | None

    @classmethod
    def of(cls, params: PdfParams, value: Any) -> Content:
        texts = paragraphs(params.text) + (paragraphs(value) if isinstance(value, str) else [])
        table = document_table(value, params.columns)
        if table is not None and table.columns:
            rows = [
                [
                    text_of(row[i] if i < len(row) else None)[:MAX_CELL_CHARS]
                    for i in range(len(table.columns))
                ]
                for row in table.rows
            ]
            table = Table(list(table.columns), rows)
        else:
            table = None
        return cls(params.title, texts, table)

    def text(self) -> str:
        parts = [self.title or "", *self.paragraphs]
        if self.table is not None:
            parts += self.table.columns + [cell for row in self.table.rows for cell in row]
        return "\n".join(parts)


def pdf_bytes(params: PdfParams, content: Content, fonts: FontChoice) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(orientation="L" if params.orientation == "landscape" else "P", format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_title(params.title or "Export")
    pdf.set_creator("TAV Engine")
    family, text = _font(pdf, fonts)
    pdf.add_page()
    if content.title:
        pdf.set_font(family, "B", params.font_size * 1.6)
        pdf.multi_cell(
            0, params.font_size * 0.9, text(content.title), new_x="LMARGIN", new_y="NEXT"
        )
        pdf.ln(params.font_size * 0.4)
    pdf.set_font(family, "", params.font_size)
    for paragraph in content.paragraphs:
        pdf.multi_cell(0, params.font_size * 0.55, text(paragraph), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(params.font_size * 0.35)
    if content.table is not None:
        _table(pdf, content.table, text)
    return bytes(pdf.output())


def _font(pdf: Any, fonts: FontChoice) -> tuple[str, Any]:
    """The font family to use, and how to make text printable in it."""
    if fonts.body is None:
        return "Helvetica", _latin1
    pdf.add_font("Body", "", fonts.body.path)
    pdf.add_font("Body", "B", fonts.bold or fonts.body.path)
    names = []
    for index, fallback in enumerate(fonts.fallbacks):
        names.append(f"Fallback{index}")
        pdf.add_font(names[-1], "", fallback.path)
    if names:
        pdf.set_fallback_fonts(names, exact_match=False)
    return "Body", lambda value: value


def _latin1(value: str) -> str:
    return value.encode("latin-1", "replace").decode("latin-1")


def _table(pdf: Any, table: Table, text: Any) -> None:
    with pdf.table(
        first_row_as_headings=True, text_align="LEFT", line_height=pdf.font_size * 1.4
    ) as grid:
        header = grid.row()
        for name in table.columns:
            header.cell(text(name))
        for values in table.rows:
            row = grid.row()
            for cell in values:
                row.cell(text(cell))
