"""MCP servers for tests: ``tools_server.py`` (the official SDK's) over streamable HTTP as
a process on a free port of 127.0.0.1, or over stdio as the data of an ``mcp_server``
credential; and a server that answers garbage, over HTTP and over stdio."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TOOLS_SERVER = HERE / "tools_server.py"
VENV = Path(sys.prefix)
"""The tests' environment, where the SDK is installed: a stdio server sees it (and the
interpreter's own installation), read-only."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def http_tools_server() -> Iterator[str]:
    """``tools_server.py`` over streamable HTTP; yields its URL. Killed at the end."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(TOOLS_SERVER), "http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port, process)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.kill()
        process.wait()


def _wait_for(port: int, process: subprocess.Popen[bytes], within_s: float = 20) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the MCP test server ended: {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the MCP test server did not listen in time")


def stdio_data(**extra: Any) -> dict[str, Any]:
    """An ``mcp_server`` credential's data that runs ``tools_server.py`` over stdio, in the
    sandbox: the interpreter of the tests, seeing the tests' environment and the script."""
    paths = sorted({str(VENV), sys.base_prefix, str(HERE)})
    return {
        "transport": "stdio",
        "command": sys.executable,
        "args": [str(TOOLS_SERVER), "stdio"],
        "paths": paths,
        **extra,
    }


def garbage_stdio_data() -> dict[str, Any]:
    """A stdio server that writes what is not JSON-RPC, then waits."""
    script = "import sys; print('this is not JSON-RPC', flush=True); sys.stdin.read()"
    return {
        "transport": "stdio",
        "command": sys.executable,
        "args": ["-c", script],
        "paths": sorted({str(VENV), sys.base_prefix}),
    }


class _Garbage(BaseHTTPRequestHandler):
    huge = False

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"jsonrpc": "2.0", "id": "nonsense", "result": [1, 2, ' + b"\xff" * 8
        if self.huge:
            body = b'{"jsonrpc": "2.0", "id": 0, "result": {"x": "' + b"y" * 3_000_000 + b'"}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.send_response(405)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class _Huge(_Garbage):
    huge = True


@contextmanager
def garbage_http_server(*, huge: bool = False) -> Iterator[str]:
    """An HTTP server answering every POST with bytes that are not JSON (``huge``: with
    3 MB of JSON); yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Huge if huge else _Garbage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/mcp"
    finally:
        server.shutdown()
        server.server_close()
