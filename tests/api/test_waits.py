"""Executions that wait (``core.wait``), over HTTP, on SQLite and PostgreSQL: approvals
decided over the REST API and through their link's form, webhook waits, timers and
timeouts, concurrent decisions, used and expired links, cancelled executions, who may
decide."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from tav.app.server import Server
from tav.app.waits import Waits
from tav.core.events import utcnow
from tav.core.roles import Role
from tav.storage.db import Database
from tav.storage.waits import WaitRepository
from tests.api.helpers import ended, parked, start, stored, until
from tests.api.team import Member, as_key, signed_in
from tests.helpers import document, node

FORM = {
    "type": "object",
    "properties": {
        "amount": {"type": "integer", "title": "Amount", "minimum": 1},
        "reason": {"type": "string", "maxLength": 200},
        "urgent": {"type": "boolean", "default": False},
    },
    "required": ["amount"],
}


LINK_TO_START = "{{ execution.resume_url('start') }}"


def approval(**params: Any) -> dict[str, Any]:
    """trigger -> note (the link, sent ahead) -> ask (approval) -> yes | no | late."""
    wait = {"mode": "approval", "title": "Pay the invoice?", "fields": FORM, **params}
    return document(
        node("start", "trigger.manual"),
        node("note", "core.set", params={"values": {"link": "{{ execution.resume_url('ask') }}"}}),
        node("ask", "core.wait", params=wait),
        node("yes", "core.set", params={"values": {"paid": "{{ input.data.amount }}"}}),
        node("no", "core.set", params={"values": {"why": "{{ input.comment }}"}}),
        node("late", "core.set", params={"values": {"late": "{{ input.data }}"}}),
        links=(
            "start -> note",
            "note -> ask",
            "ask:approved -> yes",
            "ask:rejected -> no",
            "ask:timeout -> late",
        ),
        name="invoice",
    )


def link_of(execution: dict[str, Any]) -> str:
    """The path of the link the workflow computed before it waited."""
    url = execution["nodes"]["note"]["outputs"]["output"]["link"]
    return "/" + url.split("/", 3)[3]


async def done(client: httpx.AsyncClient, execution_id: str) -> dict[str, Any]:
    return await until(client, execution_id, ended, within_s=15)


async def test_an_approval_waits_and_is_listed_with_what_it_waits_for(
    client: httpx.AsyncClient, server: Server
) -> None:
    execution = await parked(client, await stored(server, approval()))
    assert execution["nodes"]["ask"]["status"] == "waiting"
    assert "yes" not in execution["nodes"]
    listed = (await client.get("/api/v1/executions", params={"status": "waiting"})).json()
    assert [item["execution_id"] for item in listed["items"]] == [execution["execution_id"]]
    (wait,) = listed["items"][0]["waits"]
    assert wait["node_id"] == "ask"
    assert wait["mode"] == "approval"
    assert wait["status"] == "open"
    assert wait["title"] == "Pay the invoice?"
    assert wait["fields"] == FORM
    assert wait["anyone_with_link"] is True
    assert link_of(execution).startswith("/resume/")


async def test_approved_over_the_api_the_execution_goes_on_down_approved(
    client: httpx.AsyncClient, server: Server
) -> None:
    execution = await parked(client, await stored(server, approval()))
    execution_id = execution["execution_id"]
    body = {"decision": "approve", "data": {"amount": 120}, "comment": "ok"}
    response = await client.post(f"/api/v1/executions/{execution_id}/waits/ask", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "execution_id": execution_id,
        "node_id": "ask",
        "decided": True,
        "port": "approved",
    }
    finished = await done(client, execution_id)
    assert finished["status"] == "succeeded"
    assert finished["nodes"]["yes"]["outputs"]["output"] == {"paid": 120}
    assert "no" not in finished["nodes"] or finished["nodes"]["no"]["status"] == "skipped"
    approved = finished["nodes"]["ask"]["outputs"]["approved"]
    assert approved["decision"] == "approve"
    assert approved["data"] == {"amount": 120, "urgent": False}
    assert approved["comment"] == "ok"
    assert approved["by"] is None  # (the key of the fixture was made before any account)
    events = [e["type"] for e in (await stored_events(server, execution_id))]
    assert events.count("execution.waiting") == 1
    assert events[-1] == "execution.completed"


async def stored_events(server: Server, execution_id: str) -> list[dict[str, Any]]:
    return await server.parts.executions.events(execution_id)


async def test_rejected_over_the_api_the_execution_goes_on_down_rejected(
    client: httpx.AsyncClient, server: Server
) -> None:
    execution = await parked(client, await stored(server, approval()))
    execution_id = execution["execution_id"]
    body = {"decision": "reject", "comment": "not this month"}
    response = await client.post(f"/api/v1/executions/{execution_id}/waits/ask", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["port"] == "rejected"
    finished = await done(client, execution_id)
    assert finished["status"] == "succeeded"
    assert finished["nodes"]["no"]["outputs"]["output"] == {"why": "not this month"}
    assert finished["nodes"]["yes"]["status"] == "skipped"


async def test_an_answer_that_does_not_fit_the_form_is_refused_naming_the_field(
    client: httpx.AsyncClient, server: Server
) -> None:
    execution = await parked(client, await stored(server, approval()))
    path = f"/api/v1/executions/{execution['execution_id']}/waits/ask"
    body = {"decision": "approve", "data": {"amount": "lots", "colour": "red"}}
    response = await client.post(path, json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "form_invalid"
    assert {"field": "amount", "message": "must be a whole number"} in error["details"]
    assert {"field": "colour", "message": "no such field"} in error["details"]
    missing = await client.post(path, json={"decision": "approve", "data": {}})
    assert missing.status_code == 422
    assert missing.json()["error"]["details"] == [{"field": "amount", "message": "is required"}]
    # Nothing was decided: it still waits, and a good answer decides it.
    assert (await client.get(f"/api/v1/executions/{execution['execution_id']}")).json()[
        "status"
    ] == "waiting"
    good = await client.post(path, json={"decision": "approve", "data": {"amount": 3}})
    assert good.status_code == 200


async def test_the_link_shows_a_form_and_its_post_decides(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, server: Server
) -> None:
    execution = await parked(client, await stored(server, approval(description="<b>Acme</b>")))
    link = link_of(execution)
    page = await anonymous.get(link, headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "same-origin"
    html = page.text
    assert "<h1>Pay the invoice?</h1>" in html
    assert "&lt;b&gt;Acme&lt;/b&gt;" in html
    assert "<b>Acme</b>" not in html
    assert 'name="f.amount"' in html
    assert 'type="number"' in html
    assert 'name="f.urgent"' in html
    assert 'type="checkbox"' in html
    assert "<script" not in html
    form = {"f.amount": "many", "f.reason": "tools", "decision": "approve"}
    refused = await anonymous.post(link, data=form, headers={"Accept": "text/html"})
    assert refused.status_code == 422
    assert "must be a whole number" in refused.text
    assert 'value="many"' not in refused.text or "tools" in refused.text
    form["f.amount"] = "250"
    form["f.urgent"] = "on"
    accepted = await anonymous.post(link, data=form, headers={"Accept": "text/html"})
    assert accepted.status_code == 200, accepted.text
    assert "Approved" in accepted.text
    finished = await done(client, execution["execution_id"])
    approved = finished["nodes"]["ask"]["outputs"]["approved"]
    assert approved["data"] == {"amount": 250, "reason": "tools", "urgent": True}
    assert approved["by"] is None  # whoever held the link


async def test_a_rejection_through_the_link_needs_no_field(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, server: Server
) -> None:
    execution = await parked(client, await stored(server, approval()))
    response = await anonymous.post(
        link_of(execution), json={"decision": "reject", "comment": "no budget"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"decided": True, "port": "rejected"}
    finished = await done(client, execution["execution_id"])
    assert finished["nodes"]["no"]["outputs"]["output"] == {"why": "no budget"}


async def test_a_used_link_answers_410_and_a_second_api_decision_409(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, server: Server
) -> None:
    execution = await parked(client, await stored(server, approval()))
    link = link_of(execution)
    first = await anonymous.post(link, json={"decision": "approve", "data": {"amount": 1}})
    assert first.status_code == 200
    for response in (
        await anonymous.post(link, json={"decision": "approve", "data": {"amount": 2}}),
        await anonymous.get(link),
        await anonymous.get(link, headers={"Accept": "text/html"}),
    ):
        assert response.status_code == 410, response.text
    path = f"/api/v1/executions/{execution['execution_id']}/waits/ask"
    again = await client.post(path, json={"decision": "reject"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    finished = await done(client, execution["execution_id"])
    assert finished["nodes"]["ask"]["outputs"]["approved"]["data"]["amount"] == 1


async def test_of_two_decisions_at_once_exactly_one_wins(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, server: Server
) -> None:
    workflow_id = await stored(server, approval())
    execution = await parked(client, workflow_id)
    path = f"/api/v1/executions/{execution['execution_id']}/waits/ask"
    answers = await asyncio.gather(
        client.post(path, json={"decision": "approve", "data": {"amount": 1}}),
        client.post(path, json={"decision": "reject", "comment": "no"}),
    )
    assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
    winner = next(r for r in answers if r.status_code == 200).json()["port"]
    finished = await done(client, execution["execution_id"])
    assert list(finished["nodes"]["ask"]["outputs"]) == [winner]
    # Through the link: one wins, the other finds it used.
    execution = await parked(client, workflow_id)
    link = link_of(execution)
    answers = await asyncio.gather(
        anonymous.post(link, json={"decision": "approve", "data": {"amount": 1}}),
        anonymous.post(link, json={"decision": "approve", "data": {"amount": 2}}),
    )
    assert sorted(r.status_code for r in answers) == [200, 410], [r.text for r in answers]


async def test_a_cancelled_executions_links_answer_410(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, server: Server
) -> None:
    execution = await parked(client, await stored(server, approval()))
    execution_id = execution["execution_id"]
    cancelled = await client.post(f"/api/v1/executions/{execution_id}/cancel?wait=true")
    assert cancelled.status_code == 200, cancelled.text
    record = cancelled.json()
    assert record["status"] == "cancelled"
    assert record["nodes"]["ask"]["status"] == "cancelled"
    assert record["nodes"]["yes"]["status"] == "cancelled"
    link = link_of(execution)
    response = await anonymous.post(link, json={"decision": "approve", "data": {"amount": 1}})
    assert response.status_code == 410
    assert "cancelled" in response.json()["error"]["message"]
    assert (await anonymous.get(link, headers={"Accept": "text/html"})).status_code == 410
    listed = await client.get("/api/v1/executions", params={"status": "waiting"})
    assert listed.json()["items"] == []


async def test_a_link_no_wait_has_answers_404(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get("/resume/" + "A" * 43)).status_code == 404
    assert (await anonymous.post("/resume/short", json={})).status_code == 404


async def test_a_timeout_goes_on_down_timeout_with_the_defaults_and_the_link_expires(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, server: Server
) -> None:
    doc = approval(timeout="1s", on_timeout="continue", timeout_data={"amount": 0})
    execution = await parked(client, await stored(server, doc))
    finished = await done(client, execution["execution_id"])
    assert finished["status"] == "succeeded"
    assert finished["nodes"]["late"]["outputs"]["output"] == {
        "late": {"urgent": False, "amount": 0}
    }
    response = await anonymous.post(link_of(execution), json={"decision": "approve"})
    assert response.status_code == 410
    assert "timed out" in response.json()["error"]["message"]


async def test_a_timeout_that_fails_fails_the_node(
    client: httpx.AsyncClient, server: Server
) -> None:
    execution = await parked(client, await stored(server, approval(timeout=1)))
    finished = await done(client, execution["execution_id"])
    assert finished["status"] == "failed"
    assert finished["nodes"]["ask"]["status"] == "failed"
    assert finished["nodes"]["ask"]["error"]["type"] == "wait_timeout"


async def test_a_timer_waits_then_passes_its_input_on(
    client: httpx.AsyncClient, server: Server
) -> None:
    doc = document(
        node("start", "trigger.manual"),
        node("pause", "core.wait", params={"mode": "timer", "duration": "1s"}),
        node("after", "core.output"),
        links=("start -> pause", "pause -> after"),
    )
    response = await client.post(
        f"/api/v1/workflows/{await stored(server, doc)}/run?wait=true", json={"input": {"n": 7}}
    )
    execution = response.json()
    assert execution["status"] == "waiting"
    assert execution["nodes"]["pause"]["status"] == "waiting"
    finished = await done(client, execution["execution_id"])
    assert finished["status"] == "succeeded"
    assert finished["output"] == {"n": 7}
    assert finished["nodes"]["pause"]["duration_ms"] >= 900


async def test_a_webhook_wait_takes_the_call_as_its_output(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, server: Server
) -> None:
    doc = document(
        node("start", "trigger.manual"),
        node("note", "core.set", params={"values": {"link": "{{ execution.resume_url('hook') }}"}}),
        node("hook", "core.wait", params={"mode": "webhook", "max_body_bytes": 1000}),
        node("after", "core.output"),
        links=("start -> note", "note -> hook", "hook -> after"),
    )
    execution = await parked(client, await stored(server, doc))
    link = link_of(execution)
    preview = await anonymous.get(link)
    assert preview.status_code == 405  # a chat app's link preview resumes nothing
    assert preview.headers["allow"] == "POST"
    big = await anonymous.post(link, content=b"x" * 2000)
    assert big.status_code == 413
    response = await anonymous.post(
        link + "?order=42&tag=a&tag=b",
        json={"paid": True},
        headers={"X-Signature": "abc", "Authorization": "Bearer secret"},
    )
    assert response.status_code == 202, response.text
    finished = await done(client, execution["execution_id"])
    call = finished["output"]
    assert call["method"] == "POST"
    assert call["query"] == {"order": "42", "tag": ["a", "b"]}
    assert call["body"] == {"paid": True}
    assert call["headers"]["x-signature"] == "abc"
    assert "authorization" not in call["headers"]
    assert (await anonymous.post(link, json={})).status_code == 410


async def test_a_webhook_wait_resumed_over_the_api_takes_the_body(
    client: httpx.AsyncClient, server: Server
) -> None:
    doc = document(
        node("start", "trigger.manual"),
        node("hook", "core.wait", params={"mode": "webhook"}),
        node("after", "core.output"),
        links=("start -> hook", "hook -> after"),
    )
    execution = await parked(client, await stored(server, doc))
    path = f"/api/v1/executions/{execution['execution_id']}/waits/hook"
    response = await client.post(path, json={"status": "shipped"})
    assert response.status_code == 200, response.text
    finished = await done(client, execution["execution_id"])
    assert finished["output"]["body"] == {"status": "shipped"}


async def test_a_link_to_a_node_that_does_not_wait_fails_its_node(
    client: httpx.AsyncClient, server: Server
) -> None:
    doc = document(
        node("start", "trigger.manual"),
        node("note", "core.set", params={"values": {"link": LINK_TO_START}}),
        links=("start -> note",),
    )
    response = await client.post(f"/api/v1/workflows/{await stored(server, doc)}/run?wait=true")
    execution = response.json()
    assert execution["status"] == "failed"
    assert "a trigger.manual node does not wait" in execution["nodes"]["note"]["error"]["message"]


# -- who may decide ---------------------------------------------------------------------------


async def test_only_the_named_approvers_decide_and_each_approval_is_another_persons(
    app: FastAPI, server: Server, team: dict[Role, Member]
) -> None:
    doc = approval(approvals=2, approvers=["viewer@example.com"], approver_roles=["admin"])
    async with (
        as_key(app, team[Role.editor].key) as editor,
        as_key(app, team[Role.viewer].key) as viewer,
        as_key(app, team[Role.owner].key) as owner,
    ):
        execution = await parked(editor, await stored(server, doc))
        path = f"/api/v1/executions/{execution['execution_id']}/waits/ask"
        body = {"decision": "approve", "data": {"amount": 5}}
        refused = await editor.post(path, json=body)  # an editor, not named
        assert refused.status_code == 403, refused.text
        assert "viewer@example.com" in refused.json()["error"]["message"]
        first = await viewer.post(path, json=body)  # a viewer, named
        assert first.status_code == 200, first.text
        assert first.json()["decided"] is False
        twice = await viewer.post(path, json=body)
        assert twice.status_code == 409
        assert twice.json()["error"]["details"] == {"approvals": 1, "needed": 2}
        listed = (await owner.get(f"/api/v1/executions/{execution['execution_id']}/waits")).json()
        assert [a["by"]["email"] for a in listed[0]["approvals"]] == ["viewer@example.com"]
        second = await owner.post(path, json={**body, "data": {"amount": 6}})  # above admin
        assert second.status_code == 200
        assert second.json() == {**second.json(), "decided": True, "port": "approved"}
        finished = await done(owner, execution["execution_id"])
    approved = finished["nodes"]["ask"]["outputs"]["approved"]
    assert [a["by"]["email"] for a in approved["approvals"]] == [
        "viewer@example.com",
        "owner@example.com",
    ]


async def test_a_named_approval_refuses_the_link_alone_and_takes_a_signed_in_approver(
    app: FastAPI, server: Server, team: dict[Role, Member], anonymous: httpx.AsyncClient
) -> None:
    async with as_key(app, team[Role.editor].key) as editor:
        execution = await parked(
            editor, await stored(server, approval(approvers=["viewer@example.com"]))
        )
    link = link_of(execution)
    page = await anonymous.get(link, headers={"Accept": "text/html"})
    assert page.status_code == 403
    assert "sign in" in page.text
    assert (await anonymous.post(link, json={"decision": "approve"})).status_code == 403
    async with signed_in(app, "editor@example.com") as someone_else:
        assert (await someone_else.get(link)).status_code == 403
    async with signed_in(app, "viewer@example.com") as approver:
        page = await approver.get(link, headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "signed in as viewer@example.com" in page.text
        # From a page elsewhere, the session does not decide.
        foreign = await approver.post(
            link,
            data={"decision": "approve", "f.amount": "9"},
            headers={"Origin": "https://evil.example", "Accept": "text/html"},
        )
        assert foreign.status_code == 403
        response = await approver.post(
            link, data={"decision": "approve", "f.amount": "9"}, headers={"Accept": "text/html"}
        )
        assert response.status_code == 200, response.text
    async with as_key(app, team[Role.editor].key) as editor:
        finished = await done(editor, execution["execution_id"])
    assert finished["nodes"]["ask"]["outputs"]["approved"]["by"]["email"] == "viewer@example.com"


async def test_a_viewer_decides_no_approval_that_names_nobody(
    app: FastAPI, server: Server, team: dict[Role, Member]
) -> None:
    async with (
        as_key(app, team[Role.editor].key) as editor,
        as_key(app, team[Role.viewer].key) as viewer,
    ):
        execution = await parked(editor, await stored(server, approval()))
        path = f"/api/v1/executions/{execution['execution_id']}/waits/ask"
        response = await viewer.post(path, json={"decision": "reject"})
        assert response.status_code == 403
        waits = await viewer.get(f"/api/v1/executions/{execution['execution_id']}/waits")
        assert waits.status_code == 200
        assert (await editor.post(path, json={"decision": "reject"})).status_code == 200


async def test_each_member_is_told_whether_they_may_decide_a_wait(
    app: FastAPI, server: Server, team: dict[Role, Member]
) -> None:
    async def may_decide(who: httpx.AsyncClient, execution_id: str) -> tuple[bool, bool]:
        """As the waiting list says, and as the execution's waits say."""
        listed = await who.get("/api/v1/executions", params={"status": "waiting"})
        (item,) = [i for i in listed.json()["items"] if i["execution_id"] == execution_id]
        waits = (await who.get(f"/api/v1/executions/{execution_id}/waits")).json()
        return item["waits"][0]["may_decide"], waits[0]["may_decide"]

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
        approval_id = (await parked(editor, await stored(server, named)))["execution_id"]
        timer_id = (await parked(editor, await stored(server, timer)))["execution_id"]
        assert await may_decide(viewer, approval_id) == (True, True)  # named
        assert await may_decide(admin, approval_id) == (True, True)  # by role
        assert await may_decide(editor, approval_id) == (False, False)
        assert await may_decide(viewer, timer_id) == (False, False)  # a timer: editors
        assert await may_decide(editor, timer_id) == (True, True)
        path = f"/api/v1/executions/{approval_id}/waits/ask"
        assert (await viewer.post(path, json={"decision": "reject"})).status_code == 200
        await done(editor, approval_id)
        waits = (await viewer.get(f"/api/v1/executions/{approval_id}/waits")).json()
        assert waits[0]["status"] == "decided"
        assert waits[0]["may_decide"] is False  # decided: nobody may any more


