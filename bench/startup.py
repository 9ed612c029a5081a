"""Start-up benchmark: how long ``tav serve`` takes to serve, and what that time is made of.

    make bench-startup     # or: .venv/bin/python bench/startup.py [--starts N] [--no-count]

Wall clock: ``--starts`` starts of a real ``tav serve`` on one data dir (the first creates
the schema), each timed from process start to the first ``200`` of
``GET /api/v1/auth/status``; best, median and worst of the restarts.

Instructions: the wall clock of a start moves by ±30 % with whatever else the machine is
doing, so a change of a few per cent cannot be seen in it. When valgrind is installed, the
same start path is run in one process under ``valgrind --tool=callgrind`` (importing the
``tav`` command and the app, building it, its lifespan start-up and one request through
ASGI), which counts the instructions executed: the same count run after run. It is
counted twice — the whole path, and only importing the third-party modules the path
imports — so that the difference is what TAV's own code costs. Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from api import TavServer, compile_bytecode  # bench/api.py

START_PATH = """
import asyncio, gc, json, sys
gc.disable()  # as tav serve does while it starts
sys.modules.setdefault("httpx._main", None)  # as tav serve does
before = set(sys.modules)
import tav.cli.app, uvicorn
from tav.api.app import create_app

app = create_app()

async def serve_one():
    sent = []
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}
    async def send(message):
        sent.append(message)
    path = "/api/v1/auth/status"
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "headers": [(b"host", b"localhost")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8000), "state": {}}
    async with app.router.lifespan_context(app):
        await app(scope, receive, send)
    assert sent[0]["status"] == 200, sent

asyncio.run(serve_one())
if len(sys.argv) > 1:
    libraries = [m for m in sys.modules if m not in before and m.split(".")[0] != "tav"]
    with open(sys.argv[1], "w") as out:
        json.dump(libraries, out)
"""

LIBRARIES_ONLY = """
import gc, importlib, json, sys
gc.disable()
sys.modules.setdefault("httpx._main", None)
import tav.api  # imports FastAPI as the server does (its OpenAPI models deferred)
for name in json.load(open(sys.argv[1])):
    try:
        importlib.import_module(name)
    except Exception:  # a module that only imports under its parent's conditions
        pass
"""


def wall_clock(starts: int) -> list[float]:
    data_dir = Path(tempfile.mkdtemp(prefix="tav-bench-startup-"))
    server = TavServer(data_dir)
    try:
        timings = []
        for _ in range(starts):
            timings.append(server.start())
            server.stop()
        return timings
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def instructions(script: str, *args: str, data_dir: Path) -> int:
    """Instructions (callgrind's ``Ir``) executed by ``python -c script args``."""
    env = {
        **{k: v for k, v in os.environ.items() if k != "TAV_DATABASE_URL"},
        "TAV_DATA_DIR": str(data_dir),
        "PYTHONHASHSEED": "0",
    }
    valgrind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    done = subprocess.run(
        [*valgrind, sys.executable, "-c", script, *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"no instruction count from valgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=9, help="starts to time (default 9)")
    parser.add_argument("--no-count", action="store_true", help="skip the valgrind count")
    args = parser.parse_args()
    compile_bytecode()

    first, *restarts = wall_clock(max(args.starts, 2))
    print("tav serve: process start to the first 200 of GET /api/v1/auth/status")
    print(f"  first start (creates the schema): {first:.2f} s")
    print(
        f"  restarts ({len(restarts)}): best {min(restarts):.2f} s, "
        f"median {statistics.median(restarts):.2f} s, worst {max(restarts):.2f} s"
        f"   target <= 1 s: {'met' if statistics.median(restarts) <= 1.0 else 'MISSED'}"
    )
    if args.no_count:
        return
    if shutil.which("valgrind") is None:
        print("instructions: valgrind is not installed (apt-get install valgrind)")
        return
    with tempfile.TemporaryDirectory(prefix="tav-bench-startup-") as scratch:
        data_dir, modules = Path(scratch) / "data", Path(scratch) / "modules.json"
        instructions(START_PATH, str(modules), data_dir=data_dir)  # creates the schema
        whole = instructions(START_PATH, data_dir=data_dir)
        libraries = instructions(LIBRARIES_ONLY, str(modules), data_dir=data_dir)
        imported = len(json.loads(modules.read_text()))
    print("instructions of the same start path in one process (callgrind, a restart):")
    print(f"  all: {whole / 1e9:.3f} G")
    print(f"  importing the {imported} third-party modules it uses: {libraries / 1e9:.3f} G")
    print(f"  TAV's own modules, app, start-up and the request: {(whole - libraries) / 1e9:.3f} G")


if __name__ == "__main__":
    main()
