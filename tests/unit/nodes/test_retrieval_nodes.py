"""Retrieval nodes: ai.text_split, ai.embed, ai.vector_upsert, ai.vector_search,
ai.rag_answer — with the real splitter and vector store (SQLite), and stand-in models."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tav.ai.text import RecursiveTextSplitter
from tav.core.errors import WorkflowInvalid
from tav.core.media import Media
from tav.core.states import ExecutionStatus, NodeStatus
from tav.engine.executor import Executor
from tav.nodes.ai import (
    ChatRequest,
    ChatResponse,
    EmbedResponse,
    ModelRef,
    Usage,
)
from tav.nodes.context import NodeContext
from tav.nodes.host import HostServices
from tav.nodes.registry import NodeRegistry
from tav.storage.db import Database
from tav.storage.vectors import VectorStore
from tests.fakes.llm import embed_text
from tests.helpers import node, run, workflow

MODELS = [{"credential": "cred", "model": "embedder"}]
PETS = (
    "Cats sleep for most of the day and purr when content.\n\n"
    "Dogs need a walk every morning and love to fetch a ball.\n\n"
    "Parrots can learn to repeat words and whistle tunes."
)


class BagOfWords:
    """Embeddings: the fake provider's hashed bag of words; one call per batch."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.models: list[str] = []

    async def embed(self, ctx: NodeContext, models: list[ModelRef], texts: list[str]) -> Any:
        self.batches.append(list(texts))
        model = self.models.pop(0) if self.models else "embedder"
        return EmbedResponse(
            vectors=[embed_text(text) for text in texts],
            provider="fake",
            model=model,
            credential="cred",
            usage=Usage(input_tokens=len(texts), total_tokens=len(texts)),
        )


class Scripted:
    """ChatModels: answers with the scripted text, else echoes the last message."""

    def __init__(self) -> None:
        self.requests: list[ChatRequest] = []
        self.answer: str | None = None

    async def chat(self, ctx: NodeContext, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        text = self.answer or f"echo: {request.messages[-1]['content']}"
        usage = Usage(input_tokens=10, output_tokens=3, total_tokens=13)
        ctx.add_usage(usage.counts())
        return ChatResponse(text=text, provider="fake", model="chat", credential="c", usage=usage)


@pytest.fixture
async def vectors(tmp_path: Path) -> AsyncIterator[VectorStore]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'tav.db'}")
    await db.migrate()
    yield VectorStore(db)
    await db.close()


@pytest.fixture
def embeddings() -> BagOfWords:
    return BagOfWords()


@pytest.fixture
def chat() -> Scripted:
    return Scripted()


@pytest.fixture
def executor(
    registry: NodeRegistry, vectors: VectorStore, embeddings: BagOfWords, chat: Scripted
) -> Executor:
    services = HostServices(
        text_splitter=RecursiveTextSplitter(),
        embeddings=embeddings,
        chat_models=chat,
        vector_stores=vectors,
    )
    return Executor(registry, services=services)


def one(type_: str, **params: Any):
    return workflow(
        node("start", "trigger.manual"), node("n", type_, params=params), links=("start -> n",)
    )


async def output(executor: Executor, type_: str, trigger: Any = None, **params: Any) -> Any:
    result = await run(executor, one(type_, **params), trigger)
    assert result.status is ExecutionStatus.SUCCEEDED, result.nodes["n"].error
    return result.nodes["n"].outputs["output"]


async def failure(executor: Executor, type_: str, trigger: Any = None, **params: Any):
    result = await run(executor, one(type_, **params), trigger)
    assert result.nodes["n"].status is NodeStatus.FAILED
    assert result.nodes["n"].error is not None
    return result.nodes["n"].error


async def ingest(executor: Executor, text: str = PETS, **metadata: Any) -> dict[str, Any]:
    wf = workflow(
        node("start", "trigger.manual"),
        node(
            "split",
            "ai.text_split",
            params={"chunk_size": 80, "chunk_overlap": 0, "metadata": metadata},
        ),
        node("store", "ai.vector_upsert", params={"collection": "pets", "models": MODELS}),
        links=("start -> split", "split -> store"),
    )
    result = await run(executor, wf, text)
    assert result.status is ExecutionStatus.SUCCEEDED, result.nodes["store"].error
    return dict(result.nodes["store"].outputs["output"])