def test_the_page_style_is_allowed_by_its_hash() -> None:
    from tav.api import resume_page

    policy = resume_page.HEADERS["Content-Security-Policy"]
    assert re.search(r"style-src 'sha256-[A-Za-z0-9+/=]{44}'", policy)


async def test_a_workflow_that_keeps_only_summaries_resumes_from_where_it_waited(
    client: httpx.AsyncClient, server: Server
) -> None:
    doc = {**approval(), "settings": {"keep_successes": "summary"}}
    execution = await parked(client, await stored(server, doc))
    execution_id = execution["execution_id"]
    # Nothing of a cold execution is written until its end; its park writes it all.
    stored_nodes = (await server.parts.executions.get(execution_id)).nodes  # type: ignore[union-attr]
    assert {k: v.status.value for k, v in stored_nodes.items()} == {
        "start": "succeeded",
        "note": "succeeded",
        "ask": "waiting",
    }
    path = f"/api/v1/executions/{execution_id}/waits/ask"
    assert (await client.post(path, json={"decision": "reject"})).status_code == 200
    finished = await done(client, execution_id)
    assert finished["status"] == "succeeded"
    assert finished["kept"] == "summary"


async def test_retention_keeps_what_waits(client: httpx.AsyncClient, server: Server) -> None:
    workflow_id = await stored(server, approval())
    waiting = await parked(client, workflow_id)
    ended = await client.post(f"/api/v1/executions/{waiting['execution_id']}/cancel?wait=true")
    assert ended.status_code == 200
    still = await parked(client, workflow_id)
    removed = await server.parts.executions.prune(max_age=timedelta(0), max_count=None)
    assert removed == 1
    listed = (await client.get("/api/v1/executions")).json()["items"]
    assert [item["execution_id"] for item in listed] == [still["execution_id"]]


