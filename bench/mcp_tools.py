"""MCP client benchmark: what an ``mcp.call_tool`` node costs per run, over HTTP and stdio.

    .venv/bin/python bench/mcp_tools.py [--runs N] [--throughput N] [--concurrency N]

Prints figures; it is not a test. The host is built as ``tav run --no-store`` builds it
(``tav.app.root.build``, executions in memory), with the default settings but the data
dir. The server is ``tests/fakes/mcp/tools_server.py`` (the official SDK's), over
streamable HTTP on 127.0.0.1 and over stdio in the sandbox. Each run is a workflow
``trigger.manual`` → ``mcp.call_tool`` calling ``add``; its *overhead* is its wall time
less the median of the same workflow with ``core.noop`` in place of the MCP node.

- **first run**: the connection made (the stdio server started in its sandbox);
- **back to back**: each run starts when the one before ends, on the kept connection;
- **N runs, C at a time**: throughput with C executions in flight on one connection.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from latency import line, timed  # bench/latency.py
from tav.app.root import build
from tav.core.workflow import Workflow
from tav.settings import Settings

SERVER = Path(__file__).resolve().parents[1] / "tests" / "fakes" / "mcp" / "tools_server.py"


def workflow(kind: str, credential: str = "") -> Workflow:
    step: dict[str, Any] = {"id": "step", "type": kind}
    if kind == "mcp.call_tool":
        step["params"] = {"credential": credential, "tool": "add", "arguments": {"a": 1, "b": 2}}
    nodes = [{"id": "start", "type": "trigger.manual"}, step]
    edges = [{"from": "start", "to": "step"}]
    return Workflow.model_validate({"name": kind, "nodes": nodes, "edges": edges})


async def bench(args: argparse.Namespace, url: str, data_dir: Path) -> None:
    parts = build(Settings(data_dir=data_dir), record=False)
    executor = parts.executor

    async def run(plan: Any) -> None:
        result = await executor.execute(plan, {})
        assert result.succeeded, result.error

    stdio = {
        "transport": "stdio",
        "command": sys.executable,
        "args": [str(SERVER), "stdio"],
        "paths": sorted({sys.prefix, sys.base_prefix, str(SERVER.parent)}),
    }
    servers = {"http": {"transport": "http", "url": url}, "stdio": stdio}
    try:
        await parts.db.migrate()
        noop = executor.compile(workflow("core.noop"))
        baseline = statistics.median([await timed(lambda: run(noop)) for _ in range(args.runs)])
        print(f"baseline: trigger.manual -> core.noop, {baseline:.2f} ms a run (median)")
        for name, data in servers.items():
            credential = await parts.credentials.create(name, "mcp_server", data)
            plan = executor.compile(workflow("mcp.call_tool", credential.id))
            await measure(name, run, plan, baseline, args)
    finally:
        await parts.aclose()


async def measure(
    name: str, run: Callable[[Any], Awaitable[None]], plan: Any, baseline: float, args: Any
) -> None:
    first = await timed(lambda: run(plan))
    print(
        f"{name}: first run (connects{', starts the server' * (name == 'stdio')}): {first:.0f} ms"
    )
    chained = [await timed(lambda: run(plan)) - baseline for _ in range(args.runs)]
    print(line("back to back", chained, 22))
    await throughput(run, plan, args.throughput, args.concurrency)


async def throughput(
    run: Callable[[Any], Awaitable[None]], plan: Any, total: int, concurrency: int
) -> None:
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one() -> None:
        async with gate:
            latencies.append(await timed(lambda: run(plan)))

    clock = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(total)))
    wall = time.perf_counter() - clock
    print(f"  {total:,} runs, {concurrency} at a time: {wall:.2f} s, {total / wall:.0f} runs/s")
    print(line("latency of a run", latencies, 22))


def http_server() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, str(SERVER), "http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(400):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, f"http://127.0.0.1:{port}/mcp"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the MCP server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=300, help="runs per latency figure")
    parser.add_argument("--throughput", type=int, default=1000, help="runs of the last figure")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; load average before: {os.getloadavg()[0]:.2f}")
    process, url = http_server()
    try:
        with tempfile.TemporaryDirectory(prefix="tav-bench-mcp-") as data_dir:
            asyncio.run(bench(args, url, Path(data_dir)))
    finally:
        process.kill()
        process.wait()
    print(f"load average after: {os.getloadavg()[0]:.2f} (others' work on this machine shows here)")


if __name__ == "__main__":
    main()