# -- ai.text_split -------------------------------------------------------------------------------


async def test_split_makes_overlapping_chunks_that_point_into_the_text(executor: Executor):
    text = " ".join(f"word{i}" for i in range(200))

    chunks = await output(executor, "ai.text_split", text, chunk_size=100, chunk_overlap=30)

    assert len(chunks) > 5
    for number, chunk in enumerate(chunks):
        assert len(chunk["text"]) <= 100
        assert chunk["metadata"]["chunk"] == number
        start = chunk["metadata"]["start_index"]
        assert text[start : start + len(chunk["text"])] == chunk["text"]
    first, second = chunks[0]["text"], chunks[1]["text"]
    assert second.split()[0] in first.split()  # the overlap


async def test_split_keeps_paragraphs_together_when_they_fit(executor: Executor):
    chunks = await output(executor, "ai.text_split", PETS, chunk_size=80, chunk_overlap=0)

    assert [chunk["text"] for chunk in chunks] == PETS.split("\n\n")


async def test_split_takes_media_and_documents_with_their_metadata(executor: Executor):
    documents = [
        Media.text("Alpha beta gamma.", name="greek.txt", metadata={"lang": "el"}).to_value(),
        {"text": "Delta epsilon.", "metadata": {"source": "more.md", "page": 2}},
        "Just a string.",
    ]

    chunks = await output(
        executor,
        "ai.text_split",
        documents,
        chunk_size=50,
        chunk_overlap=0,
        metadata={"team": "docs", "lang": "en"},
    )

    assert chunks == [
        {
            "text": "Alpha beta gamma.",
            "metadata": {
                "team": "docs",
                "lang": "el",
                "source": "greek.txt",
                "chunk": 0,
                "start_index": 0,
            },
        },
        {
            "text": "Delta epsilon.",
            "metadata": {
                "team": "docs",
                "lang": "en",
                "source": "more.md",
                "page": 2,
                "chunk": 0,
                "start_index": 0,
            },
        },
        {
            "text": "Just a string.",
            "metadata": {"team": "docs", "lang": "en", "chunk": 0, "start_index": 0},
        },
    ]


async def test_split_separators_decide_where_to_cut(executor: Executor):
    chunks = await output(
        executor, "ai.text_split", "a;b;c", chunk_size=2, chunk_overlap=0, separators=[";"]
    )

    assert [chunk["text"] for chunk in chunks] == ["a", ";b", ";c"]


async def test_split_refuses_what_is_not_text(executor: Executor):
    image = Media.from_bytes(b"\x89PNG", mime_type="image/png").to_value()

    error = await failure(executor, "ai.text_split", image)
    assert (error.type, error.message) == (
        "invalid_input",
        "the input is a image (image/png), not text",
    )
    stored = Media.file("files/big.txt", mime_type="text/plain").to_value()
    error = await failure(executor, "ai.text_split", [stored])
    assert "stored as a file (files/big.txt); read it into text first" in error.message
    error = await failure(executor, "ai.text_split", [{"x": 1}])
    assert "the input[0] is not a document" in error.message
    error = await failure(executor, "ai.text_split", None)
    assert error.message == "the input has no text"


def test_split_overlap_must_be_smaller_than_the_chunks(executor: Executor):
    with pytest.raises(WorkflowInvalid, match="chunk_overlap must be smaller than chunk_size"):
        executor.compile(one("ai.text_split", chunk_size=10, chunk_overlap=10))


# -- ai.embed ------------------------------------------------------------------------------------


