"""The built-in node reference, generated from the registry (``tav nodes docs``).

The output is deterministic (registry order, no timestamps), so a test can compare it with
docs/reference/built-in-nodes.md and ``make docs`` can regenerate it.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from tav.nodes.base import Node
from tav.nodes.builtin import BUILTIN_NODE_TYPES
from tav.nodes.registry import NodeRegistry

HEADER = """# Built-in nodes

Generated from the node registry by `tav nodes docs` (`make docs`); do not edit by hand, a
test keeps it in sync. `tav nodes show TYPE` prints the same information, with each type's
params JSON Schema.

Every node also takes the per-node settings `retry`, `timeout_s`, `on_error` and `pin`
(see [the workflow format](workflow-format.md#nodes) and
[the executor](../architecture/executor.md)). String params may be
[templates](variables.md).
"""

EMPTY = "—"


def render_reference() -> str:
    registry = NodeRegistry(BUILTIN_NODE_TYPES)
    categories = sorted({t.spec.category for t in registry})
    parts = [HEADER, _summary(registry)]
    for category in categories:
        parts.append(f"\n## {category}\n")
        for node_type in registry:
            if node_type.spec.category == category:
                parts.append(_section(node_type, registry.describe(node_type.spec.type)))
    return "".join(parts)


def _summary(registry: NodeRegistry) -> str:
    lines = ["", "| type | category | what it does |", "|---|---|---|"]
    for node_type in registry:
        spec = node_type.spec
        lines.append(f"| `{spec.type}` | {spec.category} | {_one_line(node_type.describe())} |")
    return "\n".join(lines) + "\n"


def _section(node_type: type[Node], info: dict[str, Any]) -> str:
    lines = [
        f"\n### `{info['type']}` — {info['title']} (v{info['version']})\n",
        info["description"],
        "",
    ]
    notes = _notes(node_type, info)
    if notes:
        lines.extend([*notes, ""])
    lines.extend(_ports(info))
    lines.append("")
    lines.extend(_params(node_type.Params, info["params_schema"]))
    return "\n".join(lines) + "\n"


def _notes(node_type: type[Node], info: dict[str, Any]) -> list[str]:
    notes = []
    if info["pool"]:
        notes.append(f"- Runs in the `{info['pool']}` pool.")
    if node_type.max_per_workflow is not None:
        notes.append(f"- At most {node_type.max_per_workflow} per workflow.")
    if node_type.default_retry is not None:
        retry = node_type.default_retry.model_dump_json()
        notes.append(f"- Retried by default: `{retry}`.")
    if node_type.raw_params:
        raw = ", ".join(f"`{name}`" for name in sorted(node_type.raw_params))
        notes.append(f"- Not rendered as templates: {raw}.")
    return notes


def _ports(info: dict[str, Any]) -> list[str]:
    lines = ["| port | direction | description |", "|---|---|---|"]
    for name, port in info["inputs"].items():
        lines.append(f"| `{name}` | in | {_text(port['description'])}{_input_note(port)} |")
    if info["dynamic_outputs"]:
        lines.append(
            "| *(from the params)* | out | Which of the ports below exist, and any named "
            "after a case or label, follow the params. |"
        )
    for name, port in info["outputs"].items():
        lines.append(f"| `{name}` | out | {_text(port['description'])} |")
    if len(lines) == 2:
        lines.append(f"| {EMPTY} | | No ports. |")
    return lines


def _input_note(port: dict[str, Any]) -> str:
    notes = [] if port["required"] else ["optional"]
    if port["many"]:
        notes.append("receives every value that arrived, as a list")
    return f" ({'; '.join(notes)})" if notes else ""


def _params(model: type[BaseModel], schema: dict[str, Any]) -> list[str]:
    properties = schema.get("properties", {})
    if not properties:
        return ["No params."]
    defaults = _defaults(model)
    required = set(schema.get("required", []))
    lines = ["| param | type | default | description |", "|---|---|---|---|"]
    for name, prop in properties.items():
        default = "required" if name in required else defaults.get(name, EMPTY)
        description = _one_line(prop.get("description", ""))
        lines.append(f"| `{name}` | {_type(prop)} | {default} | {description} |")
    return lines


def _defaults(model: type[BaseModel]) -> dict[str, str]:
    """Each optional param's default as JSON, by the name documents use (its alias)."""
    defaults = {}
    for name, field in model.model_fields.items():
        if not field.is_required():
            value = field.get_default(call_default_factory=True)
            defaults[field.alias or name] = f"`{json.dumps(value)}`"
    return defaults


def _type(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    for union in ("anyOf", "oneOf"):
        if union in prop:
            return " \\| ".join("object" if "$ref" in p else _type(p) for p in prop[union])
    if prop.get("type") == "array":
        return f"list of {_type(prop.get('items', {}))}"
    values = prop.get("additionalProperties")
    if prop.get("type") == "object" and isinstance(values, dict) and "type" in values:
        return f"object of {_type(values)}"
    return str(prop.get("type", "any"))


def _text(text: str) -> str:
    return _one_line(text) or EMPTY


def _one_line(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
