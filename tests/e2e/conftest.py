"""Browser tests: the built editor in headless Chromium against a real ``tav serve``.

One server (a temp data dir, a free port) and one browser serve each module; every test
gets its own browser context, signed in as the owner. They drive Debian's Chromium
(``/usr/bin/chromium``) through Playwright; there is no browser download. Screenshots of
the main screens go to ``tests/e2e/artifacts/`` (ignored by git), and a test that fails
leaves one of its page as it was then in ``tests/e2e/artifacts/failed/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tav.api.web import WEB_DIR

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
OWNER = {"email": "owner@example.com", "password": "correct horse battery"}


def require_browser() -> None:
    """Skip the calling test module when Chromium is missing (CI installs it) or the
    editor is not built (``make test`` builds it first; on CI a missing build fails)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(
            "Chromium is missing: apt-get install -y chromium (.ci/run installs it)",
            allow_module_level=True,
        )
    if not (WEB_DIR / "index.html").is_file():
        if os.environ.get("CI"):
            raise RuntimeError("the editor is not built: make web")
        pytest.skip("the editor is not built: make web", allow_module_level=True)
    pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A ``tav serve`` process on a free port with a fresh data dir."""
    with serve(tmp_path_factory.mktemp("data")) as url:
        yield url


@contextmanager
def serve(data: Path, **settings: str) -> Iterator[str]:
    """``tav serve`` on a free port with the data dir ``data`` and these ``TAV_*``
    variables; yields its URL."""
    port = _free_port()
    env = {**os.environ, **settings, "TAV_DATA_DIR": str(data), "TAV_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "tav", "serve", "--port", str(port)]
    log = data / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text(errors="replace")
            raise RuntimeError(f"tav serve exited with {process.returncode}:\n{output}")
        try:
            httpx.get(f"{url}/api/v1/auth/status", timeout=1)
        except httpx.TransportError:
            time.sleep(0.1)
        else:
            return
    raise RuntimeError("tav serve did not start within 30 s")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def owner(base_url: str) -> dict[str, str]:
    """The owner account (created over the API unless a test made it through the UI)."""
    if httpx.get(f"{base_url}/api/v1/auth/status").json()["setup_required"]:
        httpx.post(f"{base_url}/api/v1/auth/setup", json=OWNER).raise_for_status()
    return OWNER


REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keeps each phase's report on the test, for ``new_page`` to tell a failure."""
    report = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    return report


@pytest.fixture
def new_page(browser, base_url: str, request: pytest.FixtureRequest) -> Iterator[object]:
    """A page in a context of its own, not signed in; screenshotted if the test fails."""
    context = browser.new_context(
        base_url=base_url, viewport={"width": 1440, "height": 900}, accept_downloads=True
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    call = request.node.stash.get(REPORTS, {}).get("call")
    if call is not None and call.failed and not page.is_closed():
        screenshot(page, f"failed/{request.node.name}")
    context.close()
    assert not errors, f"errors in the page: {errors}"


@pytest.fixture
def page(new_page, owner: dict[str, str]):
    """A page signed in as the owner, on the workflows list."""
    assert new_page.context.request.post("/api/v1/auth/login", data=owner).ok
    new_page.goto("/")
    new_page.get_by_role("heading", name="Workflows").wait_for()
    return new_page


def screenshot(page, name: str) -> None:
    path = ARTIFACTS / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
