"""Live co-editing benchmark: joining a room, fanning an update out, a room's memory.

    make bench-collab      # or: .venv/bin/python bench/collab.py [--joins N] [--updates N]

Starts ``tav serve`` on a free port in a temporary data dir (SQLite) and stores workflows
of 500 nodes (every other one an ``ai.llm_chat`` whose prompt is shared text, the others
``core.set`` with a few values, each with its position, in a chain). Then, over real
WebSockets from this process (the ``websockets`` library, pycrdt documents):

- *join*: a new client connects to a room and syncs, timed from opening the connection to
  holding the whole draft (the server's answer to its sync step 1 applied): the first join
  of a room (loaded from the database, the draft written once) and ``--joins`` more to a
  room already open; best, median (target ≤ 300 ms) and 95th percentile.
- *fan-out*: 20 clients in one room and a 21st that edits a prompt ``--updates`` times, one
  edit at a time; each edit is timed from being sent to being applied by every one of the
  20 (median target ≤ 50 ms), and per client.
- *memory*: the server's resident memory (``psutil``) before and after opening 20 more
  rooms of 500-node workflows (``GET /draft`` opens one), per room.

The 20 clients apply what they get and answer nothing, as browsers do (pycrdt's own
``Provider`` would send every update back). Client and server share the machine. Prints
figures; it is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websockets
from pycrdt import (
    Doc,
    Map,
    Text,
    create_sync_message,
    create_update_message,
    handle_sync_message,
)

from api import TavServer  # bench/api.py

NODES = 500
FAN_OUT = 20
ROOMS_FOR_MEMORY = 20
SYNC, STEP2 = 0, 1


def big_workflow(name: str) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "trigger.manual"}]
    for index in range(1, NODES):
        if index % 2:
            prompt = f"Step {index}: summarize {{{{ input }}}} in three sentences, politely. " * 3
            nodes.append({"id": f"ask{index}", "type": "ai.llm_chat", "params": {"prompt": prompt}})
        else:
            values = {"step": index, "label": f"value {index}", "flag": index % 3 == 0}
            nodes.append({"id": f"set{index}", "type": "core.set", "params": {"values": values}})
    edges = [{"from": a["id"], "to": b["id"]} for a, b in itertools.pairwise(nodes)]
    positions = {node["id"]: [index * 240, (index % 7) * 90] for index, node in enumerate(nodes)}
    return {
        "schema": 1,
        "name": name,
        "nodes": nodes,
        "edges": edges,
        "ui": {"positions": positions},
    }


class Listener:
    """A client that only listens: applies the sync messages it gets, sends nothing but
    its sync step 1."""

    def __init__(self, connection: websockets.ClientConnection) -> None:
        self.connection = connection
        self.doc: Doc[Any] = Doc()
        self.synced = asyncio.Event()
        self.changed = asyncio.Event()
        self.doc.observe(lambda _: self.changed.set())

    async def run(self) -> None:
        await self.connection.send(create_sync_message(self.doc))
        async for message in self.connection:
            if isinstance(message, bytes) and message[0] == SYNC:
                handle_sync_message(message[1:], self.doc)
                if message[1] == STEP2:
                    self.synced.set()


async def join(url: str, headers: dict[str, str]) -> tuple[float, Listener, asyncio.Task[None]]:
    started = time.perf_counter()
    connection = await websockets.connect(url, additional_headers=headers, max_size=None)
    listener = Listener(connection)
    task = asyncio.create_task(listener.run())
    await listener.synced.wait()
    elapsed = time.perf_counter() - started
    assert len(listener.doc.get("nodes", type=Map)) == NODES
    return elapsed, listener, task


async def leave(listener: Listener, task: asyncio.Task[None]) -> None:
    await listener.connection.close()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def summary(label: str, seconds: list[float], target_ms: float | None = None) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    median = statistics.median(ordered)
    line = (
        f"{label}: best {ordered[0] * 1000:.1f} ms, median {median * 1000:.1f} ms, "
        f"p95 {p95 * 1000:.1f} ms ({len(ordered)} runs)"
    )
    if target_ms is not None:
        verdict = "met" if median * 1000 <= target_ms else "NOT met"
        line += f"  [target: median ≤ {target_ms:.0f} ms: {verdict}]"
    return line


async def bench_joins(base: str, headers: dict[str, str], workflow_id: str, joins: int) -> None:
    url = f"{base.replace('http', 'ws', 1)}/api/v1/workflows/{workflow_id}/collab"
    first, listener, task = await join(url, headers)
    print(f"first join of a {NODES}-node room (loaded from the database): {first * 1000:.1f} ms")
    times = []
    for _ in range(joins):
        elapsed, other, other_task = await join(url, headers)
        times.append(elapsed)
        await leave(other, other_task)
    await leave(listener, task)
    print(summary(f"join of an open {NODES}-node room", times, target_ms=300))


async def bench_fan_out(base: str, headers: dict[str, str], workflow_id: str, updates: int) -> None:
    url = f"{base.replace('http', 'ws', 1)}/api/v1/workflows/{workflow_id}/collab"
    joined = [await join(url, headers) for _ in range(FAN_OUT + 1)]
    listeners = [listener for _, listener, _ in joined]
    editor, audience = listeners[0], listeners[1:]
    prompt = editor.doc.get("nodes", type=Map)["ask1"]["params"]["prompt"]
    assert isinstance(prompt, Text)
    everyone, each = [], []
    for index in range(updates):
        for listener in audience:
            listener.changed.clear()
        state = editor.doc.get_state()
        prompt.insert(0, f"{index % 10}")
        update = editor.doc.get_update(state)
        started = time.perf_counter()
        await editor.connection.send(create_update_message(update))
        arrivals = await asyncio.gather(*(_arrival(listener) for listener in audience))
        everyone.append(max(arrivals) - started)
        each.extend(arrival - started for arrival in arrivals)
        await asyncio.sleep(0.01)
    expected = str(prompt)
    assert all(
        str(listener.doc.get("nodes", type=Map)["ask1"]["params"]["prompt"]) == expected
        for listener in audience
    )
    print(summary(f"an update applied by all {FAN_OUT} clients", everyone, target_ms=50))
    print(summary("  the same, per client", each))
    for listener, task in [(listener, task) for _, listener, task in joined]:
        await leave(listener, task)


async def _arrival(listener: Listener) -> float:
    await listener.changed.wait()
    return time.perf_counter()


async def bench_memory(server: TavServer, http: httpx.AsyncClient) -> None:
    ids = []
    for index in range(ROOMS_FOR_MEMORY):
        response = await http.post("/api/v1/workflows", json=big_workflow(f"memory {index}"))
        response.raise_for_status()
        ids.append(response.json()["id"])
    await asyncio.sleep(1)
    before = server.rss_mb()
    for workflow_id in ids:
        (await http.get(f"/api/v1/workflows/{workflow_id}/draft")).raise_for_status()
    await asyncio.sleep(1)
    after = server.rss_mb()
    per_room = (after - before) / ROOMS_FOR_MEMORY
    print(
        f"memory: {ROOMS_FOR_MEMORY} open {NODES}-node rooms took {after - before:.1f} MB "
        f"({before:.0f} -> {after:.0f} MB resident): {per_room:.2f} MB per room"
    )


async def main(joins: int, updates: int) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="tav-bench-collab-"))
    server = TavServer(data_dir)
    try:
        server.start()
        headers = {"Authorization": f"Bearer {server.create_api_key()}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as http:
            ids = []
            for name in ("joins", "fan-out"):
                response = await http.post("/api/v1/workflows", json=big_workflow(name))
                response.raise_for_status()
                ids.append(response.json()["id"])
            print(f"tav serve on {server.url}; workflows of {NODES} nodes, {NODES - 1} edges")
            await bench_joins(server.url, headers, ids[0], joins)
            await bench_fan_out(server.url, headers, ids[1], updates)
            await bench_memory(server, http)
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--joins", type=int, default=30, help="joins of an open room")
    parser.add_argument("--updates", type=int, default=100, help="updates fanned out")
    options = parser.parse_args()
    sys.exit(asyncio.run(main(options.joins, options.updates)))
