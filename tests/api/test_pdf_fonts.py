"""The PDF font setting (TAV_PDF_FONT) through a server: exports are written in it, fall
back to the system's fonts, and say which characters no font has."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from pypdf import PdfReader

from tav.nodes.builtin.export import fonts
from tav.settings import Settings
from tests.api.helpers import run_to_end, stored
from tests.helpers import document, node

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
LIBERATION = "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"

pytestmark = pytest.mark.skipif(
    not (Path(DEJAVU).is_file() and Path(LIBERATION).is_file()),
    reason="needs DejaVu Sans and Liberation Sans (fonts-dejavu-core, fonts-liberation)",
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"pdf_font": [Path(LIBERATION)]})


def test_the_setting_takes_several_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAV_PDF_FONT", f"{LIBERATION}{os.pathsep}{DEJAVU}")
    assert Settings().pdf_font == [Path(LIBERATION), Path(DEJAVU)]


async def test_an_export_is_written_in_the_configured_font_and_says_what_it_cannot_show(
    client, server, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(fonts, "SYSTEM_FALLBACKS", ())  # whatever CJK fonts this machine has
    doc = document(
        node("start", "trigger.manual"),
        node("pdf", "export.pdf", params={"title": "Report", "text": "Café ქართული 日本"}),
        links=("start -> pdf",),
    )
    execution = await run_to_end(client, await stored(server, doc))

    assert execution["status"] == "succeeded"
    value = execution["nodes"]["pdf"]["outputs"]["output"]
    (warning,) = value["metadata"]["warnings"]
    assert warning.startswith(
        "2 characters could not be shown with the fonts Liberation Sans, DejaVu Sans: '日本'"
    )
    content = await client.get(value["metadata"]["url"])
    assert content.status_code == 200
    reader = PdfReader(io.BytesIO(content.content))
    text = reader.pages[0].extract_text()
    assert "Café" in text
    assert "ქართული" in text  # from the fallback: Liberation Sans has no Georgian
    embedded = {
        str(font.get_object()["/BaseFont"]).split("+")[-1]
        for font in reader.pages[0]["/Resources"]["/Font"].values()
    }
    assert embedded == {"LiberationSans", "DejaVuSansBook"}
