"""``export.pdf``: a PDF document — a heading, paragraphs, a table — written with fpdf2.

Text needs a Unicode font: DejaVu Sans (or Liberation Sans) when the system has it, as
Debian and most Linux systems do; otherwise the PDF core font Helvetica, which covers
Latin-1 only, and characters beyond it print as ``?``. Shipping a font (~700 KB) for
that fallback was not worth it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

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
from tav.nodes.capabilities import ExportCapability
from tav.nodes.context import NodeContext

FONTS = (
    (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    ),
    (
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    ),
    ("/usr/share/fonts/TTF/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf"),
)
MAX_CELL_CHARS = 2000


class PdfParams(DocumentParams):
    orientation: Literal["portrait", "landscape"] = Field(
        "portrait", description="Landscape fits wider tables."
    )
    font_size: float = Field(10, ge=5, le=24)


class ExportPdf(ExportCapability, Node):
    """Writes a PDF document (A4) — the title, the text, then the data as a table —
    under files/exports; outputs its file value."""

    spec = NodeSpec(type="export.pdf", title="Export PDF", category="export", icon="file")
    Params = PdfParams
    outputs = FILE_OUTPUTS

    async def run(self, params: PdfParams, input: Any, ctx: NodeContext) -> Outputs:
        data = await ctx.to_thread(pdf_bytes, params, data_of(params, input))
        name = file_name(params, "pdf")
        return {"output": await self.export(ctx, data, name=name, mime_type="application/pdf")}


@functools.cache
def unicode_font() -> tuple[str, str] | None:
    """Regular and bold TTF files of a Unicode font on this system, if there is one."""
    for regular, bold in FONTS:
        if Path(regular).is_file() and Path(bold).is_file():
            return regular, bold
    return None


def pdf_bytes(params: PdfParams, value: Any) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(orientation="L" if params.orientation == "landscape" else "P", format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_title(params.title or "Export")
    pdf.set_creator("TAV Engine")
    family, text = _font(pdf)
    pdf.add_page()
    if params.title:
        pdf.set_font(family, "B", params.font_size * 1.6)
        pdf.multi_cell(0, params.font_size * 0.9, text(params.title), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(params.font_size * 0.4)
    pdf.set_font(family, "", params.font_size)
    texts = paragraphs(params.text) + (paragraphs(value) if isinstance(value, str) else [])
    for paragraph in texts:
        pdf.multi_cell(0, params.font_size * 0.55, text(paragraph), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(params.font_size * 0.35)
    table = document_table(value, params.columns)
    if table is not None and table.columns:
        _table(pdf, table, text)
    return bytes(pdf.output())


def _font(pdf: Any) -> tuple[str, Any]:
    """The font family to use, and how to make text printable in it."""
    found = unicode_font()
    if found is not None:
        regular, bold = found
        pdf.add_font("Body", "", regular)
        pdf.add_font("Body", "B", bold)
        return "Body", lambda value: value
    return "Helvetica", _latin1


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
            for index in range(len(table.columns)):
                cell = values[index] if index < len(values) else None
                row.cell(text(text_of(cell)[:MAX_CELL_CHARS]))
