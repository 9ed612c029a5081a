"""Export nodes: each file is stored under files/exports and read back by a library."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from tav.core.media import parse_media
from tav.core.workflow import parse_workflow
from tav.engine.executor import Executor
from tav.nodes.builtin.export import fonts
from tav.nodes.host import HostServices, PdfFonts
from tav.nodes.registry import NodeRegistry
from tav.storage.files import FileStore
from tests.helpers import node, run, workflow

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "csv-to-reports.json"
ROWS = [
    {"name": "Ada", "score": 9.5, "active": True, "tags": ["x", "y"]},
    {"name": "Bob | Jr", "score": 7, "active": False, "note": "=1+2"},
]


@pytest.fixture
def executor(registry: NodeRegistry, file_store: FileStore) -> Executor:
    return Executor(registry, services=HostServices(files=file_store))


async def export(
    executor: Executor, file_store: FileStore, type_: str, data: Any, **params: Any
) -> tuple[dict[str, Any], bytes]:
    wf = workflow(
        node("start", "trigger.manual"),
        node("export", type_, params={"data": "{{ trigger.data }}", **params}),
        links=("start -> export",),
    )
    result = await run(executor, wf, {"data": data})
    outcome = result.nodes["export"]
    assert outcome.status.value == "succeeded", outcome.error
    value = outcome.outputs["output"]
    media = parse_media(value)
    assert media.uri is not None
    record = await file_store.get(media.metadata["file_id"])
    assert record is not None
    assert (record.kind, record.execution_id) == ("export", result.execution_id)
    assert file_store.path_of(record).parent == file_store.root / "exports"
    assert media.metadata["url"] == f"/api/v1/files/{record.id}/content"
    return value, await file_store.read(media.uri)


async def test_csv(executor: Executor, file_store: FileStore):
    value, data = await export(executor, file_store, "export.csv", ROWS, filename="people")

    assert (value["name"], value["mime_type"]) == ("people.csv", "text/csv")
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert rows == [
        {"name": "Ada", "score": "9.5", "active": "true", "tags": '["x","y"]', "note": ""},
        {"name": "Bob | Jr", "score": "7", "active": "false", "tags": "", "note": "'=1+2"},
    ]


async def test_csv_options(executor: Executor, file_store: FileStore):
    _, data = await export(
        executor,
        file_store,
        "export.csv",
        [["a", "b"], [1, "-2"], [3, "=x"]],
        delimiter=";",
        bom=True,
        escape_formulas=False,
        header=True,
    )

    assert data.startswith(b"\xef\xbb\xbf")
    assert list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";")) == [
        ["a", "b"],
        ["1", "-2"],
        ["3", "=x"],
    ]


async def test_xlsx(executor: Executor, file_store: FileStore):
    from openpyxl import load_workbook

    value, data = await export(
        executor, file_store, "export.xlsx", ROWS, columns=["name", "score", "note"], sheet="Q1"
    )

    assert value["name"] == "export.xlsx"
    sheet = load_workbook(io.BytesIO(data))["Q1"]
    assert [[cell.value for cell in row] for row in sheet.iter_rows()] == [
        ["name", "score", "note"],
        ["Ada", 9.5, None],
        ["Bob | Jr", 7, "=1+2"],
    ]
    assert sheet["C3"].data_type == "s"  # text, not a formula


async def test_json_and_json_lines(executor: Executor, file_store: FileStore):
    value, data = await export(executor, file_store, "export.json", ROWS)
    assert json.loads(data) == ROWS
    assert value["mime_type"] == "application/json"

    value, data = await export(
        executor, file_store, "export.json", ROWS, lines=True, columns=["name"]
    )
    assert value["name"] == "export.jsonl"
    assert [json.loads(line) for line in data.splitlines()] == [
        {"name": "Ada"},
        {"name": "Bob | Jr"},
    ]


async def test_markdown(executor: Executor, file_store: FileStore):
    value, data = await export(
        executor, file_store, "export.markdown", ROWS, title="Scores", text="Two people."
    )

    assert (value["name"], value["mime_type"]) == ("export.md", "text/markdown")
    tokens = MarkdownIt().enable("table").parse(data.decode())
    kinds = [t.type for t in tokens]
    assert kinds[:3] == ["heading_open", "inline", "heading_close"]
    assert "table_open" in kinds
    cells = [t.content for t in tokens if t.type == "inline"]
    assert cells[:2] == ["Scores", "Two people."]
    assert cells[2:7] == ["name", "score", "active", "tags", "note"]
    assert "Bob | Jr" in cells  # the pipe is escaped, not a column break
    assert cells.index("=1+2") - cells.index("Bob | Jr") == 4


async def test_markdown_of_text_and_of_one_object(executor: Executor, file_store: FileStore):
    _, data = await export(executor, file_store, "export.markdown", "Plain *text*.")
    assert data == b"Plain *text*.\n"
    _, data = await export(executor, file_store, "export.markdown", {"a": 1})
    assert data == b"| field | value |\n| --- | --- |\n| a | 1 |\n"


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.title = ""
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self._in = tag

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in in ("th", "td"):
            self.cells.append(data)
        elif self._in == "h1":
            self.title = data


async def test_html_escapes_everything(executor: Executor, file_store: FileStore):
    rows = [{"name": "<script>alert(1)</script>", "n": 1}]
    value, data = await export(executor, file_store, "export.html", rows, title="A & B")

    page = data.decode()
    assert value["mime_type"] == "text/html"
    assert "<script>" not in page
    parser = _Cells()
    parser.feed(page)
    assert parser.title == "A & B"
    assert parser.cells == ["name", "n", "<script>alert(1)</script>", "1"]


async def test_pdf(executor: Executor, file_store: FileStore):
    from pypdf import PdfReader

    value, data = await export(
        executor,
        file_store,
        "export.pdf",
        ROWS,
        title="Quarterly scores",
        text="Café results, two people.",
        orientation="landscape",
    )

    assert (value["name"], value["mime_type"]) == ("export.pdf", "application/pdf")
    reader = PdfReader(io.BytesIO(data))
    text = " ".join(page.extract_text() for page in reader.pages)
    for expected in ("Quarterly scores", "Café results", "Ada", "9.5", "Bob | Jr", "=1+2"):
        assert expected in text
    assert reader.metadata is not None
    assert reader.metadata.title == "Quarterly scores"


async def test_the_input_is_exported_when_no_data_is_set(executor: Executor, file_store: FileStore):
    wf = workflow(
        node("start", "trigger.manual"),
        node("export", "export.csv"),
        links=("start -> export",),
    )
    result = await run(executor, wf, [{"a": 1}])

    value = result.nodes["export"].outputs["output"]
    assert await file_store.read(value["uri"]) == b"a\r\n1\r\n"


async def test_the_csv_to_reports_example(executor: Executor, file_store: FileStore):
    from openpyxl import load_workbook

    wf = parse_workflow(json.loads(EXAMPLE.read_text()), structure=False)
    upload = await file_store.add(b"id,customer\n1,Ada\n2,Bob\n", name="o.csv", kind="upload")

    result = await run(executor, wf, {"file": upload.value()})

    assert result.status.value == "succeeded", result.error
    assert result.output["rows"] == 2
    xlsx_id = result.output["xlsx"].split("/")[-2]
    record = await file_store.get(xlsx_id)
    assert record is not None
    sheet = load_workbook(io.BytesIO(await file_store.content(record)))["Orders"]
    assert [c.value for c in sheet[2]] == ["1", "Ada"]


# -- PDF fonts: every character shown, or said not to be ------------------------------

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
LIBERATION = "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"
SCRIPTS = "Привет мир · Γειά σου κόσμε · ქართული · Հայերեն · Ünïcödé"  # noqa: RUF001


def _pdf(data: bytes) -> tuple[str, set[str]]:
    """The text of a PDF, and the fonts it embeds."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    text = " ".join(page.extract_text() for page in reader.pages)
    fonts = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            fonts.add(str(font.get_object()["/BaseFont"]).split("+")[-1])
    return text, fonts


