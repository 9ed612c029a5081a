"""Activation, media outputs and file inputs in the editor: a webhook workflow switched on
and off (its URL in the node panel), refusals shown to the user, an export and an image in
the output inspector, and a file attached in the run dialog read by the workflow."""

from __future__ import annotations

import base64
import itertools
import re
import struct
import zlib
from typing import Any

from tests.e2e.conftest import require_browser, screenshot

require_browser()

from playwright.sync_api import Page, expect  # noqa: E402

from tests.e2e.helpers import create_workflow, open_workflow  # noqa: E402


def gradient_png(size: int = 96) -> str:
    """A ``size`` x ``size`` RGB gradient as a PNG, in base64."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\0" + bytes(c for x in range(size) for c in (x * 255 // size, y * 255 // size, 200))
        for y in range(size)
    )
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
    png += chunk(b"IEND", b"")
    return base64.b64encode(png).decode()


PICTURE = gradient_png()


def chain(name: str, *nodes: dict[str, Any]) -> dict[str, Any]:
    """A workflow of ``nodes`` connected one after the other, left to right."""
    return {
        "schema": 1,
        "name": name,
        "nodes": list(nodes),
        "edges": [{"from": a["id"], "to": b["id"]} for a, b in itertools.pairwise(nodes)],
        "ui": {"positions": {node["id"]: [i * 280, 0] for i, node in enumerate(nodes)}},
    }


def webhook(name: str, path: str) -> dict[str, Any]:
    return chain(
        name,
        {"id": "hook", "type": "trigger.webhook", "params": {"path": path}},
        {"id": "done", "type": "core.noop"},
    )


def is_active(page: Page, workflow_id: str) -> bool:
    return bool(page.context.request.get(f"/api/v1/workflows/{workflow_id}").json()["active"])


def run_in_editor(page: Page) -> None:
    page.get_by_role("button", name="▶ Run").click()
    page.get_by_role("dialog").get_by_role("button", name=re.compile("^Run")).click()
    expect(page.get_by_test_id("runbar")).to_contain_text("succeeded")


def test_a_webhook_workflow_is_switched_on_and_off_and_refusals_are_shown(page) -> None:
    orders = create_workflow(page, webhook("Orders hook", "orders-e2e"))
    rival = create_workflow(page, webhook("Rival hook", "orders-e2e"))
    manual = create_workflow(page, chain("By hand", {"id": "start", "type": "trigger.manual"}))

    # The list: on, then off.
    page.reload()
    row = page.get_by_test_id("workflow-row").filter(has_text="Orders hook")
    switch = row.get_by_role("switch")
    expect(switch).not_to_be_checked()
    switch.click()
    expect(switch).to_be_checked()
    assert is_active(page, orders)
    assert page.context.request.post("/webhook/orders-e2e", data={}).status == 202
    screenshot(page, "workflows-active")

    # Another workflow on the same webhook is refused, naming the one that holds it.
    rival_switch = (
        page.get_by_test_id("workflow-row").filter(has_text="Rival hook").get_by_role("switch")
    )
    rival_switch.click()
    expect(page.get_by_role("alert")).to_contain_text(
        "POST /webhook/orders-e2e is already taken by the active workflow “Orders hook”"
    )
    expect(rival_switch).not_to_be_checked()
    assert not is_active(page, rival)

    switch.click()
    expect(switch).not_to_be_checked()
    assert not is_active(page, orders)
    assert page.context.request.post("/webhook/orders-e2e", data={}).status == 404

    # The editor: the webhook's URL with a copy button, and the Active switch.
    open_workflow(page, orders)
    page.get_by_test_id("node-hook").click()
    url = page.get_by_label("Webhook URL")
    expect(url).to_have_value(re.compile(r"^http://127\.0\.0\.1:\d+/webhook/orders-e2e$"))
    expect(page.get_by_test_id("webhook-url").get_by_role("button", name="Copy")).to_be_visible()
    active = page.locator("header.topbar").get_by_role("switch", name="Active")
    active.click()
    expect(active).to_be_checked()
    expect(page.get_by_test_id("webhook-url")).to_contain_text("the workflow is active")
    assert is_active(page, orders)
    screenshot(page, "webhook-url")
    active.click()
    expect(active).not_to_be_checked()
    assert not is_active(page, orders)

    # A workflow with only a manual trigger cannot be activated: the user is told why.
    open_workflow(page, manual)
    active = page.locator("header.topbar").get_by_role("switch", name="Active")
    active.click()
    expect(page.get_by_test_id("activation-error")).to_contain_text(
        "Not activated: the workflow has no trigger to activate"
    )
    expect(active).not_to_be_checked()
    assert not is_active(page, manual)


def test_an_export_and_an_image_are_shown_as_media_in_the_inspector(page) -> None:
    image = {"media": "v1", "kind": "image", "mime_type": "image/png", "data": PICTURE}
    workflow_id = create_workflow(
        page,
        chain(
            "Media outputs",
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "report",
                "type": "export.csv",
                "params": {"data": [{"item": "tea", "qty": 2}], "filename": "orders.csv"},
            },
            {
                "id": "pictures",
                "type": "core.set",
                "params": {
                    "values": {
                        "subject": "Gradient",
                        "report": "{{ input }}",
                        "attachments": [{**image, "name": "gradient.png", "size": 1234}],
                    }
                },
            },
        ),
    )
    open_workflow(page, workflow_id)
    run_in_editor(page)

    page.get_by_test_id("node-report").click()
    page.get_by_role("tab", name="Output").click()
    media = page.get_by_test_id("media")
    expect(media).to_have_count(1)
    expect(media).to_contain_text("orders.csv")
    expect(media).to_contain_text("text/csv")
    download = media.get_by_test_id("media-download")
    href = download.get_attribute("href")
    assert href
    assert re.fullmatch(r"/api/v1/files/[0-9a-f]{32}/content", href), href
    with page.expect_download() as info:
        download.click()
    assert info.value.suggested_filename == "orders.csv"
    assert "tea" in page.context.request.get(href).text()
    # The raw value is one click away.
    media.get_by_role("button", name="JSON").click()
    expect(media).to_contain_text('"v1"')

    page.get_by_test_id("node-pictures").click()
    page.get_by_role("tab", name="Output").click()
    # Media inside objects and lists: the export passed on, and an image in a list.
    output = page.get_by_test_id("node-io-output")
    expect(output.get_by_test_id("media")).to_have_count(2)
    expect(output.get_by_test_id("media").first).to_contain_text("orders.csv")
    picture = output.get_by_test_id("media").nth(1)
    expect(picture).to_have_attribute("data-kind", "image")
    img = picture.locator("img.media-image")
    expect(img).to_have_attribute("src", f"data:image/png;base64,{PICTURE}")
    loaded = "img => img.complete && img.naturalWidth === 96"
    page.wait_for_function(loaded, arg=img.element_handle())
    expect(output).to_contain_text('"Gradient"')
    screenshot(page, "media-output")


def test_a_file_attached_in_the_run_dialog_reaches_the_workflow(page) -> None:
    workflow_id = create_workflow(
        page,
        chain(
            "Read an upload",
            {"id": "start", "type": "trigger.manual"},
            {"id": "read", "type": "file.read", "params": {"file": "{{ trigger.doc }}"}},
        ),
    )
    open_workflow(page, workflow_id)
    page.get_by_role("button", name="▶ Run").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Run input").fill('{"note": "kept"}')
    dialog.get_by_label("Input key for the file").fill("doc")
    dialog.get_by_label("File to attach").set_input_files(
        files=[{"name": "stock.csv", "mimeType": "text/csv", "buffer": b"item,qty\nteapot,3\n"}]
    )
    expect(dialog.get_by_test_id("attached")).to_contain_text("stock.csv")
    expect(dialog.get_by_label("Run input")).to_have_value(re.compile(r'"doc": \{\s*"media": "v1"'))
    expect(dialog.get_by_label("Run input")).to_have_value(re.compile(r'"note": "kept"'))
    screenshot(page, "run-attach-file")
    dialog.get_by_role("button", name=re.compile("^Run")).click()
    expect(page.get_by_test_id("runbar")).to_contain_text("succeeded")

    page.get_by_test_id("node-read").click()
    page.get_by_role("tab", name="Output").click()
    output = page.get_by_test_id("node-output")
    expect(output).to_contain_text('"teapot"')
    expect(output).to_contain_text('"3"')
