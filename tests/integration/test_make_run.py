"""``make run`` on a machine without Node.js: one line of warning, and the server starts.

make runs with a PATH of its own that holds only the tools the Makefile's recipes call
besides npm (``sh``, ``find``), and is told that the virtualenv is up to date (``-o``),
so the test needs no network and changes nothing in the checkout.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("sh", "find")

pytestmark = pytest.mark.skipif(
    shutil.which("make") is None or not (ROOT / ".venv" / "bin" / "tav").exists(),
    reason="needs make and the checkout's .venv",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def path_without_npm(tmp_path: Path) -> str:
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found is not None, tool
        (folder / tool).symlink_to(found)
    assert shutil.which("npm", path=str(folder)) is None
    return str(folder)


def test_make_run_without_npm_starts_the_server(tmp_path: Path, path_without_npm: str):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAV_", "MAKE", "MFLAGS"))}
    env.update(PATH=path_without_npm, TAV_DATA_DIR=str(tmp_path / "data"))
    log = tmp_path / "make.log"
    with log.open("w") as output:
        make = subprocess.Popen(
            [shutil.which("make") or "make", "-C", str(ROOT), "--no-print-directory",
             "-o", ".venv/.installed", "run", f"PORT={port}"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # make and the server it starts stop together
        )  # fmt: skip
    try:
        page = _wait_for(f"http://127.0.0.1:{port}/", make, log)
    finally:
        os.killpg(make.pid, signal.SIGTERM)
        try:
            make.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
    printed = log.read_text()
    warnings = [line for line in printed.splitlines() if "npm not found" in line]
    assert len(warnings) == 1, printed
    assert "Node.js" in warnings[0]
    assert "npm ci" not in printed
    assert "vite" not in printed
    # The editor the checkout has, or the page that says how to build it.
    assert page.status_code == 200
    assert 'id="root"' in page.text or "the editor has not been built" in page.text


def _wait_for(url: str, make: subprocess.Popen[bytes], log: Path) -> httpx.Response:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert make.poll() is None, log.read_text()
        try:
            return httpx.get(url, timeout=1)
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"the server did not answer within 60 s:\n{log.read_text()}")
