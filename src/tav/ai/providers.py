"""LLM providers as records: one ``Provider`` per credential kind that names a model API.

A record says everything about a provider: its credential kind and model, its display
name and default base URL, which HTTP API it speaks, the LangChain package to import
before its first call, the libraries whose exceptions are its doing, and the builders of
its chat model and (if it has them) embeddings. Everything else is derived from
``PROVIDERS``: the credential kinds of the vault (``tav.credentials.kinds``), what
``GET /api/v1/credentials/kinds`` tells the editor, which kinds a model chain takes, the
errors that move a chain on (``tav.ai.failures``), and the test fakes. Adding a provider
is one record here (see docs/reference/ai-system.md, "Adding a provider").

LangChain is imported inside the builders, never at module import: ``tav serve`` must
start without it (it costs a second and tens of megabytes) and load it on the first model
call. Every client is built with ``max_retries=0`` and an explicit timeout, since retrying
and falling back is the chain's job (``tav.ai.chain``), not the SDK's.

Given a ``ProviderHttp`` (``ModelOptions.http``; the server gives one), every client sends
through the outbound policy (``tav.ai.http``); without one, through the SDK's own client.

Rejected: a table per concern (kinds with chat models, kinds with embeddings, packages,
builders...) kept in step by hand, and credential kinds written twice (here and in the
vault): a new provider touched a dozen files and a forgotten one failed at run time.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from tav.ai.http import ProviderHttp
from tav.core.credentials import SECRET, Kind, secret
from tav.core.errors import NodeError
from tav.nodes.context import Credential

NO_KEY = "not-needed"
"""The OpenAI SDK insists on a key; local OpenAI-compatible servers usually want none."""


@dataclass(frozen=True)
class ModelOptions:
    timeout_s: float
    temperature: float | None = None
    max_tokens: int | None = None
    http: ProviderHttp | None = None


Builder = Callable[[Mapping[str, Any], str, ModelOptions], Any]
"""``(credential data, model name, options)`` → a LangChain chat model or embeddings."""


@dataclass(frozen=True, slots=True)
class Provider:
    """One LLM provider: a credential kind and how to talk to its models."""

    kind: str
    """The credential kind (``openai``), also the provider's name in attempts and usage."""
    title: str
    """For people: ``OpenAI``."""
    credential: type[Kind]
    """The credential's fields; its docstring describes the kind."""
    api: str
    """The HTTP API it speaks (``openai``, ``anthropic``, ``google``, ``ollama``): what
    its ``base_url`` must point at, and what the test fakes serve it with."""
    package: str
    """The LangChain package its builders import, loaded off the event loop ahead of the
    first call (the first import takes about a second)."""
    libraries: tuple[str, ...]
    """Top-level packages whose exceptions are the provider's doing (its SDK, the
    LangChain package): they move a model chain on (``tav.ai.failures``)."""
    chat: Builder
    embeddings: Builder | None
    """``None``: the provider has no embeddings API."""
    default_base_url: str | None
    """Where it is when the credential gives no ``base_url`` (``None``: it must)."""


def _sampling(options: ModelOptions, max_tokens_name: str = "max_tokens") -> dict[str, Any]:
    found: dict[str, Any] = {}
    if options.temperature is not None:
        found["temperature"] = options.temperature
    if options.max_tokens is not None:
        found[max_tokens_name] = options.max_tokens
    return found


def _openai(data: Mapping[str, Any], model: str, options: ModelOptions) -> Any:
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


def _anthropic(data: Mapping[str, Any], model: str, options: ModelOptions) -> Any:
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


def _google(data: Mapping[str, Any], model: str, options: ModelOptions) -> Any:
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
    # The SDK prefers aiohttp whenever it is installed (it is: tav.nodes.outbound), unless
    # it is given an httpx transport: it always gets one, so that its requests go through
    # the outbound policy's transport when there is one, and through httpx in any case.
    import httpx

    transport = options.http.transport() if options.http else httpx.AsyncHTTPTransport()
    return {"client_args": {"timeout": options.timeout_s, "transport": transport}}


def _ollama(data: Mapping[str, Any], model: str, options: ModelOptions) -> Any:
    from langchain_ollama import ChatOllama

    return ChatOllama(
        model=model,
        base_url=data["base_url"],
        **_ollama_clients(data, options),
        **_sampling(options, "num_predict"),
    )


def _ollama_clients(data: Mapping[str, Any], options: ModelOptions) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"timeout": options.timeout_s}
    if data.get("headers"):
        kwargs["headers"] = dict(data["headers"])
    found: dict[str, Any] = {"client_kwargs": kwargs}
    if options.http is not None:  # the async client only: the sync one is never used
        found["async_client_kwargs"] = {"transport": options.http.transport()}
    return found


