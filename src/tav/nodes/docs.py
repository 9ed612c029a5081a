"""The built-in node reference, generated from the registry (``tav nodes docs``)."""

from __future__ import annotations

import json
from typing import Any

from tav.nodes.builtin import BUILTIN_NODE_TYPES
from tav.nodes.registry import NodeRegistry

HEADER = """# Built-in nodes

Generated from the node registry by `tav nodes docs` (`make docs`); a test keeps it in
sync. Every node also takes the per-node settings `retry`, `timeout_s`, `on_error` and
`pin` (see docs/architecture/executor.md).
"""


def render_reference() -> str:
    registry = NodeRegistry(BUILTIN_NODE_TYPES)
    parts = [HEADER]
    for category in sorted({t.spec.category for t in registry}):
        parts.append(f"\n## {category}\n")
        for node_type in registry:
            if node_type.spec.category == category:
                parts.append(_section(registry.describe(node_type.spec.type)))
    return "".join(parts)


def _section(info: dict[str, Any]) -> str:
    lines = [
        f"\n### `{info['type']}` — {info['title']} (v{info['version']})\n",
        info["description"],
        "",
    ]
    if info["pool"]:
        lines.append(f"Pool: `{info['pool']}`.\n")
    lines.append("| port | direction | description |")
    lines.append("|---|---|---|")
    for name, port in info["inputs"].items():
        note = "" if port["required"] else " (optional)"
        lines.append(f"| `{name}` | in | {port['description']}{note} |")
    outputs = info["outputs"] or {}
    if info["dynamic_outputs"]:
        lines.append("| *(one per case)* | out | Derived from the params. |")
    for name, port in outputs.items():
        lines.append(f"| `{name}` | out | {port['description']} |")
    lines.append("")
    lines.extend(_params(info["params_schema"]))
    return "\n".join(lines) + "\n"


def _params(schema: dict[str, Any]) -> list[str]:
    properties = schema.get("properties", {})
    if not properties:
        return ["No params."]
    required = set(schema.get("required", []))
    lines = ["| param | type | default | description |", "|---|---|---|---|"]
    for name, prop in properties.items():
        default = "required" if name in required else f"`{json.dumps(prop.get('default'))}`"
        lines.append(f"| `{name}` | {_type(prop)} | {default} | {prop.get('description', '')} |")
    return lines


def _type(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    if "anyOf" in prop:
        return " \\| ".join(_type(p) for p in prop["anyOf"])
    if prop.get("type") == "array":
        return f"list of {_type(prop.get('items', {}))}"
    return str(prop.get("type", "any"))
