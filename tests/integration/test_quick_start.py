"""Every command of docs/deployment/quick-start.md, run in order against a real server.

The ```sh blocks of the page are the test: the one that starts ``tav serve`` runs in the
background (on a free port instead of 8000, in a temporary ``TAV_DATA_DIR``), the others
run one after the other in a single bash with ``set -euo pipefail``, so that the variables
they export carry over. They run in a temporary directory that stands for the checkout the
page assumes (``.venv`` and ``examples`` link to the real ones), so files they write do not
land in the repository. Then a few marks of success are looked for in what they printed.
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
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "deployment" / "quick-start.md"
BLOCK = re.compile(r"^```(?:sh|bash)\n(.*?)^```$", re.DOTALL | re.MULTILINE)
DOC_PORT = "8000"

pytestmark = pytest.mark.skipif(
    not (shutil.which("curl") and shutil.which("jq")), reason="the quick start uses curl and jq"
)


def page_blocks() -> tuple[str, list[str]]:
    """(the block that starts the server, the other blocks in order)."""
    blocks = BLOCK.findall(PAGE.read_text())
    servers = [block for block in blocks if "tav serve" in block]
    assert len(servers) == 1, "the quick start starts the server in exactly one block"
    assert blocks[0] == servers[0], "the quick start starts the server first"
    return servers[0], blocks[1:]


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


@pytest.fixture
def server(checkout: Path, environment: dict[str, str]) -> Iterator[str]:
    block, _ = page_blocks()
    port = str(free_port())
    process = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", block.replace(DOC_PORT, port)],
        cwd=checkout,
        env=environment,
        start_new_session=True,  # its own process group, so that bash and tav stop together
    )
    try:
        _wait_ready(f"http://127.0.0.1:{port}", process)
        yield port
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


def test_every_command_of_the_quick_start_works(
    server: str, checkout: Path, environment: dict[str, str]
) -> None:
    _, blocks = page_blocks()
    script = "\n".join(
        f"echo '>>> block {number}' >&2\n{block.replace(DOC_PORT, server)}"
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
    out = done.stdout
    assert "core.http_request" in out  # the node catalog
    assert '"succeeded"' in out  # the run that waited
    assert "Hello, Ada!" in out
    assert "event: node.completed" in out  # the live stream ...
    assert "event: execution.completed" in out  # ... to its end
    assert "HELLO, GRACE!" in out
