"""``export.csv`` and ``export.xlsx``: rows into a spreadsheet.

Cells are data, never formulas: openpyxl would store a string starting with ``=`` as a
formula, so such strings are typed as text; in CSV, where the program opening the file
decides, ``escape_formulas`` prefixes them with ``'`` (the usual defence against CSV
injection).
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from pydantic import Field

from tav.nodes.base import Node, NodeSpec, Outputs
from tav.nodes.builtin.export.common import (
    FILE_OUTPUTS,
    ExportParams,
    Table,
    data_of,
    file_name,
    table_of,
    text_of,
)
from tav.nodes.capabilities import ExportCapability
from tav.nodes.context import NodeContext

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")


class CsvParams(ExportParams):
    delimiter: str = Field(
        ",", pattern=r'^[^"\r\n]$', description="Field separator: `,`, `;`, a tab, ..."
    )
    header: bool = Field(True, description="Write the column names as the first row.")
    bom: bool = Field(False, description="Start with a UTF-8 byte order mark (for Excel).")
    escape_formulas: bool = Field(
        True, description="Prefix text cells that start like a formula (=, +, -, @) with '."
    )


class ExportCsv(ExportCapability, Node):
    """Writes rows as a CSV file under files/exports; outputs its file value (download URL
    in `metadata.url`)."""

    spec = NodeSpec(type="export.csv", title="Export CSV", category="export", icon="table")
    Params = CsvParams
    outputs = FILE_OUTPUTS

    async def run(self, params: CsvParams, input: Any, ctx: NodeContext) -> Outputs:
        table = table_of(data_of(params, input), params.columns)
        data = csv_bytes(table, params)
        name = file_name(params, "csv")
        return {"output": await self.export(ctx, data, name=name, mime_type="text/csv")}


def csv_bytes(table: Table, params: CsvParams) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=params.delimiter, lineterminator="\r\n")
    if params.header:
        writer.writerow(table.columns)
    for row in table.rows:
        cells = [_csv_cell(cell, params.escape_formulas) for cell in row]
        writer.writerow(cells)
    return ("\ufeff" if params.bom else "").encode() + out.getvalue().encode()


def _csv_cell(cell: Any, escape: bool) -> str:
    text = text_of(cell)
    if (
        escape
        and isinstance(cell, str)
        and text.startswith(FORMULA_START)
        and not NUMBER.match(text)
    ):
        return "'" + text
    return text


class XlsxParams(ExportParams):
    sheet: str | None = Field(None, max_length=100, description="Sheet name; default: Sheet1.")


class ExportXlsx(ExportCapability, Node):
    """Writes rows as an Excel workbook (.xlsx: a header row, then one row per item;
    numbers and booleans stay typed) under files/exports; outputs its file value."""

    spec = NodeSpec(type="export.xlsx", title="Export Excel", category="export", icon="table")
    Params = XlsxParams
    outputs = FILE_OUTPUTS

    async def run(self, params: XlsxParams, input: Any, ctx: NodeContext) -> Outputs:
        table = table_of(data_of(params, input), params.columns)
        data = await ctx.to_thread(xlsx_bytes, table, params.sheet)
        name = file_name(params, "xlsx")
        return {"output": await self.export(ctx, data, name=name, mime_type=XLSX_TYPE)}


def xlsx_bytes(table: Table, sheet: str | None) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    worksheet = workbook.active
    assert worksheet is not None  # a new workbook has one sheet
    worksheet.title = (
        (SHEET_NAME_BAD.sub(" ", sheet).strip() or "Sheet1")[:31] if sheet else "Sheet1"
    )
    worksheet.append(table.columns)
    for cell in worksheet[1]:
        cell.font = Font(bold=True)
    widths = [len(name) for name in table.columns]
    for values in table.rows:
        row = [_xlsx_value(value) for value in values]
        worksheet.append(row)
        for index, value in enumerate(row[: len(widths)]):
            widths[index] = max(widths[index], len(str(value)) if value is not None else 0)
        for cell in worksheet[worksheet.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text, not a formula
    for index, width in enumerate(widths, start=1):
        worksheet.column_dimensions[get_column_letter(index)].width = min(max(width, 6) + 2, 60)
    worksheet.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _xlsx_value(cell: Any) -> Any:
    if cell is None or isinstance(cell, bool | int | float):
        return cell
    text = text_of(cell)
    return text[:32767]  # Excel's limit for one cell
