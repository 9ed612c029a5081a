"""``AIServices``: the host's ``ChatModels`` and ``Embeddings`` (``tav.nodes.ai``).

One instance per process (the server builds it), so the per-credential limits and
circuit breakers it holds are shared by every workflow and execution. It reveals each
link's credential through the node's context (so the engine redacts its secrets), streams
tokens as ``node.progress`` events, counts token usage on the node, and keeps or reuses
answers in the response cache when a request asks for it.

Secrets: ``redaction`` (the host's vault) keeps stored secrets out of the cache (see
``tav.ai.cache``), and lets the token stream hold back a piece that may be the start of a
secret until the next piece shows whether it is one: the engine redacts each
``node.progress`` event on its own and cannot see a secret cut in two.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from tav.ai import providers
from tav.ai.cache import NoRedaction, Redaction, ResponseCache, cache_key, holds_secret
from tav.ai.chain import Chain, Link, Outcome, RequestError
from tav.ai.chat import Answer, ask
from tav.ai.config import AIConfig
from tav.ai.http import ProviderHttp
from tav.ai.limits import Breaker, Clock, Limits
from tav.ai.messages import inline_remote_media, inline_stored_media, to_langchain
from tav.ai.streaming import TokenBatcher
from tav.core.errors import NodeError
from tav.engine.ports import SharedLimits
from tav.engine.secrets import redact_value
from tav.nodes.ai import ChatRequest, ChatResponse, EmbedResponse, ModelRef, Usage
from tav.nodes.context import NodeContext

logger = logging.getLogger("tav.ai")


class AIServices:
    """Chat models and embeddings over model chains, with fallback, limits, breakers,
    streaming, usage and an optional response cache."""

    def __init__(
        self,
        config: AIConfig | None = None,
        *,
        cache: ResponseCache | None = None,
        redaction: Redaction | None = None,
        http: ProviderHttp | None = None,
        clock: Clock = time.monotonic,
        shared: SharedLimits | None = None,
    ) -> None:
        """``http``: the clients the providers' SDKs send through (the server's apply its
        outbound policy); without it, each SDK's own. ``shared``: queue mode's limits
        across processes, which the credentials' limits then hold in."""
        self.config = config or AIConfig()
        self.http = http
        self.redaction = redaction or NoRedaction()
        self.limits = Limits(self.config, clock, shared)
        self.breaker = Breaker(self.config, clock)
        self.cache = cache
        self._chain = Chain(self.limits, self.breaker)

    def configure(self, config: AIConfig) -> None:
        """New settings, in force from the next call (limits already taken stay)."""
        self.config = config
        self.limits.configure(config)
        self.breaker.configure(config)

    # -- chat -----------------------------------------------------------------------------

    async def chat(self, ctx: NodeContext, request: ChatRequest) -> ChatResponse:
        refs = self._refs(request.models, "chat")
        if request.json_schema is not None and request.tools:
            raise RequestError(
                "ask for structured output (json_schema) or offer tools, not both",
                type="invalid_request",
            )
        cache = request.cache and not holds_secret(request, self.redaction)
        if cache and (hit := await self._cached(ctx, refs, request)) is not None:
            return hit
        await providers.load_module("langchain_core.messages")
        messages = to_langchain(await self._readable(ctx, request.messages))
        timeout_s = request.timeout_s or self.config.timeout_s
        streams = request.stream and request.json_schema is None
        batcher = TokenBatcher(ctx.progress, redaction=self.redaction) if streams else None

        def count(usage: Usage) -> None:
            ctx.add_usage(usage.counts())

        async def call(link: Link) -> Answer:
            return await ask(
                link,
                request,
                messages,
                timeout_s=timeout_s,
                batcher=batcher,
                on_usage=count,
                http=self.http,
            )

        try:
            outcome = await self._chain.run(
                ctx,
                refs,
                call,
                timeout_s=timeout_s,
                what="llm",
                on_fallback=batcher.discard if batcher else None,
            )
        except asyncio.CancelledError:
            if batcher is not None:
                batcher.close()
            raise
        finally:
            if batcher is not None:
                batcher.flush()
        response = _response(outcome)
        if cache:
            await self._store(outcome.link.ref, request, response)
        return response

    async def _readable(
        self, ctx: NodeContext, messages: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """``messages`` with the media stored as files read through the host's ``Files``
        (where it supplies none, such media fail with ``media_not_inline``), and those given
        by URL fetched through ``http`` (where there is none, they pass as URLs)."""
        limit = self.config.max_media_bytes
        files = ctx.services.files
        if files is not None:
            messages = await inline_stored_media(messages, files.read, limit=limit)
        if self.http is not None:
            http, timeout_s = self.http, self.config.timeout_s

            async def fetch(url: str) -> bytes:
                return await http.fetch(url, limit=limit, timeout_s=timeout_s)

            messages = await inline_remote_media(messages, fetch, limit=limit)
        return messages

    async def _cached(
        self, ctx: NodeContext, refs: Sequence[ModelRef], request: ChatRequest
    ) -> ChatResponse | None:
        if self.cache is None:
            return None
        for ref in refs:
            try:
                stored = await self.cache.get(cache_key(ref, request))
            except Exception:
                logger.warning("reading the AI response cache failed", exc_info=True)
                return None
            if stored is None:
                continue
            try:  # the answer is the credential's: the execution redacts its secrets
                await ctx.credential(ref.credential)
            except NodeError:  # gone since: the chain reports it
                continue
            response = self._redacted(ChatResponse.model_validate_json(stored))
            if request.stream and request.json_schema is None and response.text:
                ctx.progress({"token": response.text})
            return response.model_copy(update={"cached": True, "usage": Usage()})
        return None

    async def _store(self, ref: ModelRef, request: ChatRequest, response: ChatResponse) -> None:
        assert self.cache is not None
        kept = self._redacted(response.model_copy(update={"attempts": []}))
        stored = kept.model_dump_json().encode()
        try:
            await self.cache.put(
                cache_key(ref, request),
                provider=response.provider,
                model=response.model,
                response=stored,
            )
        except Exception:
            logger.warning("writing the AI response cache failed", exc_info=True)

    def _redacted(self, response: ChatResponse) -> ChatResponse:
        data = response.model_dump(mode="json")
        return ChatResponse.model_validate(redact_value(data, self.redaction.redact))

    # -- embeddings -----------------------------------------------------------------------

    async def embed(
        self, ctx: NodeContext, models: list[ModelRef], texts: list[str]
    ) -> EmbedResponse:
        refs = self._refs(models, "embeddings")
        if not texts:
            first = refs[0]
            return EmbedResponse(
                vectors=[], provider="", model=first.model, credential=first.credential
            )
        timeout_s = self.config.timeout_s

        async def call(link: Link) -> list[list[float]]:
            client = providers.embeddings(link.credential, link.ref.model, timeout_s, self.http)
            vectors = await asyncio.wait_for(client.aembed_documents(list(texts)), timeout_s)
            return [list(map(float, vector)) for vector in vectors]

        outcome = await self._chain.run(ctx, refs, call, timeout_s=timeout_s, what="embedding")
        return EmbedResponse(
            vectors=outcome.value,
            provider=outcome.link.provider,
            model=outcome.link.ref.model,
            credential=outcome.link.ref.credential,
            attempts=outcome.attempts,
        )

    # -- chains ---------------------------------------------------------------------------

    def _refs(self, models: Sequence[ModelRef], what: str) -> list[ModelRef]:
        if what == "embeddings":
            default, setting = self.config.default_embedding_models, "ai_default_embedding_models"
        else:
            default, setting = self.config.default_models, "ai_default_models"
        refs = list(models) or list(default)
        if not refs:
            raise RequestError(
                f"no model chain for {what}: name the models (credential and model) on the "
                f"node, or set a default chain in the settings ({setting})",
                type="no_models",
            )
        return refs


def _response(outcome: Outcome[Answer]) -> ChatResponse:
    answer, link = outcome.value, outcome.link
    return ChatResponse(
        text=answer.text,
        provider=link.provider,
        model=link.ref.model,
        credential=link.ref.credential,
        usage=answer.usage,
        attempts=outcome.attempts,
        tool_calls=answer.tool_calls,
        structured=answer.structured,
    )
