"""The editor in queue mode: a ``tav serve`` over PostgreSQL and a Redis of the module's
own, and a ``tav worker`` started and stopped by the test. The execution lists show what
waits for a worker (queued) and the worker that ran each execution."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import PG_ADMIN_URL
from tests.e2e.conftest import require_browser, screenshot, serve

require_browser()

from playwright.sync_api import expect  # noqa: E402

from tests.e2e.helpers import create_workflow, open_workflow, run_over_api, same_origin  # noqa: E402
from tests.integration.queue.cluster import Redis  # noqa: E402

QUICK = {
    "schema": 1,
    "name": "Queued",
    "nodes": [
        {"id": "start", "type": "trigger.manual"},
        {"id": "greet", "type": "core.set", "params": {"values": {"text": "hello"}}},
    ],
    "edges": [{"from": "start", "to": "greet"}],
    "ui": {"positions": {"start": [0, 0], "greet": [280, 0]}},
}


def admin(sql: str) -> None:
    """Run ``sql`` as PostgreSQL's admin (on a thread of its own: Playwright's sync API
    keeps an event loop running on this one)."""

    async def execute() -> None:
        connection = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, execute()).result()


class Worker:
    """``tav worker`` with the server's settings, started and stopped at will."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log.write_text("")
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tav", "worker", "--concurrency", "2"],
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while " ready." not in self.log.read_text(errors="replace"):
            assert self.process.poll() is None, self.log.read_text(errors="replace")
            assert time.monotonic() < deadline, "tav worker did not start within 30 s"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def queue_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The ``TAV_*`` settings of a queue-mode deployment with a database and a broker of
    its own."""
    name = f"tav_e2e_{uuid.uuid4().hex[:12]}"
    admin(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    broker = Redis(tmp_path_factory.mktemp("redis") / "redis.log")
    broker.start()
    try:
        yield {
            "TAV_DATABASE_URL": f"{base}/{name}",
            "TAV_QUEUE_URL": broker.url,
            "TAV_QUEUE_SWEEP_S": "0.5",
            "TAV_SHUTDOWN_TIMEOUT_S": "2",
        }
    finally:
        broker.kill()
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def base_url(queue_env: dict[str, str], data_dir: Path) -> Iterator[str]:
    """The editor's server, in queue mode (the fixtures signing in use it)."""
    with serve(data_dir, **queue_env) as url:
        yield url


@pytest.fixture
def worker(queue_env: dict[str, str], data_dir: Path, base_url: str) -> Iterator[Worker]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAV_")}
    env.update(queue_env, TAV_DATA_DIR=str(data_dir), TAV_LOG_LEVEL="INFO")
    made = Worker(env, data_dir / "worker.log")
    yield made
    made.stop()


def test_the_execution_lists_show_what_waits_for_a_worker_and_who_ran_each(
    page, worker: Worker
) -> None:
    workflow_id = create_workflow(page, QUICK)
    worker.start()
    ran = run_over_api(page, workflow_id, {"input": {}})
    assert ran["status"] == "succeeded", ran
    assert ran["worker"], ran
    worker.stop()  # from here on, what is run waits in the queue
    response = page.context.request.post(
        f"/api/v1/workflows/{workflow_id}/run", data={"input": {}}, headers=same_origin(page)
    )
    assert response.status == 202, response.text()
    waiting = response.json()["execution_id"]

    open_workflow(page, workflow_id)
    page.get_by_role("button", name="History").click()
    rows = page.get_by_test_id("execution-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_attribute("data-status", "queued")
    expect(rows.first.get_by_test_id("execution-status")).to_have_text("Queued")
    expect(rows.first.get_by_test_id("execution-worker")).to_have_count(0)  # none yet
    expect(rows.nth(1).get_by_test_id("execution-status")).to_have_text("Succeeded")
    expect(rows.nth(1).get_by_test_id("execution-worker")).to_have_text(f"on {ran['worker']}")
    screenshot(page, "history-queued")

    page.goto("/executions")
    listed = page.get_by_test_id("execution-row")
    expect(listed).to_have_count(2)
    expect(listed.first).to_have_attribute("data-status", "queued")
    expect(listed.first.get_by_test_id("execution-status")).to_have_text("Queued")
    expect(listed.nth(1).get_by_test_id("execution-worker")).to_have_text(f"on {ran['worker']}")
    screenshot(page, "executions-queued")

    # A worker comes: the history, left open, shows the queued one run, and by whom.
    open_workflow(page, workflow_id)
    page.get_by_role("button", name="History").click()
    expect(rows.first).to_have_attribute("data-status", "queued")
    worker.start()
    expect(rows.first).to_have_attribute("data-status", "succeeded", timeout=15_000)
    expect(rows.first.get_by_test_id("execution-worker")).to_contain_text("on ")
    stored = page.context.request.get(f"/api/v1/executions/{waiting}").json()
    assert stored["status"] == "succeeded", stored
    expect(rows.first.get_by_test_id("execution-worker")).to_have_text(f"on {stored['worker']}")
