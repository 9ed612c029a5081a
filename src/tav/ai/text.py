"""Text splitting for retrieval: ``RecursiveTextSplitter`` implements ``TextSplitter``.

LangChain's recursive character splitter: it splits on the first separator (paragraphs by
default), then recursively on the next ones for pieces still too long, and merges the
pieces back into chunks of at most ``chunk_size`` characters that overlap by up to
``chunk_overlap``. Lengths are counted in characters, not tokens: the token-counting
variant needs tiktoken's encoding files, which it downloads from the internet.

LangChain is imported on the first split (0.4 s), not when the server starts.
"""

from __future__ import annotations

import functools
from typing import Any

from tav.nodes.ai import TextChunk

DEFAULT_SEPARATORS = ("\n\n", "\n", " ", "")


class RecursiveTextSplitter:
    """Splits text into overlapping chunks, recursively by separator."""

    def split(
        self,
        text: str,
        *,
        chunk_size: int,
        chunk_overlap: int,
        separators: list[str] | None = None,
    ) -> list[TextChunk]:
        if chunk_overlap >= chunk_size:
            raise ValueError(
                f"chunk_overlap ({chunk_overlap}) must be smaller than chunk_size ({chunk_size})"
            )
        splitter = _splitter(chunk_size, chunk_overlap, tuple(separators or DEFAULT_SEPARATORS))
        return [
            TextChunk(text=document.page_content, start_index=document.metadata["start_index"])
            for document in splitter.create_documents([text])
        ]


@functools.lru_cache(maxsize=32)
def _splitter(chunk_size: int, chunk_overlap: int, separators: tuple[str, ...]) -> Any:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        separators=list(separators),
        add_start_index=True,
        strip_whitespace=True,
    )
