"""``ai.rag_answer``: answer a question from a vector collection, with sources.

Retrieval-augmented generation in one node: embed the question, retrieve the nearest
chunks, and ask a chat model to answer from them alone, citing them as ``[n]``. The
sources are the chunks the answer cites (all retrieved ones when it cites none), so a
reader can check every claim.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from tav.nodes.ai import ChatRequest, ChatResponse, ModelRef, VectorMatch
from tav.nodes.base import Node, NodeSpec, Outputs, Port
from tav.nodes.builtin.ai.conversation import Text
from tav.nodes.builtin.ai.vectors import (
    EMBEDDING_MODELS,
    RetrievalParams,
    embed,
    match_value,
    query_text,
    search,
)
from tav.nodes.capabilities import AICapability, LLMCapability
from tav.nodes.context import NodeContext
from tav.nodes.host import VECTOR_STORES
from tav.nodes.params import MULTILINE

INSTRUCTIONS = (
    "Answer the question using only the numbered context passages below. After each "
    "statement, cite the passages it comes from as [n], e.g. [1] or [2][3]. If the "
    "passages do not contain the answer, say that you do not know."
)
NO_PASSAGES = "(no passages were found)"
CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


class RagAnswerParams(RetrievalParams):
    question: Text | None = Field(
        None,
        description="The question (a template); empty: the node's input.",
        json_schema_extra=MULTILINE,
    )
    models: list[ModelRef] = Field(
        default_factory=list,
        description="Chat providers to try in order, `{credential, model}` each; empty: the "
        "default chain from the settings.",
    )
    embedding_models: list[ModelRef] = EMBEDDING_MODELS
    system: Text | None = Field(
        None,
        description="More instructions for the model, added to the built-in ones.",
        json_schema_extra=MULTILINE,
    )
    temperature: float | None = Field(
        None, ge=0, le=2, description="Sampling temperature; empty: the provider's default."
    )


class RagAnswer(AICapability, LLMCapability, Node):
    """Answers a question from a vector collection: retrieves the `k` chunks nearest the
    question, asks a chat model to answer from them alone and to cite them as [n], and
    outputs the answer with its sources — the chunks it cites, or every retrieved chunk
    when it cites none. The answer streams as `node.progress` events."""

    spec = NodeSpec(type="ai.rag_answer", title="Answer from documents", category="ai", icon="book")
    Params = RagAnswerParams
    requires = (VECTOR_STORES,)
    inputs = {"input": Port("The question, when `question` is empty.", required=False)}
    outputs = {
        "output": Port(
            "`{answer, sources: [{n, id, text, score, metadata}], provider, model, usage}`."
        )
    }

    async def run(self, params: RagAnswerParams, input: Any, ctx: NodeContext) -> Outputs:
        question = query_text(params.question if params.question is not None else input)
        embedded = await embed(self, ctx, params.embedding_models, [question], 1)
        matches = await search(self, ctx, embedded.vectors[0], params)
        request = ChatRequest(
            models=params.models,
            messages=messages(question, matches, params.system),
            temperature=params.temperature,
        )
        response = await self.chat_models(ctx).chat(ctx, request)
        return {"output": answer(response, matches)}


def messages(question: str, matches: list[VectorMatch], system: str | None) -> list[dict[str, Any]]:
    instructions = f"{INSTRUCTIONS}\n\n{system}" if system else INSTRUCTIONS
    passages = "\n\n".join(f"[{n}] {match.text}" for n, match in enumerate(matches, 1))
    context = passages or NO_PASSAGES
    return [
        {"role": "system", "content": instructions},
        {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {question}"},
    ]


def cited(text: str, count: int) -> list[int]:
    """The passage numbers ``text`` cites (1..count), in passage order."""
    numbers = {
        int(number)
        for group in CITATION.findall(text)
        for number in group.split(",")
        if 1 <= int(number) <= count
    }
    return sorted(numbers)


def answer(response: ChatResponse, matches: list[VectorMatch]) -> dict[str, Any]:
    numbers = cited(response.text, len(matches)) or list(range(1, len(matches) + 1))
    sources = [{"n": n, **match_value(matches[n - 1])} for n in numbers]
    return {
        "answer": response.text,
        "sources": sources,
        "provider": response.provider,
        "model": response.model,
        "usage": response.usage.counts(),
    }
