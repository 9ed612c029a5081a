"""The built-in node types, one small module per family.

``BUILTIN_MODULES`` has one ``NodeModule`` record per module: its import path and the
type ids it defines. A registry imports a module when one of its types is first used
(``NodeRegistry.get``, the catalog), so a server that runs a few kinds of node never
imports the rest, and none of them slows its start. A unit test checks every record
against the classes its module defines. ``BUILTIN_NODE_TYPES`` is every class, imported
on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tav.nodes.modules import NodeModule

if TYPE_CHECKING:
    from tav.nodes.base import Node

_PACKAGE = "tav.nodes.builtin"


def _module(name: str, *types: str) -> NodeModule:
    return NodeModule(f"{_PACKAGE}.{name}", types)


BUILTIN_MODULES: tuple[NodeModule, ...] = (
    _module("triggers.manual", "trigger.manual"),
    _module("triggers.webhook", "trigger.webhook"),
    _module("triggers.schedule", "trigger.schedule"),
    _module("triggers.mqtt", "trigger.mqtt"),
    _module("triggers.email", "trigger.email"),
    _module("core.data", "core.set", "core.output"),
    _module("core.flow", "core.if", "core.switch", "core.merge", "core.noop", "core.fail"),
    _module("core.timing", "core.delay"),
    _module("core.wait", "core.wait"),
    _module("core.http", "core.http_request"),
    _module("core.workflows", "core.subworkflow", "core.map"),
    _module("code.python", "code.python"),
    _module("ai.chat", "ai.llm_chat"),
    _module("ai.structured", "ai.structured"),
    _module("ai.classify", "ai.classify"),
    _module("ai.agent", "ai.agent"),
    _module("ai.text", "ai.text_split"),
    _module("ai.vectors", "ai.embed", "ai.vector_upsert", "ai.vector_search"),
    _module("ai.rag", "ai.rag_answer"),
    _module("files.read", "file.read"),
    _module("files.write", "file.write"),
    _module("export.tabular", "export.csv", "export.xlsx"),
    _module("export.documents", "export.json", "export.markdown", "export.html"),
    _module("export.pdf", "export.pdf"),
    _module("services.mail", "email.send"),
    _module("services.chat", "slack.post_message", "discord.send_message", "telegram.send_message"),
    _module("services.mqtt", "mqtt.publish"),
    _module("services.webhook", "webhook.send"),
    _module("services.mcp", "mcp.call_tool"),
)
"""One record per built-in node module."""


def __getattr__(name: str) -> Any:
    if name == "BUILTIN_NODE_TYPES":
        return _all_types()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _all_types() -> list[type[Node]]:
    """Every built-in class; a module that cannot be imported raises (a broken install)."""
    from tav.nodes.modules import load

    found: list[type[Node]] = []
    for record in BUILTIN_MODULES:
        types, unavailable = load(record)
        if unavailable:
            reasons = "; ".join(f"{u.type}: {u.reason}" for u in unavailable.values())
            raise ImportError(f"built-in node types could not be loaded: {reasons}")
        found.extend(types[t] for t in record.types)
    return found


BUILTIN_NODE_TYPES: list[type[Node]]
