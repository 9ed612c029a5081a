"""Embeddings and vector collections: ``ai.embed``, ``ai.vector_upsert``,
``ai.vector_search``.

Texts are embedded in batches through the host's ``Embeddings`` (a provider chain with
fallback). The node counts the tokens each response reports (``ctx.add_usage``): chat
services count their own, embedding services leave it to the node. All the batches of
one node must come from one model: vectors of two models are not comparable, even when
they have the same size, so a fallback in the middle of a node fails it (retryable: the
next attempt may get one model for all).
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, model_validator

from tav.core.errors import NodeError
from tav.core.model import Model
from tav.nodes.ai import ModelRef, Usage, VectorMatch, VectorRecord
from tav.nodes.base import Node, NodeSpec, Outputs, Port
from tav.nodes.builtin.ai.documents import read_documents, stable_id
from tav.nodes.capabilities import AICapability
from tav.nodes.context import NodeContext
from tav.nodes.host import VECTOR_STORES

MAX_K = 100
COLLECTION: Any = Field(
    min_length=1,
    max_length=200,
    description="The collection's name; upserting into a new name creates it.",
)
EMBEDDING_MODELS: Any = Field(
    default_factory=list,
    description="Embedding models to try in order, `{credential, model}` each (e.g. "
    "text-embedding-3-small); empty: the default embeddings chain from the settings "
    "(ai_default_embedding_models). Use the same model for a collection every time.",
)
BATCH_SIZE: Any = Field(64, ge=1, le=2048, description="Texts per embedding request.")
WHERE: Any = Field(
    default_factory=dict,
    description="Keep only records whose metadata has each key equal to the value "
    "(null: the key is missing or null).",
)


class Embedded(Model):
    vectors: list[list[float]]
    provider: str | None = None
    model: str | None = None
    usage: Usage = Field(default_factory=Usage)

    def answered_by(self) -> dict[str, Any]:
        return {"provider": self.provider, "model": self.model, "usage": self.usage.counts()}


async def embed(
    node: AICapability, ctx: NodeContext, models: list[ModelRef], texts: list[str], batch: int
) -> Embedded:
    """``texts`` embedded in batches of ``batch``, all by one model."""
    result = Embedded(vectors=[])
    service = node.embeddings(ctx)
    for start in range(0, len(texts), batch):
        response = await service.embed(ctx, models, texts[start : start + batch])
        if len(response.vectors) != len(texts[start : start + batch]):
            raise NodeError(
                f"{response.provider} returned {len(response.vectors)} vectors for "
                f"{len(texts[start : start + batch])} texts",
                type="invalid_output",
                retryable=True,
            )
        if result.provider is not None and (result.provider, result.model) != (
            response.provider,
            response.model,
        ):
            raise NodeError(
                f"the texts were embedded by {result.provider} {result.model} and then, after "
                f"a fallback, by {response.provider} {response.model}: vectors of two models "
                "cannot be compared",
                type="embedding_model_changed",
                retryable=True,
            )
        result.provider, result.model = response.provider, response.model
        result.vectors.extend(response.vectors)
        result.usage = _add(result.usage, response.usage)
        if response.usage.total_tokens or response.usage.input_tokens:
            ctx.add_usage(response.usage.counts())
    return result


def _add(a: Usage, b: Usage) -> Usage:
    return Usage(
        input_tokens=a.input_tokens + b.input_tokens,
        output_tokens=a.output_tokens + b.output_tokens,
        total_tokens=a.total_tokens + b.total_tokens,
    )


def match_value(match: VectorMatch) -> dict[str, Any]:
    return {"id": match.id, "text": match.text, "score": match.score, "metadata": match.metadata}


# -- ai.embed ------------------------------------------------------------------------------------


class EmbedParams(Model):
    model_config = ConfigDict(extra="forbid")

    texts: Any = Field(
        None,
        description="What to embed (a template): a text, a list of texts, or documents "
        "(`{text, metadata}`, e.g. chunks); empty: the node's input.",
    )
    models: list[ModelRef] = EMBEDDING_MODELS
    batch_size: int = BATCH_SIZE


class Embed(AICapability, Node):
    """Turns texts into vectors (embeddings) with an embedding model: one vector per
    text, in order, with the provider and model that made them and the tokens used."""

    spec = NodeSpec(type="ai.embed", title="Embed texts", category="ai", icon="binary")
    Params = EmbedParams
    inputs = {"input": Port("Texts or documents, when `texts` is empty.", required=False)}
    outputs = {"output": Port("`{vectors, provider, model, usage}`.")}
    pool = "llm"

    async def run(self, params: EmbedParams, input: Any, ctx: NodeContext) -> Outputs:
        value = params.texts if params.texts is not None else input
        what = "`texts`" if params.texts is not None else "the input"
        texts = [document.text for document in read_documents(value, what=what)]
        embedded = await embed(self, ctx, params.models, texts, params.batch_size)
        return {"output": {"vectors": embedded.vectors, **embedded.answered_by()}}


# -- ai.vector_upsert ----------------------------------------------------------------------------


class VectorUpsertParams(Model):
    model_config = ConfigDict(extra="forbid")

    collection: str = COLLECTION
    documents: Any = Field(
        None,
        description="What to store (a template): chunks of `ai.text_split` or other "
        "`{text, metadata, id?, vector?}` objects, texts or text media; empty: the node's "
        "input. Without an `id`, a record's id comes from its metadata's `source` and "
        "`chunk` (else from its text), so storing the same chunks again replaces them.",
    )
    models: list[ModelRef] = EMBEDDING_MODELS
    batch_size: int = BATCH_SIZE


class VectorUpsert(AICapability, Node):
    """Embeds documents (chunks) and stores them in a vector collection, replacing records
    with the same id. Documents that carry a `vector` are stored as they are."""

    spec = NodeSpec(
        type="ai.vector_upsert", title="Store in vector collection", category="ai", icon="database"
    )
    Params = VectorUpsertParams
    requires = (VECTOR_STORES,)
    inputs = {"input": Port("Documents, when `documents` is empty.", required=False)}
    outputs = {"output": Port("`{collection, count, ids, provider, model, usage}`.")}
    pool = "llm"

    async def run(self, params: VectorUpsertParams, input: Any, ctx: NodeContext) -> Outputs:
        value = params.documents if params.documents is not None else input
        what = "`documents`" if params.documents is not None else "the input"
        documents = read_documents(value, what=what)
        missing = [i for i, document in enumerate(documents) if document.vector is None]
        texts = [documents[i].text for i in missing]
        embedded = await embed(self, ctx, params.models, texts, params.batch_size)
        vectors = dict(zip(missing, embedded.vectors, strict=True))
        records = [
            VectorRecord(
                id=document.id or stable_id(document.text, document.metadata),
                text=document.text,
                vector=document.vector if document.vector is not None else vectors[i],
                metadata=document.metadata,
            )
            for i, document in enumerate(documents)
        ]
        count = await self.vector_stores(ctx).upsert(params.collection, records)
        ids = list(dict.fromkeys(record.id for record in records))
        output = {"collection": params.collection, "count": count, "ids": ids}
        return {"output": {**output, **embedded.answered_by()}}


# -- ai.vector_search ----------------------------------------------------------------------------


class RetrievalParams(Model):
    """Which records to retrieve: what ``ai.vector_search`` and ``ai.rag_answer`` share."""

    model_config = ConfigDict(extra="forbid")

    collection: str = COLLECTION
    k: int = Field(4, ge=1, le=MAX_K, description="How many records to retrieve, best first.")
    where: dict[str, Any] = WHERE
    min_score: float | None = Field(
        None, ge=-1, le=1, description="Drop matches less similar than this (cosine, -1..1)."
    )


class VectorSearchParams(RetrievalParams):
    query: Any = Field(
        None, description="The text to look for (a template); empty: the node's input."
    )
    vector: list[float] | None = Field(
        None, description="Search with this vector instead of embedding a query."
    )
    models: list[ModelRef] = EMBEDDING_MODELS

    @model_validator(mode="after")
    def _one_query(self) -> VectorSearchParams:
        if self.query is not None and self.vector is not None:
            raise ValueError("set either `query` or `vector`, not both")
        return self


class VectorSearch(AICapability, Node):
    """Finds the records of a vector collection nearest a query text (embedded with the
    collection's model) or a vector, best first, with their cosine similarity as `score`
    (1: the same direction)."""

    spec = NodeSpec(
        type="ai.vector_search", title="Search vector collection", category="ai", icon="search"
    )
    Params = VectorSearchParams
    requires = (VECTOR_STORES,)
    inputs = {"input": Port("The query text, when `query` and `vector` are empty.", required=False)}
    outputs = {"output": Port("`{matches: [{id, text, score, metadata}]}`.")}
    pool = "llm"

    async def run(self, params: VectorSearchParams, input: Any, ctx: NodeContext) -> Outputs:
        vector = params.vector
        if vector is None:
            query = query_text(params.query if params.query is not None else input)
            vector = (await embed(self, ctx, params.models, [query], 1)).vectors[0]
        matches = await search(self, ctx, vector, params)
        return {"output": {"matches": [match_value(match) for match in matches]}}


async def search(
    node: AICapability,
    ctx: NodeContext,
    vector: list[float],
    params: RetrievalParams,
) -> list[VectorMatch]:
    """The records of ``params.collection`` nearest ``vector``, as ``params`` says."""
    matches = await node.vector_stores(ctx).search(
        params.collection, vector, k=params.k, where=params.where or None
    )
    if params.min_score is not None:
        matches = [match for match in matches if match.score >= params.min_score]
    return matches


def query_text(value: Any) -> str:
    """The query or question as text: a string, or the first document's text."""
    if isinstance(value, list):
        value = value[0] if value else None
    text = read_documents(value, what="the query")[0].text if value not in (None, "") else ""
    if not text.strip():
        raise NodeError(
            "nothing to search for: set the query or question, or connect an input",
            type="invalid_input",
        )
    return text
