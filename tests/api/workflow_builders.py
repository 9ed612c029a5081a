"""Stored workflows for the workflow API tests."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import document, node

WORKFLOWS = "/api/v1/workflows"
MISSING = "0" * 32


def greet(name: str = "Greet", text: str = "Hello") -> dict[str, Any]:
    """A small valid workflow document: a manual trigger and a core.set."""
    return document(
        node("start", "trigger.manual"),
        node("greet", "core.set", params={"values": {"text": text}}),
        links=("start -> greet",),
        name=name,
    )


async def create(
    client: httpx.AsyncClient, doc: dict[str, Any] | None = None, **params: Any
) -> dict[str, Any]:
    """Store a workflow over HTTP; its JSON."""
    response = await client.post(WORKFLOWS, json=doc or greet(), params=params)
    assert response.status_code == 201, response.text
    return dict(response.json())
