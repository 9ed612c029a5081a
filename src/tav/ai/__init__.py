"""LangChain glue: chat models and embeddings per provider, behind ``tav.nodes.ai``.

The only package that imports LangChain, and only when a model is first called:
importing ``tav.ai`` is cheap, so ``tav serve`` starts without loading LangChain.

::

    services.py   AIServices: ChatModels + Embeddings, what the host hands to nodes
    chain.py      the ordered fallback over a model chain, attempts, the all-failed error
    chat.py       one chat call: plain, streamed, tools, structured output
    providers.py  a LangChain client per credential kind (lazy imports)
    http.py       the HTTP clients they send through, under the outbound policy
    messages.py   node messages and MediaFormat content to LangChain messages
    limits.py     per-credential concurrency, requests per minute, Retry-After, breakers
    failures.py   reading an SDK's exception: timeout, 429, HTTP status, short message
    streaming.py  tokens coalesced into node.progress events
    schemas.py    checking structured answers against their JSON Schema
    cache.py      the response cache protocol and key
    config.py     AIConfig, from Settings
    text.py       RecursiveTextSplitter: the TextSplitter of the RAG nodes
"""

from tav.ai.cache import MemoryResponseCache, ResponseCache
from tav.ai.config import AIConfig, Limit
from tav.ai.services import AIServices

__all__ = ["AIConfig", "AIServices", "Limit", "MemoryResponseCache", "ResponseCache"]
