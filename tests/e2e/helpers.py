"""What the browser tests do often: create and open workflows, find palette items, drag
edges, import documents, run workflows over the API, open another person's browser and
have them join."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Locator, Page

PASSWORD = "a password of theirs"


def same_origin(page: Page) -> dict[str, str]:
    """The ``Origin`` header the editor's own requests carry: an unsafe request signed in
    by the session cookie needs it (the API request context sends none by itself)."""
    url = urlsplit(page.url)
    assert url.scheme in ("http", "https"), f"open a page of the editor first, not {page.url}"
    return {"Origin": f"{url.scheme}://{url.netloc}"}


def create_workflow(page: Page, document: dict[str, Any]) -> str:
    """Store ``document`` over the API (as the signed-in owner); its id."""
    response = page.context.request.post(
        "/api/v1/workflows", data=document, headers=same_origin(page)
    )
    assert response.ok, response.text()
    return str(response.json()["id"])


def open_workflow(page: Page, workflow_id: str) -> None:
    page.goto(f"/workflows/{workflow_id}")
    page.locator('.canvas[data-ready="true"]').wait_for()


def run_over_api(page: Page, workflow_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Run the workflow to its end over the API; the execution."""
    response = page.context.request.post(
        f"/api/v1/workflows/{workflow_id}/run?wait=true",
        data=body,
        timeout=30_000,
        headers=same_origin(page),
    )
    assert response.ok, response.text()
    execution: dict[str, Any] = response.json()
    return execution


def stored_document(page: Page, workflow_id: str) -> dict[str, Any]:
    document: dict[str, Any] = page.context.request.get(f"/api/v1/workflows/{workflow_id}").json()[
        "document"
    ]
    return document


def palette(page: Page, title: str) -> Locator:
    return page.locator(".palette-item", has_text=title).first


def wait_for_still_view(page: Page, timeout_s: float = 5) -> None:
    """Wait until the canvas stops panning (it pans to show a node just added or selected),
    so that what is measured on it stays where it was measured."""
    viewport = page.locator(".react-flow__viewport")
    deadline = time.monotonic() + timeout_s
    last = viewport.get_attribute("style")
    while True:
        time.sleep(0.1)
        now = viewport.get_attribute("style")
        if now == last:
            return
        assert time.monotonic() < deadline, "the canvas kept moving"
        last = now


def drag_edge(page: Page, source: str, target: str) -> None:
    wait_for_still_view(page)
    start = page.locator(f'[data-testid="node-{source}"] .react-flow__handle.source').first
    end = page.locator(f'[data-testid="node-{target}"] .react-flow__handle.target').first
    a, b = start.bounding_box(), end.bounding_box()
    assert a
    assert b
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=8)
    page.mouse.up()


def import_text(page: Page, text: str) -> None:
    page.get_by_role("button", name="Import…").click()
    page.get_by_label("Workflow document").fill(text)
    page.get_by_role("dialog").get_by_role("button", name="Import").click()


@contextmanager
def other_browser(
    browser: object, base_url: str, width: int = 1440, height: int = 900
) -> Iterator[Page]:
    """A page in a browser context of its own (another person's browser), not signed in;
    an error in the page fails the test."""
    context = browser.new_context(base_url=base_url, viewport={"width": width, "height": height})  # type: ignore[attr-defined]
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"errors in the page: {errors}"


def join(owner: Page, other: Page, email: str, role: str) -> str:
    """``email`` invited over the API by the owner and joined in ``other``'s browser
    (signed in there, with ``PASSWORD``); their user id."""
    created = owner.context.request.post(
        "/api/v1/invites", data={"email": email, "role": role}, headers=same_origin(owner)
    )
    assert created.ok, created.text()
    other.goto("/")
    accepted = other.context.request.post(
        "/api/v1/auth/invite/accept",
        data={"token": created.json()["token"], "password": PASSWORD},
        headers=same_origin(other),
    )
    assert accepted.ok, accepted.text()
    return str(accepted.json()["id"])
