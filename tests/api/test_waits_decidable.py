"""``GET /api/v1/executions?decidable=me``: the waiting executions with a wait the caller
may decide now and has not approved already, filtered by the server, paged and counted."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tav.app.server import Server
from tav.core.roles import Role
from tests.api.helpers import parked, stored
from tests.api.team import Member, as_key
from tests.api.test_waits import approval
from tests.helpers import document, node


async def decidable(who: httpx.AsyncClient, **params: object) -> tuple[list[str], int]:
    response = await who.get("/api/v1/executions", params={"decidable": "me", **params})
    assert response.status_code == 200, response.text
    body = response.json()
    return [item["execution_id"] for item in body["items"]], body["total"]


async def test_each_member_lists_what_they_may_decide_now(
    app: FastAPI, server: Server, team: dict[Role, Member]
) -> None:
    named = approval(approvers=["viewer@example.com"], approver_roles=["admin"], approvals=2)
    timer = document(
        node("start", "trigger.manual"),
        node("pause", "core.wait", params={"mode": "timer", "duration": "1h"}),
        links=("start -> pause",),
    )
    async with (
        as_key(app, team[Role.editor].key) as editor,
        as_key(app, team[Role.viewer].key) as viewer,
        as_key(app, team[Role.admin].key) as admin,
    ):
        named_id = (await parked(editor, await stored(server, named)))["execution_id"]
        timer_id = (await parked(editor, await stored(server, timer)))["execution_id"]
        anyone_id = (await parked(editor, await stored(server, approval())))["execution_id"]
        ended = await editor.post(
            f"/api/v1/workflows/{await stored(server, document(node('s', 'trigger.manual')))}"
            "/run?wait=true",
            json={},
        )
        assert ended.json()["status"] == "succeeded"

        assert await decidable(viewer) == ([named_id], 1)  # named; no timer, no unnamed
        assert sorted((await decidable(editor))[0]) == sorted([anyone_id, timer_id])
        assert sorted((await decidable(admin))[0]) == sorted([anyone_id, timer_id, named_id])
        page, total = await decidable(admin, limit=1)
        assert (len(page), total) == (1, 3)
        # Approved by the viewer, it needs another person: no longer the viewer's to decide.
        path = f"/api/v1/executions/{named_id}/waits/ask"
        body = {"decision": "approve", "data": {"amount": 5}}
        assert (await viewer.post(path, json=body)).status_code == 200
        assert await decidable(viewer) == ([], 0)
        assert named_id in (await decidable(admin))[0]
        everything = await viewer.get("/api/v1/executions", params={"status": "waiting"})
        assert everything.json()["total"] == 3  # (without the filter: every waiting one)
