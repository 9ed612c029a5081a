"""``ai.text_split``: documents into overlapping chunks, ready to embed and store.

The splitting itself is the host's ``TextSplitter`` (``tav.ai.text``: LangChain's
recursive character splitter), so this node stays free of LangChain.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, model_validator

from tav.core.errors import NodeError
from tav.core.model import Model
from tav.nodes.ai import TextSplitter
from tav.nodes.base import Node, NodeSpec, Outputs, Port
from tav.nodes.builtin.ai.documents import Document, read_documents
from tav.nodes.context import NodeContext
from tav.nodes.host import TEXT_SPLITTER

CHUNK_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "text": {"type": "string"},
            "metadata": {"type": "object"},
        },
        "required": ["text", "metadata"],
    },
}


class TextSplitParams(Model):
    model_config = ConfigDict(extra="forbid")

    text: Any = Field(
        None,
        description="What to split (a template): text, a text media value, a "
        "`{text, metadata}` object, or a list of them; empty: the node's input.",
    )
    chunk_size: int = Field(1000, ge=1, description="Longest chunk, in characters.")
    chunk_overlap: int = Field(
        200, ge=0, description="Characters a chunk may repeat from the end of the previous one."
    )
    separators: list[str] | None = Field(
        None,
        description="Where to split, tried in order; empty: paragraphs, lines, words, "
        'characters (`["\\n\\n", "\\n", " ", ""]`).',
    )
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description="Added to every chunk's metadata (e.g. `source`), under the document's own.",
    )

    @model_validator(mode="after")
    def _overlap(self) -> TextSplitParams:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        return self


class TextSplit(Node):
    """Splits text into overlapping chunks of at most `chunk_size` characters, on
    paragraph, line and word boundaries where it can. Each chunk keeps its document's
    metadata and gets `chunk` (its number in the document, from 0), `start_index` (where
    it starts in the document) and `source` when the document has one (a media value's
    name). Feed the chunks to `ai.vector_upsert`."""

    spec = NodeSpec(type="ai.text_split", title="Split text", category="ai", icon="scissors")
    Params = TextSplitParams
    requires = (TEXT_SPLITTER,)
    inputs = {"input": Port("Text, media or documents, when `text` is empty.", required=False)}
    outputs = {"output": Port("`[{text, metadata}]`, the chunks in order.", schema=CHUNK_SCHEMA)}

    async def run(self, params: TextSplitParams, input: Any, ctx: NodeContext) -> Outputs:
        value = params.text if params.text is not None else input
        what = "`text`" if params.text is not None else "the input"
        documents = read_documents(value, what=what)
        splitter = ctx.service(TEXT_SPLITTER)
        chunks = await ctx.to_thread(_split_all, splitter, documents, params)
        return {"output": chunks}


def _split_all(
    splitter: TextSplitter, documents: list[Document], params: TextSplitParams
) -> list[dict[str, Any]]:
    chunks: list[dict[str, Any]] = []
    for document in documents:
        metadata = {**params.metadata, **document.metadata}
        try:
            pieces = splitter.split(
                document.text,
                chunk_size=params.chunk_size,
                chunk_overlap=params.chunk_overlap,
                separators=params.separators,
            )
        except ValueError as exc:
            raise NodeError(str(exc), type="params_invalid") from None
        for number, piece in enumerate(pieces):
            chunk_metadata = {**metadata, "chunk": number, "start_index": piece.start_index}
            chunks.append({"text": piece.text, "metadata": chunk_metadata})
    return chunks