def _fonts_executor(registry: NodeRegistry, file_store: FileStore, *files: str) -> Executor:
    return Executor(registry, services=HostServices(files=file_store, pdf_fonts=PdfFonts(files)))


@pytest.fixture
def no_system_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever fonts this machine has for CJK, they are not used."""
    monkeypatch.setattr(fonts, "SYSTEM_FALLBACKS", ())


@pytest.mark.skipif(not Path(DEJAVU).is_file(), reason="needs DejaVu Sans (fonts-dejavu-core)")
async def test_pdf_shows_every_script_its_font_has(executor: Executor, file_store: FileStore):
    value, data = await export(executor, file_store, "export.pdf", [{"greeting": SCRIPTS}])

    text, embedded = _pdf(data)
    for word in SCRIPTS.split(" · "):
        assert word in text
    assert embedded == {"DejaVuSansBook", "DejaVuSansBold"}
    assert "warnings" not in value["metadata"]


@pytest.mark.skipif(not Path(DEJAVU).is_file(), reason="needs DejaVu Sans (fonts-dejavu-core)")
async def test_pdf_warns_of_characters_no_font_has(
    executor: Executor, file_store: FileStore, no_system_fallbacks: None
):
    """The file is still written, with what can be shown; its value says what could not."""
    value, data = await export(
        executor, file_store, "export.pdf", "Order 日本語 ok", title="Привет 日本"
    )

    assert value["metadata"]["warnings"] == [
        "3 characters could not be shown with the font DejaVu Sans: '日本語'; install a "
        "font that has them (Noto Sans CJK for Chinese, Japanese and Korean) or name one in "
        "TAV_PDF_FONT"
    ]
    text, _ = _pdf(data)
    assert "Привет" in text
    assert "Order" in text
    assert "ok" in text


@pytest.mark.skipif(not Path(DEJAVU).is_file(), reason="needs DejaVu Sans (fonts-dejavu-core)")
async def test_pdf_can_fail_instead(
    executor: Executor, file_store: FileStore, no_system_fallbacks: None
):
    wf = workflow(
        node("start", "trigger.manual"),
        node("export", "export.pdf", params={"text": "漢字", "missing_characters": "fail"}),
        links=("start -> export",),
    )
    result = await run(executor, wf, None)

    error = result.nodes["export"].error
    assert error is not None
    assert error.type == "missing_characters"
    assert "2 characters could not be shown with the font DejaVu Sans: '漢字'" in error.message
    assert await file_store.find(kind="export") == ([], 0)


@pytest.mark.skipif(
    not (Path(DEJAVU).is_file() and Path(LIBERATION).is_file()),
    reason="needs DejaVu Sans and Liberation Sans",
)
async def test_pdf_writes_in_the_configured_font_and_falls_back_for_what_it_lacks(
    registry: NodeRegistry, file_store: FileStore
):
    """Liberation Sans has no Georgian or Armenian: those come from the system's DejaVu."""
    executor = _fonts_executor(registry, file_store, LIBERATION)
    value, data = await export(executor, file_store, "export.pdf", SCRIPTS, title="Report")

    text, embedded = _pdf(data)
    for word in SCRIPTS.split(" · "):
        assert word in text
    assert embedded == {"LiberationSans", "DejaVuSansBook"}
    assert "warnings" not in value["metadata"]


async def test_a_configured_file_that_is_no_font_fails_the_node_saying_which(
    registry: NodeRegistry, file_store: FileStore, tmp_path: Path
):
    bogus = tmp_path / "font.ttf"
    bogus.write_text("not a font")
    executor = _fonts_executor(registry, file_store, str(bogus))
    wf = workflow(
        node("start", "trigger.manual"),
        node("export", "export.pdf", params={"text": "hello"}),
        links=("start -> export",),
    )
    result = await run(executor, wf, None)

    error = result.nodes["export"].error
    assert error is not None
    assert error.type == "font_unusable"
    assert f"the PDF font {bogus} (TAV_PDF_FONT) cannot be used" in error.message
