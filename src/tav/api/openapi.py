"""The OpenAPI document (``/openapi.json``): FastAPI's, completed with what FastAPI cannot see.

The execution event stream (``GET /executions/{id}/stream``) answers with a response class
of its own (``tav.api.sse`` says why), so FastAPI knows nothing of the events it sends. Its
item schema (``EVENT_STREAM_ITEM``) says that each event's ``data`` is an
``ExecutionEvent``, and ``install`` adds that schema with the event models of
``tav.core.events``: a ``oneOf`` discriminated by ``type``, from which a client's generated
types narrow an event by its type.

Workflow documents go in and out of the API as open JSON objects (the workflow parser, not
a request model, checks them and locates every problem), so FastAPI sees no model for them
either. A stored document, as the API gives it back, refers to ``WorkflowDocument``
(``DOCUMENT_REF``), which ``install`` adds from ``tav.core.workflow.Workflow``.

``python -m tav.api.openapi`` prints the document; ``make api-types`` writes it into the
editor (frontend/src/api/openapi.json) and generates the editor's TypeScript types from it.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from fastapi.openapi.constants import REF_PREFIX, REF_TEMPLATE
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import core_schema

from tav.core.events import EVENT_ADAPTER
from tav.core.workflow import Workflow

if TYPE_CHECKING:
    from fastapi import FastAPI

EVENT_SCHEMA = "ExecutionEvent"
EVENT_STREAM_ITEM: dict[str, Any] = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {"$ref": f"{REF_PREFIX}{EVENT_SCHEMA}"},
        },
        "event": {"type": "string", "description": "The event's type."},
        "id": {"type": "string", "description": "The event's sequence number."},
    },
}
"""One item of the event stream, as OpenAPI 3.2's ``itemSchema`` describes it."""

DOCUMENT_SCHEMA = "WorkflowDocument"
DOCUMENT_REF: dict[str, Any] = {"$ref": f"{REF_PREFIX}{DOCUMENT_SCHEMA}"}
"""The JSON Schema of a stored workflow document, for the fields that hold one."""


class _Sent(GenerateJsonSchema):
    """Every field of an event is in every event sent, defaults included: all are required
    (so that a client's type has ``type`` and ``at``, not ``type?`` and ``at?``)."""

    def field_is_required(
        self,
        field: core_schema.ModelField | core_schema.DataclassField | core_schema.TypedDictField,
        total: bool,
    ) -> bool:
        return self.mode == "serialization" or super().field_is_required(field, total)


def event_schemas() -> dict[str, Any]:
    """``ExecutionEvent`` and the schemas it refers to, by name."""
    schema = EVENT_ADAPTER.json_schema(
        mode="serialization", ref_template=REF_TEMPLATE, schema_generator=_Sent
    )
    models = schema.pop("$defs")
    description = "One event of an execution, told apart by its type."
    return {**models, EVENT_SCHEMA: {"title": EVENT_SCHEMA, "description": description, **schema}}


def document_schemas() -> dict[str, Any]:
    """``WorkflowDocument`` (format v1, keys as written in files) and its parts, by name."""
    schema = Workflow.model_json_schema(
        by_alias=True, mode="serialization", ref_template=REF_TEMPLATE
    )
    parts = schema.pop("$defs")
    return {**parts, DOCUMENT_SCHEMA: {**schema, "title": DOCUMENT_SCHEMA}}


def add_schemas(document: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Adds ``schemas`` to the document's components, which stay sorted by name. A name
    that is already there must name the same schema (``ExecutionStatus`` does)."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in schemas.items():
        if components.setdefault(name, schema) != schema:
            raise RuntimeError(f"two different schemas are named {name!r} in the OpenAPI document")
    document["components"]["schemas"] = dict(sorted(components.items()))


def install(app: FastAPI) -> None:
    """Makes ``app.openapi()``, and so ``/openapi.json``, describe the events and the
    workflow document."""
    build = app.openapi  # FastAPI's: builds the document once, into app.openapi_schema

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            add_schemas(build(), event_schemas() | document_schemas())
        assert app.openapi_schema is not None
        return app.openapi_schema

    # FastAPI's documented way of extending its document ("Extending OpenAPI").
    app.openapi = openapi  # type: ignore[method-assign]


def render(document: dict[str, Any]) -> str:
    """The document as the text kept in the editor's sources: stable, diff-friendly."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    from tav.api.app import create_app  # here: the app imports this module
    from tav.settings import Settings

    sys.stdout.write(render(create_app(Settings()).openapi()))


if __name__ == "__main__":
    main()
