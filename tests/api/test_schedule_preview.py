"""The next fire times of a schedule (what the editor shows under a cron field): in the
schedule's time zone, as the schedule fires; a clear 422 for what is wrong, saying where,
and a word about six-field expressions written Quartz-style (seconds first)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

URL = "/api/v1/nodes/trigger.schedule/preview"


async def preview(client: httpx.AsyncClient, **params: Any) -> httpx.Response:
    return await client.get(URL, params=params)


async def test_the_next_fire_times_of_a_cron_in_its_time_zone(client):
    response = await preview(client, cron="0 9 * * mon-fri", timezone="Europe/Paris", count=3)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["timezone"] == "Europe/Paris"
    assert body["fields"] == ["minute", "hour", "day of month", "month", "day of week"]
    assert body["warning"] is None
    times = [datetime.fromisoformat(t) for t in body["next"]]
    assert len(times) == 3
    assert times == sorted(times)
    now = datetime.now(ZoneInfo("Europe/Paris"))
    for moment in times:
        local = moment.astimezone(ZoneInfo("Europe/Paris"))
        assert moment.utcoffset() == local.utcoffset()  # given in the schedule's zone
        assert (local.hour, local.minute, local.second) == (9, 0, 0)
        assert local.weekday() < 5
        assert now < moment < now + timedelta(days=6)


async def test_six_fields_put_the_seconds_last(client):
    body = (await preview(client, cron="*/15 * * * * 30", count=4)).json()

    assert body["fields"][-1] == "second"
    times = [datetime.fromisoformat(t) for t in body["next"]]
    assert {(t.minute % 15, t.second) for t in times} == {(0, 30)}
    assert body["warning"] is None


async def test_an_interval_previews_too(client):
    body = (await preview(client, interval_s=3600, count=2)).json()

    first, second = (datetime.fromisoformat(t) for t in body["next"])
    assert second - first == timedelta(hours=1)
    assert (first.minute, first.second) == (0, 0)
    assert body["fields"] == []


async def test_an_invalid_cron_is_a_422_on_the_cron(client):
    response = await preview(client, cron="61 * * * *")

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "request_invalid"
    (problem,) = error["details"]
    assert problem["location"] == "query.cron"
    assert problem["message"] == (
        "'61 * * * *' is not a valid cron expression (minute hour day-of-month month day-of-week)"
    )


async def test_a_quartz_expression_is_refused_with_its_equivalent(client):
    response = await preview(client, cron="0 0 9 ? * MON-FRI")

    assert response.status_code == 422
    (problem,) = response.json()["error"]["details"]
    assert problem["location"] == "query.cron"
    assert "seconds last" in problem["message"]
    assert "not first as in Quartz" in problem["message"]
    assert problem["message"].endswith("written for Quartz, it is '0 9 * * MON-FRI' here")


async def test_a_valid_expression_that_reads_like_quartz_gets_a_warning(client):
    """Quartz's every five minutes: here, every second of every fifth hour."""
    body = (await preview(client, cron="0 */5 * * * *", count=2)).json()

    first, second = (datetime.fromisoformat(t) for t in body["next"])
    assert second - first == timedelta(seconds=1)
    assert "fires every second of each minute it matches" in body["warning"]
    assert body["warning"].endswith("write '*/5 * * * *'")


async def test_an_unknown_time_zone_is_a_422_on_the_time_zone(client):
    response = await preview(client, cron="0 9 * * *", timezone="Mars/Olympus_Mons")

    assert response.status_code == 422
    (problem,) = response.json()["error"]["details"]
    assert problem["location"] == "query.timezone"
    assert problem["message"].startswith("unknown time zone 'Mars/Olympus_Mons'")


async def test_neither_cron_nor_interval_is_a_422(client):
    response = await preview(client, timezone="UTC")

    assert response.status_code == 422
    (problem,) = response.json()["error"]["details"]
    assert "give either cron or interval_s" in problem["message"]


async def test_the_preview_needs_a_signed_in_user(anonymous):
    response = await anonymous.get(URL, params={"cron": "* * * * *"})

    assert response.status_code == 401
