"""The built-in node types, one small module per family.

``BUILTIN_NODES`` names each type's class by import path; a registry imports a module when
one of its types is first used (``NodeRegistry.get``, the catalog), so a server that runs
a few kinds of node never imports the rest, and none of them slows its start.
``BUILTIN_NODE_TYPES`` is every class, imported on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tav.nodes.base import Node

BUILTIN_NODES: dict[str, str] = {
    "trigger.manual": "tav.nodes.builtin.triggers.manual:ManualTrigger",
    "trigger.webhook": "tav.nodes.builtin.triggers.webhook:WebhookTrigger",
    "trigger.schedule": "tav.nodes.builtin.triggers.schedule:ScheduleTrigger",
    "trigger.mqtt": "tav.nodes.builtin.triggers.mqtt:MqttTrigger",
    "trigger.email": "tav.nodes.builtin.triggers.email:EmailTrigger",
    "core.set": "tav.nodes.builtin.core.data:Set",
    "core.if": "tav.nodes.builtin.core.flow:If",
    "core.switch": "tav.nodes.builtin.core.flow:Switch",
    "core.merge": "tav.nodes.builtin.core.flow:Merge",
    "core.delay": "tav.nodes.builtin.core.timing:Delay",
    "core.noop": "tav.nodes.builtin.core.flow:Noop",
    "core.fail": "tav.nodes.builtin.core.flow:Fail",
    "core.http_request": "tav.nodes.builtin.core.http:HttpRequest",
    "core.output": "tav.nodes.builtin.core.data:Output",
    "core.subworkflow": "tav.nodes.builtin.core.workflows:Subworkflow",
    "core.map": "tav.nodes.builtin.core.workflows:Map",
    "ai.llm_chat": "tav.nodes.builtin.ai.chat:LLMChat",
    "ai.structured": "tav.nodes.builtin.ai.structured:Structured",
    "ai.classify": "tav.nodes.builtin.ai.classify:Classify",
    "ai.agent": "tav.nodes.builtin.ai.agent:Agent",
    "ai.text_split": "tav.nodes.builtin.ai.text:TextSplit",
    "ai.embed": "tav.nodes.builtin.ai.vectors:Embed",
    "ai.vector_upsert": "tav.nodes.builtin.ai.vectors:VectorUpsert",
    "ai.vector_search": "tav.nodes.builtin.ai.vectors:VectorSearch",
    "ai.rag_answer": "tav.nodes.builtin.ai.rag:RagAnswer",
    "file.read": "tav.nodes.builtin.files.read:FileRead",
    "file.write": "tav.nodes.builtin.files.write:FileWrite",
    "export.csv": "tav.nodes.builtin.export.tabular:ExportCsv",
    "export.xlsx": "tav.nodes.builtin.export.tabular:ExportXlsx",
    "export.json": "tav.nodes.builtin.export.documents:ExportJson",
    "export.markdown": "tav.nodes.builtin.export.documents:ExportMarkdown",
    "export.html": "tav.nodes.builtin.export.documents:ExportHtml",
    "export.pdf": "tav.nodes.builtin.export.pdf:ExportPdf",
    "email.send": "tav.nodes.builtin.services.mail:EmailSend",
    "slack.post_message": "tav.nodes.builtin.services.chat:SlackPostMessage",
    "discord.send_message": "tav.nodes.builtin.services.chat:DiscordSendMessage",
    "telegram.send_message": "tav.nodes.builtin.services.chat:TelegramSendMessage",
    "mqtt.publish": "tav.nodes.builtin.services.mqtt:MqttPublish",
    "webhook.send": "tav.nodes.builtin.services.webhook:WebhookSend",
}
"""Built-in type id → ``module:Class``."""


def __getattr__(name: str) -> Any:
    if name == "BUILTIN_NODE_TYPES":
        from tav.nodes.registry import load_node_type

        return [load_node_type(type_id, path) for type_id, path in BUILTIN_NODES.items()]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


BUILTIN_NODE_TYPES: list[type[Node]]
