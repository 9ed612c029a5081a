"""Webhook benchmark: a real ``tav serve``, a webhook that answers when its run is done.

    .venv/bin/python bench/webhook.py [--quick]

Starts ``tav serve`` on a free port in a temporary data dir (SQLite, everything
persisted), stores and activates a 10-node workflow (``trigger.webhook`` with
``respond: when_done``, 8 ``core.noop``, ``core.output``) and measures
``POST /webhook/bench`` at concurrency 1 and 16: requests per second, p50 and p99. For
comparison it measures the same chain started through the API
(``POST /api/v1/workflows/{id}/run?wait=true``, with ``trigger.manual``) in the same
server, interleaved with the webhook loads. Prints figures; it is not a test. The load
generator runs on the same machine and takes CPU from the server.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import httpx

from api import Load, TavServer, compile_bytecode, load  # bench/api.py

NOOPS = 8  # + the trigger and core.output: 10 nodes


def chain(trigger: dict[str, Any], name: str) -> dict[str, Any]:
    nodes = [trigger, *({"id": f"n{i}", "type": "core.noop"} for i in range(NOOPS))]
    nodes.append({"id": "result", "type": "core.output"})
    edges = [{"from": a["id"], "to": b["id"]} for a, b in itertools.pairwise(nodes)]
    return {"schema": 1, "name": name, "nodes": nodes, "edges": edges}


WEBHOOK = {
    "id": "hook",
    "type": "trigger.webhook",
    "params": {"path": "bench", "respond": "when_done", "rate_limit_per_minute": None},
}
MANUAL = {"id": "start", "type": "trigger.manual"}


def webhook_answer(status: int, answer: bytes) -> None:
    if status != 200 or "input" not in json.loads(answer)["body"]:
        raise SystemExit(f"webhook failed: {status} {answer[:500]!r}")


def api_answer(status: int, answer: bytes) -> None:
    if status != 200 or json.loads(answer).get("status") != "succeeded":
        raise SystemExit(f"run failed: {status} {answer[:500]!r}")


async def store(url: str, key: str) -> str:
    """Stores both workflows and activates the webhook; returns the API one's id."""
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as client:
        hooked = chain(WEBHOOK, "bench webhook")
        hooked["nodes"][-1]["params"] = {"value": "{{ trigger }}"}
        created = await client.post("/api/v1/workflows?active=true", json=hooked)
        if created.status_code != 201:
            raise SystemExit(f"cannot store the workflow: {created.status_code} {created.text}")
        plain = await client.post("/api/v1/workflows", json=chain(MANUAL, "bench api"))
        return str(plain.json()["id"])


async def measure(url: str, key: str, args: argparse.Namespace) -> dict[str, Load]:
    workflow_id = await store(url, key)
    host = url.removeprefix("http://")
    common = f"Host: {host}\r\nContent-Type: application/json\r\n"
    targets = {
        "webhook": ("/webhook/bench", common.encode(), webhook_answer),
        "api": (
            f"/api/v1/workflows/{workflow_id}/run?wait=true",
            (common + f"Authorization: Bearer {key}\r\n").encode(),
            api_answer,
        ),
    }
    for path, headers, check in targets.values():
        await load(url, path, headers, check, concurrency=4, requests=args.warmup, seconds=30)
    results = {}
    for concurrency, requests in ((1, args.requests // 4), (16, args.requests)):
        for name, (path, headers, check) in targets.items():
            results[f"{name} {concurrency}"] = await load(
                url,
                path,
                headers,
                check,
                concurrency=concurrency,
                requests=requests,
                seconds=args.seconds,
            )
    return results


def report(results: dict[str, Load]) -> None:
    print(
        f"tav serve, SQLite, 10 nodes (trigger + {NOOPS} core.noop + core.output), "
        f"the client on the same {os.cpu_count()}-core machine"
    )
    for concurrency in (1, 16):
        for name, what in (
            ("webhook", "POST /webhook/bench (when_done)"),
            ("api", "POST /api/v1/workflows/{id}/run?wait=true"),
        ):
            result = results[f"{name} {concurrency}"]
            print(
                f"  concurrency {concurrency:>2}  {what:<42} {result.per_second:7.1f} req/s   "
                f"p50 {result.percentile(50):6.1f} ms   p99 {result.percentile(99):6.1f} ms   "
                f"({result.runs} in {result.seconds:.1f} s)"
            )
        ratio = (
            results[f"webhook {concurrency}"].per_second / results[f"api {concurrency}"].per_second
        )
        print(f"  concurrency {concurrency:>2}  webhook / API throughput: x{ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    args = parser.parse_args()
    args.requests, args.seconds, args.warmup = (400, 5.0, 50) if args.quick else (4000, 20.0, 200)
    compile_bytecode()
    data_dir = Path(tempfile.mkdtemp(prefix="tav-bench-webhook-"))
    server = TavServer(data_dir)
    try:
        server.start()
        key = server.create_api_key()
        results = asyncio.run(measure(server.url, key, args))
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    report(results)


if __name__ == "__main__":
    main()
