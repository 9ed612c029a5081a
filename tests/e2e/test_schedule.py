"""The schedule trigger's form: typing a cron expression shows its next fire times in the
schedule's time zone, or what is wrong with it (a Quartz expression, with its equivalent)."""

from __future__ import annotations

import re

from tests.e2e.conftest import require_browser, screenshot

require_browser()

from playwright.sync_api import expect  # noqa: E402

from tests.e2e.helpers import create_workflow, open_workflow  # noqa: E402

FIRE_TIME = re.compile(r"^(Mon|Tue|Wed|Thu|Fri) \d{1,2} \w{3} \d{4}, 09:30 · in ")


def test_the_cron_field_previews_the_next_fire_times(page) -> None:
    workflow_id = create_workflow(
        page,
        {
            "schema": 1,
            "name": "Mornings",
            "nodes": [
                {
                    "id": "tick",
                    "type": "trigger.schedule",
                    "params": {"cron": "0 9 * * *", "timezone": "Asia/Tokyo"},
                },
                {"id": "out", "type": "core.output"},
            ],
            "edges": [{"from": "tick", "to": "out"}],
        },
    )
    open_workflow(page, workflow_id)
    page.get_by_test_id("node-tick").click()
    cron = page.get_by_role("textbox", name="Cron")
    preview = page.get_by_test_id("cron-preview")
    expect(preview).to_contain_text("Next runs (Asia/Tokyo):")
    field = page.locator('[data-field="cron"]')
    expect(field).to_contain_text("A sixth field counts seconds and comes last")

    cron.fill("30 9 * * mon-fri")
    times = preview.locator("li")
    expect(times.first).to_have_text(FIRE_TIME)  # once the preview has caught up
    expect(times).to_have_count(5)
    for text in times.all_inner_texts():
        assert FIRE_TIME.match(text), text
    expect(preview).to_contain_text("minute · hour · day of month · month · day of week")
    screenshot(page, "schedule-preview")

    cron.fill("0 30 9 ? * MON-FRI")  # Quartz: seconds first
    quartz = "written for Quartz, it is '30 9 * * MON-FRI' here"
    expect(field.locator(".field-error", has_text=quartz)).to_have_count(1)  # said once
    expect(field).to_contain_text("not first as in Quartz")
    expect(times).to_have_count(0)

    cron.fill("0 */5 * * * *")  # valid, but every second of every fifth hour
    expect(preview.locator(".field-warning")).to_contain_text("write '*/5 * * * *'")
    expect(preview).to_contain_text("day of week · second")
