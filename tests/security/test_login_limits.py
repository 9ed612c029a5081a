"""Sign-in under attack: throttled per account and per client address, the same time for
emails that exist and emails that do not, and password hashing kept off the event loop."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tav.api.app import create_app
from tav.app.server import Server
from tav.settings import Settings
from tav.storage import auth as auth_storage

OWNER = {"email": "owner@example.com", "password": "correct horse"}
WRONG = {**OWNER, "password": "wrong horse"}
NOBODY = {"email": "nobody@example.com", "password": "wrong horse"}
LOGIN = "/api/v1/auth/login"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        retention_max_age_days=None,
        retention_max_count=None,
        login_max_failures=1000,
        login_max_failures_per_address=1000,
    )


@pytest.fixture
async def owned(server: Server) -> Server:
    await server.parts.auth.create_owner(OWNER["email"], OWNER["password"])
    return server


def app_with(server: Server, **changes: object) -> FastAPI:
    server.settings = server.settings.model_copy(update=changes)
    return create_app(server.settings, server=server)


def client_for(app: FastAPI, address: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://localhost")


def assert_locked(response: httpx.Response, most_s: float) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "too_many_attempts"
    assert 0 < int(response.headers["Retry-After"]) <= most_s


async def test_an_account_is_locked_after_its_failures_whoever_tries(owned: Server) -> None:
    app = app_with(owned, login_max_failures=3)
    async with client_for(app, "192.0.2.1") as one, client_for(app, "192.0.2.2") as other:
        for _ in range(3):
            assert (await one.post(LOGIN, json=WRONG)).status_code == 401
        assert_locked(await one.post(LOGIN, json=WRONG), 900)
        assert_locked(await one.post(LOGIN, json=OWNER), 900)  # even the right password
        assert_locked(await other.post(LOGIN, json=OWNER), 900)  # from anywhere
        # Another account from the same address is not locked.
        assert (await one.post(LOGIN, json=NOBODY)).status_code == 401


async def test_an_address_is_locked_after_its_failures_whichever_account(owned: Server) -> None:
    app = app_with(owned, login_max_failures_per_address=4)
    async with client_for(app, "192.0.2.1") as attacker, client_for(app, "192.0.2.2") as owner:
        for number in range(4):
            guess = {"email": f"user{number}@example.com", "password": "wrong horse"}
            assert (await attacker.post(LOGIN, json=guess)).status_code == 401
        assert_locked(await attacker.post(LOGIN, json=OWNER), 900)
        assert (await owner.post(LOGIN, json=OWNER)).status_code == 200


async def test_ipv6_clients_count_by_their_64_network(owned: Server) -> None:
    app = app_with(owned, login_max_failures_per_address=3)
    for number in range(3):
        async with client_for(app, f"2001:db8:1:2::{number + 1}") as client:
            assert (await client.post(LOGIN, json=WRONG)).status_code == 401
    async with client_for(app, "2001:db8:1:2::99") as same_network:
        assert_locked(await same_network.post(LOGIN, json=OWNER), 900)
    async with client_for(app, "2001:db8:1:3::1") as other_network:
        assert (await other_network.post(LOGIN, json=OWNER)).status_code == 200


async def test_emails_nobody_has_are_locked_like_real_ones(owned: Server) -> None:
    app = app_with(owned, login_max_failures=2)
    async with client_for(app) as client:
        for attempt in (WRONG, NOBODY):
            answers = [(await client.post(LOGIN, json=attempt)).status_code for _ in range(3)]
            assert answers == [401, 401, 429]


async def test_the_lockout_expires(owned: Server) -> None:
    app = app_with(owned, login_max_failures=2, login_lockout_s=0.3)
    async with client_for(app) as client:
        for _ in range(2):
            assert (await client.post(LOGIN, json=WRONG)).status_code == 401
        assert_locked(await client.post(LOGIN, json=OWNER), 1)
        await asyncio.sleep(0.35)
        assert (await client.post(LOGIN, json=OWNER)).status_code == 200


async def test_signing_in_forgets_the_accounts_failures(owned: Server) -> None:
    app = app_with(owned, login_max_failures=3)
    async with client_for(app) as client:
        for _ in range(2):
            assert (await client.post(LOGIN, json=WRONG)).status_code == 401
        assert (await client.post(LOGIN, json=OWNER)).status_code == 200
        for _ in range(2):
            assert (await client.post(LOGIN, json=WRONG)).status_code == 401


async def test_attempts_sent_at_once_count_before_they_fail(owned: Server) -> None:
    app = app_with(owned, login_max_failures_per_address=5)
    async with client_for(app, "192.0.2.1") as client:
        answers = await asyncio.gather(*(client.post(LOGIN, json=WRONG) for _ in range(30)))
    codes = sorted(answer.status_code for answer in answers)
    assert codes.count(401) <= 5
    assert codes.count(429) >= 25


async def test_a_login_takes_as_long_for_an_unknown_email_as_for_a_known_one(
    owned: Server,
) -> None:
    app = app_with(owned)
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    async with client_for(app) as client:
        await client.post(LOGIN, json=NOBODY)  # warm up
        for _ in range(7):
            for name, attempt in (("known", WRONG), ("unknown", NOBODY)):
                start = time.perf_counter()
                assert (await client.post(LOGIN, json=attempt)).status_code == 401
                times[name].append(time.perf_counter() - start)
    known, unknown = statistics.median(times["known"]), statistics.median(times["unknown"])
    assert max(known, unknown) / min(known, unknown) < 3, times


async def test_password_hashing_runs_off_the_event_loop_a_few_at_a_time(
    owned: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_thread = threading.get_ident()
    running, most, threads = 0, 0, set()
    lock = threading.Lock()

    def watched(verify: Callable[[str, str], bool]) -> Callable[[str, str], bool]:
        def verify_password(password: str, stored: str) -> bool:
            nonlocal running, most
            with lock:
                running += 1
                most = max(most, running)
                threads.add(threading.get_ident())
            try:
                return verify(password, stored)
            finally:
                with lock:
                    running -= 1

        return verify_password

    monkeypatch.setattr(auth_storage, "verify_password", watched(auth_storage.verify_password))
    app = app_with(owned)
    async with client_for(app) as client:
        answers = await asyncio.gather(*(client.post(LOGIN, json=WRONG) for _ in range(10)))
    assert all(answer.status_code == 401 for answer in answers)
    assert loop_thread not in threads
    assert most == owned.settings.password_hash_concurrency == 2


async def test_logins_in_parallel_leave_other_requests_fast(owned: Server) -> None:
    app = app_with(owned)
    async with client_for(app) as client:

        async def status_times(until: asyncio.Future[Any] | None, count: int) -> list[float]:
            found: list[float] = []
            while (until is None and len(found) < count) or (until and not until.done()):
                start = time.perf_counter()
                assert (await client.get("/api/v1/auth/status")).status_code == 200
                found.append(time.perf_counter() - start)
            return found

        idle = statistics.median(await status_times(None, 20))
        logins = asyncio.gather(*(client.post(LOGIN, json=WRONG) for _ in range(8)))
        busy = await status_times(logins, 0)
        await logins
    started = time.perf_counter()
    auth_storage.verify_password("x", auth_storage.hash_password("y"))
    one_hash = (time.perf_counter() - started) / 2
    during = statistics.median(busy)
    # Before, each status request waited for a whole password hash on the event loop.
    assert during < max(one_hash / 3, 4 * idle), (during, idle, one_hash, len(busy))
