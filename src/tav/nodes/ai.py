"""What AI nodes ask of their host: chat models, embeddings and vector collections.

Node code speaks these provider-neutral types; ``tav.ai`` implements them with LangChain
(the only package that imports it) and ``tav.storage.vectors`` keeps the collections.
Every call takes the node's context: the host reveals the chain's credentials through it
(so their secrets are redacted), streams tokens as ``node.progress`` events and counts
token usage on the node.

Messages are plain dicts: ``{"role": "system" | "user" | "assistant" | "tool",
"content": str | [content blocks]}``; an assistant message may carry ``tool_calls``
(``[{"id", "name", "arguments"}]``) and a tool message a ``tool_call_id``. Content
blocks are ``{"type": "text", "text": ...}`` or MediaFormat values (``tav.core.media``).
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import ConfigDict, Field

from tav.core.model import Model
from tav.nodes.context import NodeContext


class ModelRef(Model):
    """One link of a model chain: a stored credential (its kind names the provider) and
    the model to ask for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    credential: str = Field(min_length=1, description="Id of a stored provider credential.")
    model: str = Field(min_length=1, description="Model name, as the provider spells it.")


ModelChain = list[ModelRef]
"""Tried in order: an error, a rate limit (429) or a timeout moves on to the next."""


class Usage(Model):
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0

    def counts(self) -> dict[str, int]:
        return self.model_dump()


class ProviderAttempt(Model):
    """One link of the chain that was tried or passed over, and why it did not answer."""

    provider: str
    model: str
    credential: str
    outcome: str = Field(
        description="'answered', 'failed', 'rate_limited', 'timeout' or 'skipped' "
        "(circuit open after repeated failures)."
    )
    error: str | None = None
    duration_ms: float | None = None


class ToolSpec(Model):
    """A tool the model may call: its arguments as a JSON Schema object."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})


class ToolCall(Model):
    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ChatRequest(Model):
    models: ModelChain = Field(
        default_factory=list, description="Empty: the default chain from settings."
    )
    messages: list[dict[str, Any]]
    temperature: float | None = None
    max_tokens: int | None = None
    timeout_s: float | None = Field(None, description="Per provider attempt.")
    stream: bool = Field(True, description="Report tokens as node.progress events.")
    cache: bool = Field(False, description="Reuse a stored answer to the same request.")
    json_schema: dict[str, Any] | None = Field(
        None, description="Ask for an object fitting this JSON Schema (structured output)."
    )
    tools: list[ToolSpec] = Field(default_factory=list)


class ChatResponse(Model):
    text: str
    provider: str
    model: str
    credential: str
    usage: Usage = Field(default_factory=Usage)
    attempts: list[ProviderAttempt] = Field(default_factory=list)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    structured: Any = Field(None, description="The parsed object when json_schema was given.")
    cached: bool = False


class EmbedResponse(Model):
    vectors: list[list[float]]
    provider: str
    model: str
    credential: str
    usage: Usage = Field(default_factory=Usage)
    attempts: list[ProviderAttempt] = Field(default_factory=list)


class VectorRecord(Model):
    id: str
    text: str
    vector: list[float]
    metadata: dict[str, Any] = Field(default_factory=dict)


class VectorMatch(Model):
    id: str
    text: str
    score: float = Field(description="Cosine similarity, 1 = same direction.")
    metadata: dict[str, Any] = Field(default_factory=dict)


class ChatModels(Protocol):
    """Chat models by provider chain, with fallback, limits, streaming, usage and cache."""

    async def chat(self, ctx: NodeContext, request: ChatRequest) -> ChatResponse: ...


class Embeddings(Protocol):
    """Text embeddings from the same providers (and optional local models)."""

    async def embed(
        self, ctx: NodeContext, models: ModelChain, texts: list[str]
    ) -> EmbedResponse: ...


class VectorStores(Protocol):
    """Named collections of texts, vectors and metadata."""

    async def upsert(self, collection: str, records: list[VectorRecord]) -> int:
        """Insert or replace records by id; returns how many were written. A collection's
        dimension is fixed by its first record; a vector of another size is refused."""
        ...

    async def search(
        self,
        collection: str,
        vector: list[float],
        *,
        k: int = 4,
        where: dict[str, Any] | None = None,
    ) -> list[VectorMatch]:
        """The ``k`` records nearest ``vector``, best first; ``where`` keeps only records
        whose metadata has each given key equal to the given value."""
        ...

    async def delete(self, collection: str, ids: list[str] | None = None) -> int:
        """Delete records by id, or the whole collection when ``ids`` is None."""
        ...


class WorkflowDescription(Model):
    """A stored workflow as an agent's tool sees it."""

    id: str
    name: str
    description: str = ""
    input_schema: dict[str, Any] | None = Field(
        None, description="JSON Schema of the trigger payload, when the workflow declares one."
    )


class WorkflowCatalog(Protocol):
    """Names, descriptions and input schemas of stored workflows (an agent's tools)."""

    async def describe(self, ref: str) -> WorkflowDescription:
        """The workflow ``ref`` (a stored workflow id), as ``ctx.run_workflow`` would run
        it; raises ``NotFound`` when there is none."""
        ...


class TextChunk(Model):
    text: str
    start_index: int = Field(description="Where the chunk starts in the text (characters).")


class TextSplitter(Protocol):
    """Splits text into overlapping chunks of at most ``chunk_size`` characters, trying
    each separator in turn (paragraphs, then lines, then words, then characters)."""

    def split(
        self,
        text: str,
        *,
        chunk_size: int,
        chunk_overlap: int,
        separators: list[str] | None = None,
    ) -> list[TextChunk]: ...