async def test_embed_returns_one_vector_per_text_in_batches(executor, embeddings: BagOfWords):
    texts = ["one", "two", "three", "four", "five"]

    result = await run(executor, one("ai.embed", texts=texts, models=MODELS, batch_size=2))

    out = result.nodes["n"].outputs["output"]
    assert out["vectors"] == [embed_text(text) for text in texts]
    assert (out["provider"], out["model"]) == ("fake", "embedder")
    assert out["usage"] == {"input_tokens": 5, "output_tokens": 0, "total_tokens": 5}
    assert embeddings.batches == [["one", "two"], ["three", "four"], ["five"]]
    assert result.nodes["n"].usage == {"input_tokens": 5, "output_tokens": 0, "total_tokens": 5}


async def test_embed_takes_chunks_from_its_input(executor, embeddings: BagOfWords):
    chunks = [{"text": "a cat", "metadata": {}}, {"text": "a dog", "metadata": {}}]

    out = await output(executor, "ai.embed", chunks)

    assert out["vectors"] == [embed_text("a cat"), embed_text("a dog")]


async def test_embed_fails_when_a_fallback_changes_the_model_midway(executor, embeddings):
    embeddings.models = ["embedder", "other"]

    error = await failure(executor, "ai.embed", texts=["a", "b"], batch_size=1)

    assert error.type == "embedding_model_changed"
    assert error.retryable


# -- ai.vector_upsert ----------------------------------------------------------------------------


async def test_upsert_stores_chunks_with_stable_ids(executor, vectors: VectorStore):
    first = await ingest(executor, source="pets.md")
    again = await ingest(executor, source="pets.md")

    assert first["collection"] == "pets"
    assert first["count"] == 3
    assert len(set(first["ids"])) == 3
    assert again["ids"] == first["ids"]
    [info] = await vectors.collections()
    assert (info.name, info.count, info.dimension) == ("pets", 3, len(embed_text("x")))


async def test_upsert_ids_of_chunks_without_source_come_from_their_text(executor):
    first = await ingest(executor)
    changed = await ingest(executor, PETS.replace("Parrots", "Budgies"))

    assert first["ids"][:2] == changed["ids"][:2]
    assert first["ids"][2] != changed["ids"][2]


async def test_upsert_keeps_given_ids_and_vectors(executor, vectors, embeddings):
    documents = [
        {"id": "given", "text": "no embedding needed", "vector": embed_text("cats purr")},
        {"text": "cats purr", "metadata": {"kind": "cat"}},
    ]

    out = await output(executor, "ai.vector_upsert", documents=documents, collection="c")

    assert out["ids"][0] == "given"
    assert embeddings.batches == [["cats purr"]]
    matches = await vectors.search("c", embed_text("cats purr"), k=2)
    assert {m.id for m in matches} == {"given", out["ids"][1]}
    assert all(m.score == pytest.approx(1.0) for m in matches)


async def test_upsert_into_a_collection_of_another_dimension_fails(executor, vectors):
    await output(executor, "ai.vector_upsert", ["hello"], collection="c")
    error = await failure(
        executor, "ai.vector_upsert", [{"text": "x", "vector": [1.0, 2.0]}], collection="c"
    )

    assert error.type == "vector_dimension_mismatch"
    assert "'c' holds vectors of 16 dimensions" in error.message
    assert not error.retryable


async def test_nothing_to_store_stores_nothing(executor, vectors, embeddings):
    assert await output(executor, "ai.text_split", []) == []
    out = await output(executor, "ai.vector_upsert", [], collection="c")

    assert (out["count"], out["ids"]) == (0, [])
    assert embeddings.batches == []
    assert await vectors.collections() == []


# -- ai.vector_search ----------------------------------------------------------------------------


async def test_search_finds_the_nearest_chunk_first(executor):
    await ingest(executor, source="pets.md")

    out = await output(
        executor,
        "ai.vector_search",
        "Who needs a walk every morning and a ball to fetch?",
        collection="pets",
        k=2,
        models=MODELS,
    )

    best = out["matches"][0]
    assert best["text"].startswith("Dogs need a walk")
    assert best["metadata"] == {"source": "pets.md", "chunk": 1, "start_index": PETS.index("Dogs")}
    assert set(best) == {"id", "text", "score", "metadata"}
    assert best["score"] > out["matches"][1]["score"]
    assert len(out["matches"]) == 2


