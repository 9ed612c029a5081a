"""Vector collections over the API, and retrieval-augmented answers end to end: split and
store documents, then answer a question with sources, through the real embedding and chat
services and LangChain clients against the fake provider servers (``tests.fakes.llm``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tav.app.server import Server
from tav.core.media import Media
from tav.nodes.ai import VectorRecord
from tests.api.helpers import run_to_end, stored
from tests.fakes.llm import EMBED_DIM, FakeProviders, Reply
from tests.helpers import document, node

BASE = "/api/v1/collections"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HANDBOOK = {
    "holidays.md": "Every employee gets twenty five days of paid holiday per year.\n\n"
    "Unused holiday days can be carried over until the end of March.",
    "expenses.md": "Submit travel expenses within thirty days with the original receipts.\n\n"
    "Meals abroad are reimbursed up to a daily allowance.",
    "security.md": "Lock your laptop screen whenever you leave your desk.\n\n"
    "Report lost badges to the security office at once.",
}
QUESTION = "How many days of paid holiday does an employee get per year?"


def ingest(embedder: list[dict[str, str]]) -> dict[str, Any]:
    return document(
        node("start", "trigger.manual"),
        node(
            "split",
            "ai.text_split",
            params={"text": "{{ trigger.documents }}", "chunk_size": 100, "chunk_overlap": 0},
        ),
        node(
            "store",
            "ai.vector_upsert",
            params={"collection": "handbook", "models": embedder, "batch_size": 4},
        ),
        node("out", "core.output"),
        links=("start -> split", "split -> store", "store -> out"),
        name="Ingest the handbook",
    )


def ask(chat: list[dict[str, str]], embedder: list[dict[str, str]]) -> dict[str, Any]:
    return document(
        node("start", "trigger.manual"),
        node(
            "answer",
            "ai.rag_answer",
            params={
                "question": "{{ trigger.question }}",
                "collection": "handbook",
                "k": 3,
                "models": chat,
                "embedding_models": embedder,
            },
        ),
        node("out", "core.output"),
        links=("start -> answer", "answer -> out"),
        name="Ask the handbook",
    )


async def openai_credential(client: httpx.AsyncClient, fake: FakeProviders) -> str:
    body = {
        "name": "Fake OpenAI",
        "kind": "openai",
        "data": {"api_key": "sk-test", "base_url": fake.url("openai")},
    }
    response = await client.post("/api/v1/credentials", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_split_store_and_answer_with_sources(
    client: httpx.AsyncClient, server: Server, fake_llm: FakeProviders
):
    credential = await openai_credential(client, fake_llm)
    embedder = [{"credential": credential, "model": "text-embedding-test"}]
    chat = [{"credential": credential, "model": "gpt-test"}]
    documents = [Media.text(text, name=name).to_value() for name, text in HANDBOOK.items()]

    ingested = await run_to_end(
        client, await stored(server, ingest(embedder)), input={"documents": documents}
    )

    assert ingested["status"] == "succeeded", ingested
    assert ingested["output"]["count"] == 6
    assert ingested["output"]["provider"] == "openai"
    assert len(fake_llm.requests_to("openai")) == 2  # six chunks, four per request
    fake_llm.reset()

    # The first request is the question's embedding, the second the chat.
    fake_llm.reply("openai", Reply(), Reply(text="Twenty five days a year [1]."))
    answered = await run_to_end(
        client, await stored(server, ask(chat, embedder)), input={"question": QUESTION}
    )

    assert answered["status"] == "succeeded", answered
    out = answered["output"]
    assert out["answer"] == "Twenty five days a year [1]."
    [source] = out["sources"]
    assert source["n"] == 1
    assert source["text"] == HANDBOOK["holidays.md"].split("\n\n")[0]
    assert source["metadata"] == {"source": "holidays.md", "chunk": 0, "start_index": 0}
    assert 0 < source["score"] <= 1
    assert (out["provider"], out["model"]) == ("openai", "gpt-test")
    embedding, completion = fake_llm.requests_to("openai")
    assert embedding.path.endswith("/embeddings")
    assert embedding.json["input"] == [QUESTION]
    context = completion.json["messages"][-1]["content"]
    assert context.startswith(f"Context:\n[1] {source['text']}\n\n[2] ")
    assert context.endswith(f"Question: {QUESTION}")

    collections = (await client.get(BASE)).json()
    assert [(c["name"], c["dimension"], c["count"]) for c in collections] == [
        ("handbook", EMBED_DIM, 6)
    ]


async def test_an_echoed_answer_cites_every_chunk_best_first(
    client: httpx.AsyncClient, server: Server, fake_llm: FakeProviders
):
    credential = await openai_credential(client, fake_llm)
    embedder = [{"credential": credential, "model": "text-embedding-test"}]
    chat = [{"credential": credential, "model": "gpt-test"}]
    documents = [Media.text(text, name=name).to_value() for name, text in HANDBOOK.items()]
    await run_to_end(client, await stored(server, ingest(embedder)), input={"documents": documents})

    answered = await run_to_end(
        client, await stored(server, ask(chat, embedder)), input={"question": QUESTION}
    )

    sources = answered["output"]["sources"]
    assert [s["n"] for s in sources] == [1, 2, 3]
    assert sources[0]["metadata"]["source"] == "holidays.md"
    assert sources[0]["score"] >= sources[1]["score"] >= sources[2]["score"]


async def test_list_and_delete_collections(client: httpx.AsyncClient, server: Server):
    assert (await client.get(BASE)).json() == []
    await server.parts.vectors.upsert(
        "b-notes", [VectorRecord(id=str(i), text="t", vector=[1, 0, i]) for i in range(3)]
    )
    await server.parts.vectors.upsert("a-faq", [VectorRecord(id="q", text="t", vector=[1, 0])])

    listed = (await client.get(BASE)).json()

    assert [(c["name"], c["dimension"], c["count"]) for c in listed] == [
        ("a-faq", 2, 1),
        ("b-notes", 3, 3),
    ]
    assert all(c["created_at"] for c in listed)
    response = await client.delete(f"{BASE}/b-notes")
    assert response.status_code == 204
    assert [c["name"] for c in (await client.get(BASE)).json()] == ["a-faq"]
    assert await server.parts.vectors.collection("b-notes") is None


async def test_deleting_an_unknown_collection_is_404(client: httpx.AsyncClient):
    response = await client.delete(f"{BASE}/nope")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "'nope'" in response.json()["error"]["message"]


async def test_collections_need_authentication(anonymous: httpx.AsyncClient):
    assert (await anonymous.get(BASE)).status_code == 401
    assert (await anonymous.delete(f"{BASE}/x")).status_code == 401


def example(name: str, credential: str) -> dict[str, Any]:
    doc = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    doc["vars"]["openai_credential"] = credential
    return dict(doc)


async def test_the_rag_examples_ingest_and_answer(
    client: httpx.AsyncClient, server: Server, fake_llm: FakeProviders
):
    credential = await openai_credential(client, fake_llm)
    documents = [{"text": text, "metadata": {"source": name}} for name, text in HANDBOOK.items()]

    ingested = await run_to_end(
        client,
        await stored(server, example("rag-ingest.json", credential)),
        input={"documents": documents},
    )
    answered = await run_to_end(
        client,
        await stored(server, example("rag-ask.json", credential)),
        input={"question": QUESTION},
    )

    assert ingested["output"] == {
        "collection": "handbook",
        "chunks": 3,
        "model": "text-embedding-3-small",
    }
    assert answered["status"] == "succeeded", answered
    assert answered["output"]["answer"].startswith("echo: Context:\n[1] Every employee")
    assert answered["output"]["sources"][0] == {
        "source": "holidays.md",
        "chunk": 0,
        "start_index": 0,
    }