async def test_of_two_servers_that_find_a_timer_due_one_fires_it(
    client: httpx.AsyncClient, server: Server
) -> None:
    doc = document(
        node("start", "trigger.manual"),
        node("pause", "core.wait", params={"mode": "timer", "duration": "1h"}),
        node("after", "core.output"),
        links=("start -> pause", "pause -> after"),
    )
    execution = await parked(client, await stored(server, doc))
    ours = server.parts.waits
    assert ours is not None
    other_db = Database(server.parts.db.url)  # another server's connections
    other = Waits(WaitRepository(other_db), ours.links, executions=server.parts.executions_service)
    try:
        later = utcnow() + timedelta(hours=2)
        fired = await asyncio.gather(ours.fire_due(later), other.fire_due(later))
        assert sorted(fired) == [0, 1]
        finished = await done(client, execution["execution_id"])
    finally:
        await other_db.close()
    assert finished["status"] == "succeeded"
    events = await stored_events(server, execution["execution_id"])
    assert sum(1 for e in events if e["type"] == "node.completed" and e["node_id"] == "pause") == 1


async def test_a_post_from_an_opaque_origin_decides_as_whoever_holds_the_link(
    app: FastAPI, server: Server, team: dict[Role, Member], anonymous: httpx.AsyncClient
) -> None:
    async with as_key(app, team[Role.editor].key) as editor:
        workflow_id = await stored(server, approval())
        open_to_all = await parked(editor, workflow_id)
        named = await parked(
            editor, await stored(server, approval(approvers=["viewer@example.com"]))
        )
    null = {"Origin": "null", "Accept": "text/html"}
    form = {"decision": "approve", "f.amount": "4"}
    response = await anonymous.post(link_of(open_to_all), data=form, headers=null)
    assert response.status_code == 200, response.text
    async with signed_in(app, "viewer@example.com") as approver:
        # Its session is not taken from a post that does not say where it comes from.
        refused = await approver.post(link_of(named), data=form, headers=null)
        assert refused.status_code == 403


