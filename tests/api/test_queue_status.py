"""``GET /api/v1/queue`` in a single process: no queue, nothing waiting, this process
leads the triggers, for any role; queue mode's own answers are checked with real workers
in tests/integration/queue."""

from __future__ import annotations

import httpx

from tav.api.app import create_app
from tav.app.server import Server
from tav.core.roles import Role
from tests.api.team import as_key, make_team


async def test_a_viewer_sees_that_one_process_runs_everything(server: Server):
    team = await make_team(server)
    app = create_app(server.settings, server=server)
    async with as_key(app, team[Role.viewer].key) as client:
        answer = await client.get("/api/v1/queue")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as anonymous:
        refused = await anonymous.get("/api/v1/queue")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "mode": "embedded",
        "broker_up": None,
        "queued": 0,
        "running": 0,
        "unpublished": 0,
        "oldest_queued_age_s": None,
        "workers": [],
        "trigger_leader": server.parts.triggers.name,
        "leads_triggers": True,
    }
    assert refused.status_code == 401
