"""LangChain chat models and embeddings, one builder per credential kind.

LangChain is imported here, inside the builders, never at module import: ``tav serve``
must start without it (it costs a second and tens of megabytes) and load it on the first
model call. Every client is built with ``max_retries=0`` and an explicit timeout, since
retrying and falling back is the chain's job (``tav.ai.chain``), not the SDK's.

Kinds and their LangChain clients:

- ``openai``: ``ChatOpenAI`` / ``OpenAIEmbeddings`` (``base_url`` optional)
- ``openai_compatible``: the same, at the server's ``base_url`` (llama.cpp, vLLM, ...)
- ``anthropic``: ``ChatAnthropic`` (no embeddings API)
- ``google``: ``ChatGoogleGenerativeAI`` / ``GoogleGenerativeAIEmbeddings`` (Gemini API)
- ``ollama``: ``ChatOllama`` / ``OllamaEmbeddings``

Given a ``ProviderHttp`` (``ModelOptions.http``; the server gives one), every client sends
through the outbound policy (``tav.ai.http``); without one, through the SDK's own client.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tav.ai.http import ProviderHttp
from tav.core.errors import NodeError
from tav.nodes.context import Credential

CHAT_KINDS = ("openai", "openai_compatible", "anthropic", "google", "ollama")
EMBEDDING_KINDS = ("openai", "openai_compatible", "google", "ollama")
NO_KEY = "not-needed"
"""The OpenAI SDK insists on a key; local OpenAI-compatible servers usually want none."""

_MODULES = {
    "openai": "langchain_openai",
    "openai_compatible": "langchain_openai",
    "anthropic": "langchain_anthropic",
    "google": "langchain_google_genai",
    "ollama": "langchain_ollama",
}


@dataclass(frozen=True)
class ModelOptions:
    timeout_s: float
    temperature: float | None = None
    max_tokens: int | None = None
    http: ProviderHttp | None = None


async def load(kind: str) -> None:
    """Import the provider's LangChain package off the event loop (the first import
    takes about a second, which would stall every other execution)."""
    await load_module(_MODULES.get(kind))


async def load_module(module: str | None) -> None:
    if module is not None and module not in sys.modules:
        await asyncio.to_thread(importlib.import_module, module)


def check_kind(credential: Credential, kinds: tuple[str, ...], what: str) -> None:
    if credential.kind not in kinds:
        raise NodeError(
            f"credential {credential.name!r} is of kind {credential.kind!r}, which offers no "
            f"{what}; use one of: {', '.join(kinds)}",
            type="credential_kind",
        )


def chat_model(credential: Credential, model: str, options: ModelOptions) -> Any:
    """A LangChain chat model for this credential and model."""
    check_kind(credential, CHAT_KINDS, "chat models")
    return _CHAT[credential.kind](credential.data, model, options)


def embeddings(
    credential: Credential, model: str, timeout_s: float, http: ProviderHttp | None = None
) -> Any:
    """A LangChain embeddings client for this credential and model."""
    check_kind(credential, EMBEDDING_KINDS, "embeddings")
    return _EMBEDDINGS[credential.kind](credential.data, model, ModelOptions(timeout_s, http=http))


def _sampling(options: ModelOptions, max_tokens_name: str = "max_tokens") -> dict[str, Any]:
    found: dict[str, Any] = {}
    if options.temperature is not None:
        found["temperature"] = options.temperature
    if options.max_tokens is not None:
        found[max_tokens_name] = options.max_tokens
    return found


def _openai(data: Any, model: str, options: ModelOptions) -> Any:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=model,
        api_key=data.get("api_key") or NO_KEY,
        base_url=data.get("base_url") or None,
        organization=data.get("organization") or None,
        max_retries=0,
        timeout=options.timeout_s,
        stream_usage=True,
        **_openai_client(options),
        **_sampling(options),
    )


def _openai_client(options: ModelOptions) -> dict[str, Any]:
    return {} if options.http is None else {"http_async_client": options.http.shared_client()}


def _anthropic(data: Any, model: str, options: ModelOptions) -> Any:
    from langchain_anthropic import ChatAnthropic

    chat = ChatAnthropic(
        model=model,
        api_key=data["api_key"],
        base_url=data.get("base_url") or None,
        max_retries=0,
        default_request_timeout=options.timeout_s,
        **_sampling(options),
    )
    if options.http is not None:
        import anthropic

        # ChatAnthropic takes no HTTP client: its SDK client is a cached property, made
        # here with the one to send through instead of LangChain's default.
        chat.__dict__["_async_client"] = anthropic.AsyncClient(
            **chat._client_params, http_client=options.http.shared_client()
        )
    return chat


def _google(data: Any, model: str, options: ModelOptions) -> Any:
    from langchain_google_genai import ChatGoogleGenerativeAI

    return ChatGoogleGenerativeAI(
        model=model,
        api_key=data["api_key"],
        base_url=data.get("base_url") or None,
        max_retries=0,
        timeout=options.timeout_s,
        **_google_client(options),
        **_sampling(options, "max_output_tokens"),
    )


def _google_client(options: ModelOptions) -> dict[str, Any]:
    args: dict[str, Any] = {"timeout": options.timeout_s}
    if options.http is not None:
        # The SDK takes the httpx flavour of the transport's class (httpx), and keeps off
        # aiohttp, which it prefers when installed, once it is given a transport.
        args["transport"] = options.http.transport()
    return {"client_args": args}


def _ollama(data: Any, model: str, options: ModelOptions) -> Any:
    from langchain_ollama import ChatOllama

    return ChatOllama(
        model=model,
        base_url=data["base_url"],
        **_ollama_clients(data, options),
        **_sampling(options, "num_predict"),
    )


def _ollama_clients(data: Any, options: ModelOptions) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"timeout": options.timeout_s}
    if data.get("headers"):
        kwargs["headers"] = dict(data["headers"])
    found: dict[str, Any] = {"client_kwargs": kwargs}
    if options.http is not None:  # the async client only: the sync one is never used
        found["async_client_kwargs"] = {"transport": options.http.transport()}
    return found


def _openai_embeddings(data: Any, model: str, options: ModelOptions) -> Any:
    from langchain_openai import OpenAIEmbeddings

    # check_embedding_ctx_length=False: otherwise it downloads a tiktoken vocabulary.
    return OpenAIEmbeddings(
        model=model,
        openai_api_key=data.get("api_key") or NO_KEY,
        openai_api_base=data.get("base_url") or None,
        openai_organization=data.get("organization") or None,
        check_embedding_ctx_length=False,
        max_retries=0,
        request_timeout=options.timeout_s,
        **_openai_client(options),
    )


def _google_embeddings(data: Any, model: str, options: ModelOptions) -> Any:
    from langchain_google_genai import GoogleGenerativeAIEmbeddings

    return GoogleGenerativeAIEmbeddings(
        model=model,
        api_key=data["api_key"],
        base_url=data.get("base_url") or None,
        **_google_client(options),
    )


def _ollama_embeddings(data: Any, model: str, options: ModelOptions) -> Any:
    from langchain_ollama import OllamaEmbeddings

    return OllamaEmbeddings(
        model=model, base_url=data["base_url"], **_ollama_clients(data, options)
    )


_CHAT: dict[str, Callable[[Any, str, ModelOptions], Any]] = {
    "openai": _openai,
    "openai_compatible": _openai,
    "anthropic": _anthropic,
    "google": _google,
    "ollama": _ollama,
}
_EMBEDDINGS: dict[str, Callable[[Any, str, ModelOptions], Any]] = {
    "openai": _openai_embeddings,
    "openai_compatible": _openai_embeddings,
    "google": _google_embeddings,
    "ollama": _ollama_embeddings,
}