async def test_a_webhook_answering_when_done_answers_202_once_its_run_waits(
    anonymous: httpx.AsyncClient, server: Server
) -> None:
    doc = document(
        node("hook", "trigger.webhook", params={"path": "orders", "respond": "when_done"}),
        node("ask", "core.wait", params={"mode": "approval"}),
        node("result", "core.output"),
        links=("hook -> ask", "ask:approved -> result"),
    )
    workflow_id = await stored(server, doc)
    await server.parts.triggers.activate(workflow_id)
    response = await anonymous.post("/webhook/orders", json={"n": 1})
    assert response.status_code == 202, response.text
    execution_id = response.json()["execution_id"]
    assert response.json() == {"execution_id": execution_id, "status": "waiting"}
    assert response.headers["x-tav-execution-id"] == execution_id


async def test_the_stream_ends_as_it_waits_and_a_reconnection_follows_it_on(
    client: httpx.AsyncClient, server: Server
) -> None:
    from tests.api.test_stream import read_stream

    execution = await parked(client, await stored(server, approval()))
    execution_id = execution["execution_id"]
    first = await read_stream(client, execution_id)
    assert first[-1].event == "execution.waiting"
    last = first[-1].id
    following = asyncio.create_task(
        read_stream(client, execution_id, headers={"Last-Event-ID": str(last)})
    )
    await asyncio.sleep(0.3)
    assert not following.done()  # it waits for the execution to go on
    path = f"/api/v1/executions/{execution_id}/waits/ask"
    assert (await client.post(path, json={"decision": "reject"})).status_code == 200
    async with asyncio.timeout(10):
        rest = await following
    assert rest[0].id == last + 1
    assert (rest[0].event, rest[0].data["node_id"]) == ("node.completed", "ask")
    assert rest[-1].event == "execution.completed"
    replay = await read_stream(client, execution_id)  # once it has ended: all of it
    assert [e.id for e in replay] == list(range(1, rest[-1].id + 1))


