"""Capabilities: mixins that give a node type a kind of power the type checker can see.

Each capability declares in ``requires`` the host services its node types cannot run
without (``tav.nodes.host``); the host (server, CLI, worker) supplies implementations,
compiling a workflow checks that it supplies them, and node code reaches them with
``ctx.service(CHAT_MODELS)``. This keeps node code free of transports and settings: the
same node runs in-process, headless or on a worker.

- ``TriggerCapability``: the node starts executions (manual, webhook, schedule, ...).
- ``LLMCapability``: the node talks to chat models through the ``llm`` pool.
- ``AICapability``: embeddings and vector stores.
- ``ExportCapability``: the node writes files under the data dir and registers them.
- ``StreamingCapability``: the node reports partial results as ``node.progress`` events.
- ``BranchingCapability``: the node's output ports derive from its params (If, Switch).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel

from tav.core.errors import NodeError
from tav.core.media import Media, MediaError, parse_media
from tav.nodes.ai import ChatModels, Embeddings, VectorStores
from tav.nodes.base import Outputs, Port
from tav.nodes.context import NodeContext
from tav.nodes.host import CHAT_MODELS, EMBEDDINGS, FILES, VECTOR_STORES, Files, Requirement

__all__ = [
    "AICapability",
    "BranchingCapability",
    "ExportCapability",
    "Files",
    "LLMCapability",
    "StreamingCapability",
    "TriggerCapability",
    "media_content",
    "media_param",
]


class TriggerCapability:
    """Starts executions. A trigger has no inputs; its output is the trigger payload.

    ``trigger_kind`` names how it activates: a built-in kind (``manual``, ``webhook``,
    ``schedule``, ``mqtt``, ``email``) or one a plugin adds (``tav.triggers.kinds``); the
    trigger manager (``tav.triggers``) reads ``activation(params)`` to arm it while its
    workflow is active. ``manual`` triggers are never armed.
    """

    inputs: ClassVar[dict[str, Port]] = {}
    trigger_kind: ClassVar[str] = "manual"

    def activation(self, params: BaseModel) -> dict[str, Any]:
        """How to arm this trigger: ``kind`` and what that kind needs (webhook path, cron
        expression, ...); by default the params."""
        return {"kind": self.trigger_kind, **params.model_dump()}

    async def run(self, params: Any, input: Any, ctx: NodeContext) -> Outputs:
        return {"output": ctx.trigger}


class LLMCapability:
    """Talks to chat models, through the ``llm`` pool, with provider fallback."""

    pool: ClassVar[str | None] = "llm"
    requires: ClassVar[tuple[Requirement[Any], ...]] = (CHAT_MODELS,)

    def chat_models(self, ctx: NodeContext) -> ChatModels:
        return ctx.service(CHAT_MODELS)


class AICapability:
    """Embeds texts and reads or writes vector collections. Requires embedding models; a
    node that reads or writes collections adds ``VECTOR_STORES``."""

    requires: ClassVar[tuple[Requirement[Any], ...]] = (EMBEDDINGS,)

    def embeddings(self, ctx: NodeContext) -> Embeddings:
        return ctx.service(EMBEDDINGS)

    def vector_stores(self, ctx: NodeContext) -> VectorStores:
        return ctx.service(VECTOR_STORES)


def media_param(value: Any, *, where: str) -> Media:
    """``value`` as a media value; a ``NodeError`` (not retried) that says what is wrong."""
    try:
        return parse_media(value, where=where)
    except MediaError as exc:
        raise NodeError(str(exc), type="params_invalid", retryable=False) from None


async def media_content(ctx: NodeContext, media: Media) -> bytes:
    """The bytes of a media value: its inline data, or its stored file read through
    ``Files``."""
    if media.data is not None:
        return media.content_bytes()
    assert media.uri is not None  # a media value has one or the other
    return await ctx.service(FILES).read(media.uri)


class ExportCapability:
    """Writes a file under ``files/exports`` and registers it."""

    requires: ClassVar[tuple[Requirement[Any], ...]] = (FILES,)

    async def export(
        self, ctx: NodeContext, data: bytes, *, name: str, mime_type: str
    ) -> dict[str, Any]:
        return await ctx.service(FILES).save(
            data, name=name, mime_type=mime_type, execution_id=ctx.execution_id, export=True
        )


class StreamingCapability:
    """Reports partial results while running, as ``node.progress`` events."""

    def stream(self, ctx: NodeContext, **data: Any) -> None:
        ctx.progress(data)


class BranchingCapability:
    """Activates only some of its output ports; which ones exist may depend on params."""