async def test_search_filters_by_metadata_and_score(executor):
    await ingest(executor, source="pets.md")

    out = await output(
        executor, "ai.vector_search", query="walk", collection="pets", where={"chunk": 2}
    )
    assert [m["metadata"]["chunk"] for m in out["matches"]] == [2]

    out = await output(
        executor,
        "ai.vector_search",
        query="Dogs need a walk every morning and love to fetch a ball.",
        collection="pets",
        min_score=0.99,
    )
    assert [m["metadata"]["chunk"] for m in out["matches"]] == [1]


async def test_search_with_a_vector(executor, embeddings):
    await ingest(executor)
    embeddings.batches.clear()

    vector = embed_text("Parrots can learn to repeat words and whistle tunes.")
    out = await output(executor, "ai.vector_search", collection="pets", vector=vector, k=1)

    assert out["matches"][0]["score"] == pytest.approx(1.0)
    assert embeddings.batches == []


@pytest.mark.parametrize("query", ["", "   ", [], [""]])
async def test_search_needs_something_to_search_for(executor, query):
    await ingest(executor)

    error = await failure(executor, "ai.vector_search", query=query, collection="pets")

    assert error.type == "invalid_input"
    assert "nothing to search for" in error.message


async def test_search_in_an_unknown_collection_fails(executor):
    error = await failure(executor, "ai.vector_search", "query", collection="nope")

    assert error.type == "collection_not_found"
    assert not error.retryable


# -- ai.rag_answer -------------------------------------------------------------------------------


async def test_rag_answer_cites_its_sources(executor, chat: Scripted):
    await ingest(executor, source="pets.md")
    chat.answer = "Dogs do [1]; cats do not [7]."

    result = await run(
        executor,
        one(
            "ai.rag_answer",
            question="Who needs a walk every morning and a ball to fetch?",
            collection="pets",
            k=3,
            embedding_models=MODELS,
            system="Be brief.",
        ),
    )

    out = result.nodes["n"].outputs["output"]
    assert out["answer"] == "Dogs do [1]; cats do not [7]."
    [source] = out["sources"]
    assert source["n"] == 1
    assert source["text"].startswith("Dogs need a walk")
    assert source["metadata"]["source"] == "pets.md"
    assert (out["provider"], out["model"]) == ("fake", "chat")
    assert out["usage"] == {"input_tokens": 10, "output_tokens": 3, "total_tokens": 13}
    assert result.nodes["n"].usage == {"input_tokens": 11, "output_tokens": 3, "total_tokens": 14}
    [request] = chat.requests
    system, user = request.messages
    assert "cite the passages" in system["content"]
    assert system["content"].endswith("\n\nBe brief.")
    assert user["content"].startswith("Context:\n[1] Dogs need a walk")
    assert "\n\n[2] " in user["content"]
    assert "\n\n[3] " in user["content"]
    assert user["content"].endswith(
        "\n\nQuestion: Who needs a walk every morning and a ball to fetch?"
    )
    assert request.stream


async def test_rag_answer_without_citations_returns_every_retrieved_chunk(executor, chat):
    await ingest(executor)
    chat.answer = "Dogs [2, 1] and parrots [3]"

    out = await output(executor, "ai.rag_answer", "walk", collection="pets", k=3)
    assert [s["n"] for s in out["sources"]] == [1, 2, 3]

    chat.answer = "I do not know."
    out = await output(executor, "ai.rag_answer", "walk", collection="pets", k=2)
    assert [s["n"] for s in out["sources"]] == [1, 2]


async def test_rag_answer_with_nothing_retrieved_says_so_to_the_model(executor, chat):
    await ingest(executor)

    out = await output(
        executor, "ai.rag_answer", "walk", collection="pets", where={"source": "elsewhere"}
    )

    assert out["sources"] == []
    assert "(no passages were found)" in chat.requests[0].messages[1]["content"]


def test_retrieval_nodes_are_registered(registry: NodeRegistry):
    for type_ in (
        "ai.text_split",
        "ai.embed",
        "ai.vector_upsert",
        "ai.vector_search",
        "ai.rag_answer",
    ):
        assert registry.get(type_).spec.category == "ai"
