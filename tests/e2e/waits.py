"""What the browser tests of waits share: a workflow that asks for an approval, run until it
waits; an execution as the API reads it, and waited on until it ends; an item of the
inbox."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Locator, Page

from tests.e2e.helpers import create_workflow, run_over_api

FIELDS = {
    "type": "object",
    "properties": {
        "amount": {"type": "integer", "title": "Amount (EUR)", "minimum": 1},
        "budget": {"type": "string", "title": "Budget", "enum": ["IT", "Office"]},
        "urgent": {"type": "boolean", "title": "Urgent"},
        "reason": {"type": "string", "title": "Reason", "format": "textarea"},
    },
    "required": ["amount"],
}


def approval(name: str, *, link: bool = False, **ask: Any) -> dict[str, Any]:
    """A workflow named ``name`` whose node ``ask`` waits for an approval of ``FIELDS``
    titled ``"{name}?"`` (``ask`` replaces its params; one given as None is left out),
    then goes on to ``yes`` when approved, ``no`` when rejected. With ``link``, the node
    ``mail`` before it holds its link (``link``, as an email would send it)."""
    params = {
        "mode": "approval",
        "title": f"{name}?",
        "description": "Three laptops for the new team.",
        "fields": FIELDS,
        "timeout": "2d",
    } | ask
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "trigger.manual"}]
    edges = [{"from": "start", "to": "ask"}]
    if link:
        values = {"link": "{{ execution.resume_url('ask') }}"}
        nodes.append({"id": "mail", "type": "core.set", "params": {"values": values}})
        edges = [{"from": "start", "to": "mail"}, {"from": "mail", "to": "ask"}]
    nodes += [
        {
            "id": "ask",
            "type": "core.wait",
            "params": {key: value for key, value in params.items() if value is not None},
        },
        {"id": "yes", "type": "core.output"},
        {"id": "no", "type": "core.noop"},
    ]
    edges += [{"from": "ask:approved", "to": "yes"}, {"from": "ask:rejected", "to": "no"}]
    return {"schema": 1, "name": name, "nodes": nodes, "edges": edges}


def waiting(page: Page, name: str) -> tuple[str, str]:
    """A stored workflow that asks for an approval, run until it waits: its id and the
    execution's."""
    workflow_id = create_workflow(page, approval(name))
    execution = run_over_api(page, workflow_id, {})
    assert execution["status"] == "waiting", execution
    return workflow_id, execution["execution_id"]


def execution(page: Page, execution_id: str) -> dict[str, Any]:
    found: dict[str, Any] = page.context.request.get(f"/api/v1/executions/{execution_id}").json()
    return found


def until_ended(page: Page, execution_id: str) -> dict[str, Any]:
    """The execution once it no longer waits, is queued or runs (within 10 s)."""
    for _ in range(100):
        found = execution(page, execution_id)
        if found["status"] not in ("waiting", "queued", "running"):
            return found
        page.wait_for_timeout(100)
    raise AssertionError(f"still {found['status']}")


def inbox_item(page: Page, execution_id: str) -> Locator:
    return page.locator(f'[data-testid="inbox-item"][data-execution="{execution_id}"]')
