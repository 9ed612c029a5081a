"""Pools and a credential's limits across real workers: two ``tav worker`` processes count
in one PostgreSQL database, so a pool limit of 2 means 2 at once for the deployment; a
worker SIGKILLed while it holds a slot gives it back within its lease."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests.fakes.llm import FakeProviders, Reply
from tests.helpers import document, node
from tests.integration.queue.cluster import Cluster
from tests.integration.test_durability import finished, until


class Gauge:
    """A local HTTP server that counts the requests it serves at once. ``/hold?s=N``
    answers after N seconds; the first request of ``/hold?s=N&once=1`` waits N seconds,
    later ones answer at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0
        self.arrivals: list[tuple[float, str]] = []
        self.served: list[tuple[float, float]] = []
        """When each request that was answered arrived and was answered."""
        gauge = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlparse(self.path).query)
                pause = float(query["s"][0])
                arrived = time.monotonic()
                with gauge.lock:
                    first = not any(path == self.path for _, path in gauge.arrivals)
                    gauge.arrivals.append((arrived, self.path))
                    gauge.now += 1
                    gauge.peak = max(gauge.peak, gauge.now)
                try:
                    if first or "once" not in query:
                        time.sleep(pause)
                finally:
                    with gauge.lock:
                        gauge.now -= 1
                        gauge.served.append((arrived, time.monotonic()))
                body = json.dumps({"ok": True}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    def after(self, moment: float) -> list[float]:
        with self.lock:
            return [at - moment for at, _ in self.arrivals if at > moment]

    def peak_after(self, moment: float) -> int:
        """The most requests answered at once among those that arrived after ``moment``."""
        with self.lock:
            spans = [(a, d) for a, d in self.served if a > moment]
        return max((sum(1 for a, d in spans if a <= at < d) for at, _ in spans), default=0)


@pytest.fixture
def gauge() -> Iterator[Gauge]:
    made = Gauge()
    made.thread.start()
    yield made
    made.http.shutdown()
    made.http.server_close()


def holding(url: str) -> dict[str, Any]:
    """A node in pool ``ext`` that holds its slot while ``url`` answers."""
    return document(
        node("start", "trigger.manual"),
        node("call", "core.http_request", params={"url": url}, pool="ext"),
        links=("start -> call",),
    )


async def start(client: httpx.AsyncClient, workflow_id: str, **input: Any) -> str:
    response = await client.post(f"/api/v1/workflows/{workflow_id}/run", json={"input": input})
    assert response.status_code == 202, response.text
    return str(response.json()["execution_id"])


async def test_a_pool_limit_holds_across_two_workers(cluster: Cluster, gauge: Gauge):
    pools = {"TAV_POOLS": '{"ext": 2}'}
    workflow_id = await cluster.store_workflow(holding(f"{gauge.url}/hold?s=1"))
    await cluster.worker(concurrency=4, **pools)  # six runs: two at least on each
    await cluster.worker(concurrency=4, **pools)
    _, client = await cluster.serve(**pools)
    began = time.monotonic()
    async with client:
        ids = [await start(client, workflow_id) for _ in range(6)]
        bodies = [await until(client, i, finished, within_s=60) for i in ids]
    assert [b["status"] for b in bodies] == ["succeeded"] * 6, bodies
    assert gauge.peak == 2, gauge.arrivals
    assert time.monotonic() - began >= 3  # six seconds of requests, two at a time
    workers = {await cluster.column(i, "worker") for i in ids}
    assert len(workers) == 2, workers  # both workers ran some: the limit held across them


async def test_a_slot_held_by_a_sigkilled_worker_comes_back_within_the_lease(
    cluster: Cluster, gauge: Gauge
):
    pools = {"TAV_POOLS": '{"ext": 1}'}
    lease_s = float(cluster.env["TAV_QUEUE_LEASE_S"])
    held = await cluster.store_workflow(holding(f"{gauge.url}/hold?s=60&once=1"))
    quick = await cluster.store_workflow(holding(f"{gauge.url}/hold?s=0.1"))
    first = await cluster.worker(**pools)
    _, client = await cluster.serve(**pools)
    async with client:
        holder = await start(client, held)
        for _ in range(200):  # the first worker holds the one slot of ext
            if gauge.arrivals:
                break
            await asyncio.sleep(0.05)
        assert len(gauge.arrivals) == 1
        await cluster.worker(**pools)
        first.signal(signal.SIGKILL)
        killed_at = time.monotonic()
        await first.wait(10)
        waiting = await start(client, quick)
        body = await until(client, waiting, finished, within_s=60)
        resumed = await until(client, holder, finished, within_s=60)
    assert (body["status"], resumed["status"]) == ("succeeded", "succeeded")
    after = gauge.after(killed_at)
    # Nothing got the slot while the dead worker's place lived; it came back within the
    # lease (renewed every third of it until the kill), and the slot was used again.
    assert lease_s / 3 < after[0] < lease_s + 1.5, after
    # (The dead worker's request is still open at the server: it never hung up.)
    assert gauge.peak_after(killed_at) == 1, gauge.served


@pytest.mark.xfail(
    strict=False,
    reason="under a loaded test run a call may wait past the minute (the SDK trying again "
    "while the credential's one place is held): to be found; it passes alone",
)
async def test_a_credential_s_max_concurrent_holds_across_two_workers(cluster: Cluster):
    with FakeProviders() as fake:
        limits = {"TAV_AI_MAX_CONCURRENT": "1"}
        await cluster.worker(concurrency=2, **limits)  # four runs: two each
        await cluster.worker(concurrency=2, **limits)
        _, client = await cluster.serve(**limits)
        async with client:
            credential = await _openai(client, fake)
            models = [{"credential": credential, "model": "m"}]
            flow = document(
                node("start", "trigger.manual"),
                node("chat", "ai.llm_chat", params={"prompt": "{{ trigger.q }}", "models": models}),
                links=("start -> chat",),
            )
            workflow_id = await cluster.store_workflow(flow)
            fake.reply("openai", *[Reply(text=f"a{i}", delay_s=0.5) for i in range(4)])
            ids = [await start(client, workflow_id, q=f"question {i}") for i in range(4)]
            bodies = [await until(client, i, finished, within_s=60) for i in ids]
        assert [b["status"] for b in bodies] == ["succeeded"] * 4, bodies
        # (at least four: the SDK tries a request again when a busy machine drops its
        # connection; the limit is what counts)
        assert len(fake.requests_to("openai")) >= 4
        assert fake.max_in_flight["openai"] == 1
    workers = {await cluster.column(i, "worker") for i in ids}
    assert len(workers) == 2, workers


async def _openai(client: httpx.AsyncClient, fake: FakeProviders) -> str:
    body = {
        "name": "Fake OpenAI",
        "kind": "openai",
        "data": {"api_key": "sk-shared-limits", "base_url": fake.url("openai")},
    }
    response = await client.post("/api/v1/credentials", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])
