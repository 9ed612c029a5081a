"""Export nodes: data into CSV, Excel, JSON, Markdown, HTML and PDF files under
files/exports, each returned as a file value with a download URL."""

from tav.nodes.base import Node
from tav.nodes.builtin.export.documents import ExportHtml, ExportJson, ExportMarkdown
from tav.nodes.builtin.export.pdf import ExportPdf
from tav.nodes.builtin.export.tabular import ExportCsv, ExportXlsx

EXPORT_NODE_TYPES: list[type[Node]] = [
    ExportCsv,
    ExportXlsx,
    ExportJson,
    ExportMarkdown,
    ExportHtml,
    ExportPdf,
]
