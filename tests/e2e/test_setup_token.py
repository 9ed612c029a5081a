"""The owner account created from a browser the server does not count as on its machine:
the setup screen asks for the token ``tav serve`` printed, says where to find it, and
creates the owner with it. (``TAV_LOCAL_SETUP=false`` stands for a browser on another
machine: this one runs on the server's own.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import OWNER, require_browser, screenshot, serve

require_browser()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def base_url(data_dir: Path) -> Iterator[str]:
    with serve(data_dir, TAV_LOCAL_SETUP="false") as url:
        yield url


def test_the_setup_screen_asks_for_the_printed_token_and_creates_the_owner(
    new_page, data_dir: Path
) -> None:
    token_file = data_dir / "setup-token"
    token = token_file.read_text().strip()
    assert token in (data_dir / "serve.log").read_text()  # printed at start
    assert token_file.stat().st_mode & 0o777 == 0o600

    page = new_page
    page.goto("/")
    page.get_by_role("heading", name="Create the owner account").wait_for()
    help_text = page.get_by_test_id("setup-token-help")
    help_text.get_by_text(str(token_file)).wait_for()
    assert "terminal" in help_text.inner_text()
    screenshot(page, "setup-token")

    page.get_by_label("Email").fill(OWNER["email"])
    page.get_by_label("Password", exact=True).fill(OWNER["password"])
    page.get_by_label("Repeat the password").fill(OWNER["password"])
    page.get_by_label("Setup token").fill("not-the-token")
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("alert").filter(has_text=re.compile("setup token is not right")).wait_for()

    page.get_by_label("Setup token").fill(token)
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="Workflows").wait_for()
    assert not token_file.exists()  # used once