def _openai_embeddings(data: Mapping[str, Any], model: str, options: ModelOptions) -> Any:
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


def _google_embeddings(data: Mapping[str, Any], model: str, options: ModelOptions) -> Any:
    from langchain_google_genai import GoogleGenerativeAIEmbeddings

    return GoogleGenerativeAIEmbeddings(
        model=model,
        api_key=data["api_key"],
        base_url=data.get("base_url") or None,
        **_google_client(options),
    )


def _ollama_embeddings(data: Mapping[str, Any], model: str, options: ModelOptions) -> Any:
    from langchain_ollama import OllamaEmbeddings

    return OllamaEmbeddings(
        model=model, base_url=data["base_url"], **_ollama_clients(data, options)
    )


def _describe(default: str) -> str:
    return f"Default: {default}."


class OpenAICredential(Kind):
    """OpenAI (or Azure-style proxies speaking its API)."""

    api_key: str = secret("The API key.")
    base_url: str | None = Field(None, description=_describe("https://api.openai.com/v1"))
    organization: str | None = None


class AnthropicCredential(Kind):
    """Anthropic."""

    api_key: str = secret("The API key.")
    base_url: str | None = Field(None, description=_describe("https://api.anthropic.com"))


class GoogleCredential(Kind):
    """Google Gemini (AI Studio)."""

    api_key: str = secret("The API key.")
    base_url: str | None = Field(
        None, description=_describe("https://generativelanguage.googleapis.com")
    )


class OllamaCredential(Kind):
    """An Ollama server."""

    base_url: str = Field("http://127.0.0.1:11434", min_length=1)
    headers: dict[str, str] | None = Field(
        None, description="Extra HTTP headers (e.g. for a proxy).", json_schema_extra=SECRET
    )


class OpenAICompatibleCredential(Kind):
    """Any server speaking the OpenAI API: llama.cpp, vLLM, LM Studio, ..."""

    base_url: str = Field(min_length=1)
    api_key: str | None = secret("The API key, if the server wants one.", required=False)


PROVIDERS: tuple[Provider, ...] = (
    Provider(
        kind="openai",
        title="OpenAI",
        credential=OpenAICredential,
        api="openai",
        package="langchain_openai",
        libraries=("openai", "langchain_openai"),
        chat=_openai,
        embeddings=_openai_embeddings,
        default_base_url="https://api.openai.com/v1",
    ),
    Provider(
        kind="openai_compatible",
        title="OpenAI-compatible server",
        credential=OpenAICompatibleCredential,
        api="openai",
        package="langchain_openai",
        libraries=("openai", "langchain_openai"),
        chat=_openai,
        embeddings=_openai_embeddings,
        default_base_url=None,
    ),
    Provider(
        kind="anthropic",
        title="Anthropic",
        credential=AnthropicCredential,
        api="anthropic",
        package="langchain_anthropic",
        libraries=("anthropic", "langchain_anthropic"),
        chat=_anthropic,
        embeddings=None,
        default_base_url="https://api.anthropic.com",
    ),
    Provider(
        kind="google",
        title="Google Gemini",
        credential=GoogleCredential,
        api="google",
        package="langchain_google_genai",
        libraries=("google", "langchain_google_genai"),
        chat=_google,
        embeddings=_google_embeddings,
        default_base_url="https://generativelanguage.googleapis.com",
    ),
    Provider(
        kind="ollama",
        title="Ollama",
        credential=OllamaCredential,
        api="ollama",
        package="langchain_ollama",
        libraries=("ollama", "langchain_ollama"),
        chat=_ollama,
        embeddings=_ollama_embeddings,
        default_base_url="http://127.0.0.1:11434",
    ),
)
"""Every LLM provider, in the order the editor lists them."""

BY_KIND: Mapping[str, Provider] = {provider.kind: provider for provider in PROVIDERS}
CHAT_KINDS: tuple[str, ...] = tuple(provider.kind for provider in PROVIDERS)
EMBEDDING_KINDS: tuple[str, ...] = tuple(p.kind for p in PROVIDERS if p.embeddings is not None)


async def load(kind: str) -> None:
    """Import the provider's LangChain package off the event loop (the first import
    takes about a second, which would stall every other execution)."""
    provider = BY_KIND.get(kind)
    await load_module(provider.package if provider is not None else None)


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
    return BY_KIND[credential.kind].chat(credential.data, model, options)


def embeddings(
    credential: Credential, model: str, timeout_s: float, http: ProviderHttp | None = None
) -> Any:
    """A LangChain embeddings client for this credential and model."""
    check_kind(credential, EMBEDDING_KINDS, "embeddings")
    build = BY_KIND[credential.kind].embeddings
    assert build is not None  # checked: the kind is one of EMBEDDING_KINDS
    return build(credential.data, model, ModelOptions(timeout_s, http=http))