async def test_a_wait_decided_while_its_execution_still_runs_resumes_it_once_it_parks(
    client: httpx.AsyncClient, server: Server
) -> None:
    doc = document(
        node("start", "trigger.manual"),
        node("ask", "core.wait", params={"mode": "approval"}),
        node("pause", "core.wait", params={"mode": "timer", "duration": "0.2s"}),
        node("slow", "core.delay", params={"seconds": 1.5}),
        node("after", "core.noop"),
        links=("start -> ask", "start -> pause", "start -> slow", "ask:approved -> after"),
    )
    execution_id = await start(client, await stored(server, doc))
    await until(
        client, execution_id, lambda e: e["nodes"].get("ask", {}).get("status") == "waiting"
    )
    path = f"/api/v1/executions/{execution_id}/waits/ask"
    response = await client.post(path, json={"decision": "approve"})
    assert response.status_code == 200, response.text  # noted: the execution still runs
    assert response.json()["decided"] is True
    await asyncio.sleep(0.5)  # the timer comes due too, while `slow` runs
    assert (await client.get(f"/api/v1/executions/{execution_id}")).json()["status"] == "running"
    finished = await done(client, execution_id)
    assert finished["status"] == "succeeded", finished
    assert {k: v["status"] for k, v in finished["nodes"].items()} == {
        "start": "succeeded",
        "ask": "succeeded",
        "pause": "succeeded",
        "slow": "succeeded",
        "after": "succeeded",
    }


