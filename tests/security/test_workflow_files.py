"""Workflow files and documents that are not what they claim: bytes that are not UTF-8,
UTF-16 from Windows, and YAML whose aliases expand without end ("billion laughs"). Each is
read or refused with a clear message, at once: no traceback, no hang."""

from __future__ import annotations

import codecs
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tav.core.errors import WorkflowInvalid
from tav.engine.loader import parse_document
from tests.helpers import document, node

FLOW = document(
    node("start", "trigger.manual"),
    node("out", "core.output", params={"value": "héllo"}),
    links=("start -> out",),
)

LAUGHS = """\
schema: 1
name: laughs
nodes:
  - {id: s, type: trigger.manual}
  - id: o
    type: core.output
    params:
      value:
        - &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
        - &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
        - &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
        - &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
        - &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
        - &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
        - &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
        - &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
        - &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
edges: [{from: s, to: o}]
"""


def tav(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tav", "run", "--no-store", *args],
        capture_output=True,
        text=True,
        timeout=20,
        env={**os.environ, "TAV_DATA_DIR": str(tmp_path / "data")},
        check=False,
    )


def test_a_file_that_is_not_utf8_is_refused_with_the_offset(tmp_path: Path) -> None:
    flow = tmp_path / "flow.json"
    flow.write_bytes(b'{"name": "caf\xe9"}')

    proc = tav(tmp_path, str(flow))

    assert proc.returncode == 2
    assert "not UTF-8 text (byte 0xe9 at offset 13)" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("bom", "codec"),
    [(codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
     (codecs.BOM_UTF8, "utf-8")],
)  # fmt: skip
def test_a_file_with_a_byte_order_mark_runs(tmp_path: Path, bom: bytes, codec: str) -> None:
    flow = tmp_path / "flow.json"
    flow.write_bytes(bom + json.dumps(FLOW, ensure_ascii=False).encode(codec))

    proc = tav(tmp_path, str(flow), "--json")

    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["output"] == "héllo"


def test_input_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    flow = tmp_path / "flow.json"
    flow.write_text(json.dumps(FLOW))
    payload = tmp_path / "input.json"
    payload.write_bytes(b"\xff{}")

    proc = tav(tmp_path, str(flow), "--input", f"@{payload}")

    assert proc.returncode == 2
    assert "input.json is not UTF-8 text (byte 0xff at offset 0)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_billion_laughs_is_refused_at_once(tmp_path: Path) -> None:
    flow = tmp_path / "laughs.yaml"
    flow.write_text(LAUGHS)
    assert len(LAUGHS) < 700

    proc = tav(tmp_path, str(flow))  # before: never ends

    assert proc.returncode == 2
    assert "YAML aliases expand the document by" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_value_that_contains_itself_is_refused() -> None:
    with pytest.raises(WorkflowInvalid, match=r"refers to a value that contains it \(line 1"):
        parse_document("&a [1, *a]", source="loop.yaml")


def test_aliases_within_bounds_still_work() -> None:
    text = "base: &base {timeout_s: 5, retry: 2}\nfirst: *base\nsecond: {<<: *base, retry: 3}\n"

    data = parse_document(text, source="flow.yaml")

    assert data["first"] == {"timeout_s": 5, "retry": 2}
    assert data["second"] == {"timeout_s": 5, "retry": 3}


async def test_the_api_refuses_a_billion_laughs_and_reads_utf16(
    client: httpx.AsyncClient,
) -> None:
    laughs = await client.post(
        "/api/v1/workflows/import",
        content=LAUGHS.encode(),
        headers={"Content-Type": "application/yaml"},
    )
    utf16 = await client.post(
        "/api/v1/workflows/import",
        content=codecs.BOM_UTF16_LE + json.dumps(FLOW).encode("utf-16-le"),
        headers={"Content-Type": "application/json"},
    )

    assert laughs.status_code == 422, laughs.text
    assert "YAML aliases expand the document by" in laughs.text
    assert utf16.status_code == 201, utf16.text
