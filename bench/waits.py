"""Waiting executions cost a server nothing: start-up and idle with 10,000 of them.

    .venv/bin/python bench/waits.py [--waiting 10000] [--starts 5] [--idle-s 10]

Two data dirs (SQLite): one whose only execution ended, and one with ``--waiting``
executions parked on a ``core.wait`` (nine in ten on an approval, one in ten on a timer
due in a day), made through the real path (a server runs them until they park). For
each, ``--starts`` starts of a real ``tav serve`` are timed from process start to the
first 200 of ``GET /api/v1/auth/status``, the two data dirs taking turns; then a server of
each idles ``--idle-s`` seconds, and its resident memory and the CPU time it spent idling
are read, and the waiting executions are listed (``GET /api/v1/executions?status=waiting``,
a page of 50 with what each waits for). Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.append(str(Path(__file__).parent))  # (last: bench/ must not shadow a module)
from api import TavServer, compile_bytecode  # (bench/api.py)

BATCH = 250


class QuietServer(TavServer):
    """``TavServer`` whose banner and log go nowhere (this prints a table)."""

    def start(self) -> float:
        real = subprocess.Popen

        def quiet(*args: Any, **kwargs: Any) -> Any:
            return real(*args, **kwargs, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        subprocess.Popen = quiet  # type: ignore[misc]
        try:
            return super().start()
        finally:
            subprocess.Popen = real  # type: ignore[misc]


def approval_flow() -> dict[str, object]:
    return {
        "schema": 1,
        "name": "approve",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "ask", "type": "core.wait", "params": {"mode": "approval", "title": "OK?"}},
            {"id": "done", "type": "core.output"},
        ],
        "edges": [{"from": "start", "to": "ask"}, {"from": "ask:approved", "to": "done"}],
    }


def timer_flow() -> dict[str, object]:
    return {
        "schema": 1,
        "name": "later",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "pause", "type": "core.wait", "params": {"mode": "timer", "duration": "1d"}},
        ],
        "edges": [{"from": "start", "to": "pause"}],
    }


def ended_flow() -> dict[str, object]:
    return {
        "schema": 1,
        "name": "ends",
        "nodes": [{"id": "start", "type": "trigger.manual"}, {"id": "out", "type": "core.output"}],
        "edges": [{"from": "start", "to": "out"}],
    }


async def park(data_dir: Path, waiting: int) -> float:
    """Run ``waiting`` executions in an in-process server until each waits (one that
    ends, for an empty ``waiting``); returns the seconds it took."""
    from tav.app.root import build
    from tav.app.server import Server
    from tav.settings import Settings

    server = Server(build(Settings(data_dir=data_dir, log_level="ERROR")))
    await server.start(prune=False)
    executions = server.parts.executions_service
    clock = time.perf_counter()
    try:
        ends = (await server.parts.workflows.create(ended_flow())).id
        await executions.finished((await executions.start(ends)).handle)
        flows = [
            (await server.parts.workflows.create(approval_flow())).id,
            (await server.parts.workflows.create(timer_flow())).id,
        ]
        for first in range(0, waiting, BATCH):
            started = [
                await executions.start(flows[1] if n % 10 == 9 else flows[0])
                for n in range(first, min(first + BATCH, waiting))
            ]
            ended = await asyncio.gather(*(executions.finished(s.handle, s) for s in started))
            assert all(record.status.value == "waiting" for record in ended)
    finally:
        await server.stop(timeout_s=5)
    return time.perf_counter() - clock


def starts(dirs: dict[str, Path], count: int) -> dict[str, list[float]]:
    """Seconds to the first 200 of each start, the data dirs taking turns (a noisy moment
    of the machine hits both alike)."""
    timings: dict[str, list[float]] = {label: [] for label in dirs}
    servers = {label: QuietServer(data_dir) for label, data_dir in dirs.items()}
    for _ in range(count):
        for label, server in servers.items():
            try:
                timings[label].append(server.start())
            finally:
                server.stop()
    return timings


def idle(data_dir: Path, idle_s: float) -> dict[str, float]:
    """Resident memory and CPU time of a server idling ``idle_s``, then how long listing
    the waiting executions takes."""
    server = QuietServer(data_dir)
    key = server.create_api_key()
    try:
        server.start()
        assert server.process is not None
        process = psutil.Process(server.process.pid)
        time.sleep(1)  # the start's own work done
        cpu = process.cpu_times()
        time.sleep(idle_s)
        idle_cpu = sum(process.cpu_times()[:2]) - sum(cpu[:2])
        rss = server.rss_mb()
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            client.get("/api/v1/executions", params={"limit": 1})  # (first request: imports)
            clock = time.perf_counter()
            page = client.get("/api/v1/executions", params={"status": "waiting", "limit": 50})
            listed_ms = (time.perf_counter() - clock) * 1000
            page.raise_for_status()
            total = page.json()["total"]
    finally:
        server.stop()
    return {"rss": rss, "idle_cpu_ms": idle_cpu * 1000, "listed_ms": listed_ms, "total": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--waiting", type=int, default=10_000)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--idle-s", type=float, default=10.0)
    args = parser.parse_args()
    compile_bytecode()
    scratch = Path(tempfile.mkdtemp(prefix="tav-bench-waits-"))
    try:
        none_dir, many_dir = scratch / "none", scratch / "many"
        asyncio.run(park(none_dir, 0))
        made_s = asyncio.run(park(many_dir, args.waiting))
        print(
            f"made {args.waiting:,} waiting executions through a server in {made_s:.1f} s "
            f"({made_s / args.waiting * 1000:.2f} ms each, {BATCH} at a time)"
        )
        dirs = {"none waiting": none_dir, f"{args.waiting:,} waiting": many_dir}
        timings = starts(dirs, args.starts)
        print(f"tav serve, {args.starts} starts each (taking turns), then {args.idle_s:g} s idle:")
        print(
            f"  {'':16} {'start median':>12} {'best':>7} {'worst':>7} {'RSS idle':>9} "
            f"{'CPU idle':>9} {'list waiting (50)':>18}"
        )
        for label, data_dir in dirs.items():
            took, m = timings[label], idle(data_dir, args.idle_s)
            print(
                f"  {label:16} {statistics.median(took):>10.2f} s {min(took):>5.2f} s "
                f"{max(took):>5.2f} s {m['rss']:>6.1f} MB {m['idle_cpu_ms']:>6.0f} ms "
                f"{m['listed_ms']:>8.1f} ms of {int(m['total']):,}"
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
