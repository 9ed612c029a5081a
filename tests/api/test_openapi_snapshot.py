"""The OpenAPI document: the editor's copy is current; the event stream and the workflow
document, which FastAPI cannot see, are described.

The editor's API types (frontend/src/api/schema.d.ts) are generated from its copy of the
document, frontend/src/api/openapi.json; ``make api-types`` writes both.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tav.api.app import create_app
from tav.api.openapi import render
from tav.settings import Settings

SNAPSHOT = Path(__file__).parents[2] / "frontend" / "src" / "api" / "openapi.json"
STREAM = "/api/v1/executions/{execution_id}/stream"
EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture
async def document(tmp_path: Path) -> dict[str, Any]:
    """The document as the app serves it at /openapi.json."""
    app = create_app(Settings(data_dir=tmp_path / "data"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        answer = await client.get("/openapi.json")
    assert answer.status_code == 200
    served: dict[str, Any] = answer.json()
    return served


def test_the_editors_copy_of_the_document_is_current(document: dict[str, Any]) -> None:
    current = render(document)
    kept = SNAPSHOT.read_text(encoding="utf-8") if SNAPSHOT.exists() else ""
    # Not a bare ==: pytest would print two 170 kB documents.
    assert kept == current, (
        f"{SNAPSHOT} differs from what the app serves: run `make api-types` and commit "
        "the document and frontend/src/api/schema.d.ts"
    )


def test_the_stream_items_are_the_events_told_apart_by_type(document: dict[str, Any]) -> None:
    content = document["paths"][STREAM]["get"]["responses"]["200"]["content"]
    data = content["text/event-stream"]["itemSchema"]["properties"]["data"]
    assert data["contentMediaType"] == "application/json"
    event = resolve(document, data["contentSchema"]["$ref"])
    assert event["discriminator"]["propertyName"] == "type"
    mapping = event["discriminator"]["mapping"]
    assert sorted(member["$ref"] for member in event["oneOf"]) == sorted(mapping.values())
    assert {"execution.started", "node.progress", "node.completed", "execution.failed"} <= set(
        mapping
    )
    for kind, ref in mapping.items():
        model = resolve(document, ref)
        assert model["properties"]["type"]["const"] == kind
        # Every field is in every event sent: a client's type has them all.
        assert set(model["required"]) == set(model["properties"]), kind


def test_stored_documents_are_described_as_workflow_documents(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for model in ("WorkflowPublic", "VersionPublic"):
        field = schemas[model]["properties"]["document"]
        assert field["allOf"] == [{"$ref": "#/components/schemas/WorkflowDocument"}], model
    # Every key of the shipped examples is described, keys as written in files.
    described = schemas["WorkflowDocument"]["properties"]
    nodes = schemas["NodeDef"]["properties"]
    edges = schemas["EdgeDef"]["properties"]
    assert {"schema", "nodes", "edges"} <= set(described)
    for path in sorted(EXAMPLES.glob("*.json")):
        example = json.loads(path.read_text(encoding="utf-8"))
        assert set(example) <= set(described), path.name
        for node in example["nodes"]:
            assert set(node) <= set(nodes), (path.name, node["id"])
        for edge in example.get("edges", []):
            assert set(edge) == set(edges) == {"from", "to"}, path.name


def test_every_reference_in_the_document_resolves(document: dict[str, Any]) -> None:
    for ref in references(document):
        assert resolve(document, ref) is not None, ref


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)