async def test_a_timers_link_ends_it_now(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, server: Server
) -> None:
    doc = document(
        node("start", "trigger.manual"),
        node(
            "note", "core.set", params={"values": {"link": "{{ execution.resume_url('pause') }}"}}
        ),
        node("pause", "core.wait", params={"mode": "timer", "duration": "1d"}),
        node("after", "core.output"),
        links=("start -> note", "note -> pause", "pause -> after"),
    )
    execution = await parked(client, await stored(server, doc))
    link = link_of(execution)
    assert (await anonymous.get(link)).status_code == 405
    response = await anonymous.post(link)
    assert response.status_code == 202, response.text
    finished = await done(client, execution["execution_id"])
    assert finished["status"] == "succeeded"
    assert finished["output"] == {"link": execution["nodes"]["note"]["outputs"]["output"]["link"]}
    assert (await anonymous.post(link)).status_code == 410


async def test_a_decision_for_an_execution_whose_workflow_is_gone_fails_it(
    client: httpx.AsyncClient, server: Server
) -> None:
    workflow_id = await stored(server, approval())
    execution = await parked(client, workflow_id)
    assert (await client.delete(f"/api/v1/workflows/{workflow_id}")).status_code == 204
    path = f"/api/v1/executions/{execution['execution_id']}/waits/ask"
    response = await client.post(path, json={"decision": "reject"})
    assert response.status_code == 200, response.text
    finished = await done(client, execution["execution_id"])
    assert finished["status"] == "failed"
    assert finished["error"]["type"] == "resume_failed"


def test_the_access_log_shows_no_token() -> None:
    import logging

    from tav.api.resume import HideTokens

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", "/resume/AbCdEf0123456789abcdefXYZ?x=1", "1.1", 200),
        None,
    )
    assert HideTokens().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "POST /resume/…?x=1 HTTP/1.1" 200'
