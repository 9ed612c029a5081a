"""``tav serve`` as a person starts it: a banner once it answers (where it is, what to do
first, where the API docs are, the data dir, the mode), and a line when it stops."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tav.cli.version import version


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(**env: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("TAV_")}, **env}


def serve(cwd: Path, port: int) -> tuple[subprocess.Popen[str], list[str]]:
    """A started ``tav serve`` and the lines it printed on stdout up to its banner's end."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tav", "serve", "--port", str(port)],
        cwd=cwd,
        env=environment(TAV_DATA_DIR="data"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while not lines or not lines[-1].startswith("Ctrl-C stops it"):
        assert time.monotonic() < deadline, lines
        line = process.stdout.readline()
        assert line, f"tav serve exited: {lines}"
        lines.append(line.rstrip("\n"))
    return process, lines


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=30)
    return out


def test_the_banner_says_where_and_what_then_the_stop_is_told(tmp_path: Path):
    port = free_port()
    process, banner = serve(tmp_path, port)
    try:
        url = f"http://127.0.0.1:{port}/"
        # Printed once it answers: the URL it names works at once.
        assert httpx.get(f"{url}api/v1/auth/status").json()["setup_required"] is True
        text = "\n".join(banner)
        assert banner[0] == f"TAV Engine {version()} is ready at {url}"
        assert "Open it to create the owner account." in text
        assert f"API docs:  {url}docs" in text
        assert f"Guide:     {url}guide/" in text
        assert f"Data dir:  {tmp_path / 'data'}" in text  # absolute, though given relative
        assert "Mode:      embedded (one process; SQLite)" in text
    finally:
        rest = stop(process)
    assert "TAV Engine is stopping: running executions get up to 10 s to finish." in rest
    assert rest.rstrip().endswith("TAV Engine stopped.")


def test_with_an_owner_the_banner_does_not_ask_for_one(tmp_path: Path):
    created = subprocess.run(
        [sys.executable, "-m", "tav", "users", "create-owner", "--init",
         "--email", "owner@example.com", "--password", "long enough"],
        cwd=tmp_path,
        env=environment(TAV_DATA_DIR="data"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    process, banner = serve(tmp_path, free_port())
    stop(process)
    assert not any("create the owner" in line for line in banner), banner
