"""Every command of docs/deployment/quick-start.md, run in order against a real server, and
what each prints compared with what the page shows.

The ```sh blocks of the page are the test: the one that starts ``tav serve`` runs in the
background (on a free port instead of 8000, in a temporary ``TAV_DATA_DIR``), the others
run one after the other in a single bash with ``set -euo pipefail``, so that the variables
they export carry over. They run in a temporary directory that stands for the checkout the
page assumes (``.venv`` and ``examples`` link to the real ones), and the test checks that
they leave no file there.

A ```text or ```json block right after a command block is what that block prints on
stdout (the server's block: its banner). Both sides are compared once what differs from
run to run is set aside: ids, times, durations, the version, the data dir's path, the
port. A line ``…`` in the page stands for lines left out: the parts between must appear
in that order.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "deployment" / "quick-start.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.DOTALL | re.MULTILINE)
DOC_PORT = "8000"
MARK = ">>> block"
GAP = "…"
VARYING = [
    (re.compile(r"\b[0-9a-f]{32}\b"), "<id>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"), "<time>"),
    (re.compile(r'("duration_ms": ?)[0-9.]+'), r"\1<ms>"),
    (re.compile(r"(TAV Engine )\S+( is ready)"), r"\1<version>\2"),
    (re.compile(r"(Data dir: +)\S+"), r"\1<dir>"),
]

pytestmark = pytest.mark.skipif(
    not (shutil.which("curl") and shutil.which("jq")), reason="the quick start uses curl and jq"
)


@dataclass
class Block:
    script: str
    shows: str | None  # what the page says it prints


def page_blocks() -> tuple[Block, list[Block]]:
    """(the block that starts the server, the other command blocks in order)."""
    text = PAGE.read_text()
    blocks: list[Block] = []
    end = 0
    for fence in FENCE.finditer(text):
        language, body = fence.groups()
        follows = text[end : fence.start()].strip() == ""
        if language in ("sh", "bash"):
            blocks.append(Block(body, None))
        elif language in ("text", "json") and blocks and follows and blocks[-1].shows is None:
            blocks[-1].shows = body
        end = fence.end()
    servers = [block for block in blocks if "tav serve" in block.script]
    assert len(servers) == 1, "the quick start starts the server in exactly one block"
    assert blocks[0] is servers[0], "the quick start starts the server first"
    return blocks[0], blocks[1:]


def normalized(text: str, port: str) -> list[str]:
    text = text.replace(f":{port}", f":{DOC_PORT}")
    for pattern, replacement in VARYING:
        text = pattern.sub(replacement, text)
    return [line.rstrip() for line in text.strip("\n").splitlines()]


def assert_shows(printed: str, shown: str, port: str, where: str) -> None:
    """``printed`` is what the page shows: the same lines, or each run of lines between
    ``…`` lines found in order."""
    actual, expected = normalized(printed, port), normalized(shown, port)
    if GAP not in expected:
        assert actual == expected, where
        return
    position = 0
    for part in "\n".join(expected).split(f"\n{GAP}\n"):
        lines = part.splitlines()
        found = next(
            (i for i in range(position, len(actual)) if actual[i : i + len(lines)] == lines),
            None,
        )
        assert found is not None, f"{where}: not found in order:\n{part}\n---\n{printed}"
        position = found + len(lines)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A directory that looks like the checkout to the page's commands."""
    directory = tmp_path / "checkout"
    directory.mkdir()
    for name in (".venv", "examples"):
        (directory / name).symlink_to(ROOT / name)
    return directory


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAV_", "VIRTUAL_ENV"))}
    env["TAV_DATA_DIR"] = str(tmp_path / "data")
    return env


@dataclass
class Served:
    port: str
    banner: Path


@pytest.fixture
def server(checkout: Path, environment: dict[str, str], tmp_path: Path) -> Iterator[Served]:
    block, _ = page_blocks()
    port = str(free_port())
    banner = tmp_path / "banner.txt"
    with banner.open("w") as output:
        process = subprocess.Popen(
            ["bash", "-euo", "pipefail", "-c", block.script.replace(DOC_PORT, port)],
            cwd=checkout,
            env=environment,
            stdout=output,
            start_new_session=True,  # its own process group, so that bash and tav stop together
        )
    try:
        _wait_ready(f"http://127.0.0.1:{port}", process)
        yield Served(port, banner)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server block exited"
        try:
            if httpx.get(f"{url}/api/v1/auth/status", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    pytest.fail("the server did not answer within 30 s")


def test_every_command_of_the_quick_start_prints_what_the_page_shows(
    server: Served, checkout: Path, environment: dict[str, str]
) -> None:
    first, blocks = page_blocks()
    script = "\n".join(
        f"echo '{MARK} {number}'\n{block.script.replace(DOC_PORT, server.port)}"
        for number, block in enumerate(blocks, start=2)
    )
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=checkout,
        env=environment,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert first.shows is not None, "the page shows the server's banner"
    assert_shows(server.banner.read_text(), first.shows, server.port, "the banner")
    printed = re.split(rf"^{MARK} \d+\n", done.stdout, flags=re.MULTILINE)[1:]
    assert len(printed) == len(blocks)
    compared = 0
    for number, (block, output) in enumerate(zip(blocks, printed, strict=True), start=2):
        if block.shows is not None:
            assert_shows(output, block.shows, server.port, f"block {number}")
            compared += 1
    assert compared >= 5
    assert sorted(path.name for path in checkout.iterdir()) == [".venv", "examples"]
