"""Fake LLM provider servers on 127.0.0.1, speaking each provider's HTTP API.

One real HTTP server (uvicorn on a background thread) serves every provider under its own
path prefix, so the real LangChain clients talk to it exactly as they would to the
provider: ``url("openai")`` is ``http://127.0.0.1:PORT/openai/v1``, ``url("anthropic")``
``.../anthropic``, ``url("ollama")`` ``.../ollama``, ``url("google")`` ``.../google``.
Which providers there are comes from their records (``tav.ai.providers.PROVIDERS``): each
is served with the wire format of the API its record speaks, so a new provider that speaks
one of these APIs needs nothing here.
Because it is a real port, a ``tav serve`` in another process can use it too
(``python -m tests.fakes.llm --port 8911`` runs it on its own).

Behaviour:

- ``reply(provider, *replies)`` queues scripted answers, consumed in order; each may be an
  error status, carry headers (``Retry-After``), a delay (to provoke timeouts), tool calls
  and token usage. A 401's error message quotes the key the client presented, as OpenAI's
  does, to check that keys never leak into errors; ``Reply(echo_key=True)`` puts it in
  the answer, and ``Reply(chunks=[...])`` streams the answer in exactly those pieces.
- With nothing queued, a chat answers ``"echo: " + the last user message's text``; a
  request for structured output (OpenAI ``response_format``, Ollama ``format``, Gemini
  ``responseJsonSchema``) or a forced tool call gets a minimal object that fits the schema.
- A scripted ``text`` that is JSON becomes the arguments of the forced tool when the client
  forces one (how LangChain asks Anthropic/OpenAI for structured output with tool
  calling), so a test scripts structured replies the same way for every provider.
- Embeddings are a hashed bag of words (``EMBED_DIM`` floats, unit length): texts sharing
  words are near each other, unrelated ones are not.

Alternatives rejected: ``pytest-httpserver`` (a werkzeug thread that cannot stream
tokens with delays), in-process ``httpx.MockTransport`` (the LangChain clients build their
own HTTP clients, and a ``tav serve`` process could not reach it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tav.ai.providers import PROVIDERS as RECORDS
from tests.fakes import llm_wire as wire
from tests.fakes.llm_wire import EMBED_DIM, Reply, embed_text

__all__ = ["EMBED_DIM", "FakeProviders", "Recorded", "Reply", "embed_text"]

PROVIDERS = tuple(provider.kind for provider in RECORDS)
"""Every provider of ``tav.ai.providers``: each is served by the API its record speaks."""
API_PATHS = {"openai": "/v1", "anthropic": "", "google": "", "ollama": ""}
"""Per API the fakes speak, what its base URLs end in (OpenAI's clients add no ``/v1``)."""
_API = {provider.kind: provider.api for provider in RECORDS}


@dataclass
class Recorded:
    """One request the fake received."""

    provider: str
    path: str
    json: Any
    headers: dict[str, str] = field(default_factory=dict)


class FakeProviders:
    """Fake OpenAI, OpenAI-compatible, Anthropic, Ollama and Gemini servers on one port.

    Use as a context manager (or the ``fake_llm`` pytest fixture)::

        with FakeProviders() as fake:
            fake.reply("openai", Reply(status=429, headers={"Retry-After": "1"}))
            ...  # a credential with base_url=fake.url("openai")
            assert fake.requests[0].provider == "openai"
    """

    def __init__(self, port: int = 0) -> None:
        self._port = port
        self._queues: dict[str, deque[Reply]] = {p: deque() for p in PROVIDERS}
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        self.in_flight: dict[str, int] = dict.fromkeys(PROVIDERS, 0)
        self.max_in_flight: dict[str, int] = dict.fromkeys(PROVIDERS, 0)
        """The most requests each provider had at once."""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # --- scripting -----------------------------------------------------------------

    def url(self, provider: str) -> str:
        """The base URL to store in a credential of this provider's kind."""
        if provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}; one of {PROVIDERS}")
        return f"{self.base_url}/{provider}{API_PATHS[_API[provider]]}"

    def reply(self, provider: str, *replies: Reply) -> None:
        """Queue scripted replies for ``provider``, consumed in order."""
        with self._lock:
            self._queues[provider].extend(replies)

    def pending(self, provider: str) -> int:
        """How many scripted replies ``provider`` has not used yet."""
        with self._lock:
            return len(self._queues[provider])

    def reset(self) -> None:
        """Forget queued replies and recorded requests."""
        with self._lock:
            for queue in self._queues.values():
                queue.clear()
            self.requests.clear()

    def requests_to(self, provider: str) -> list[Recorded]:
        return [r for r in self.requests if r.provider == provider]

    def _next(self, provider: str) -> Reply | None:
        with self._lock:
            queue = self._queues[provider]
            return queue.popleft() if queue else None

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> FakeProviders:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        port = sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            self.app(),
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name="fake-llm"
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake LLM server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeProviders:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- HTTP ----------------------------------------------------------------------

    def app(self) -> Any:
        routes = [
            Route("/{provider}/v1/chat/completions", self._openai_chat, methods=["POST"]),
            Route("/{provider}/v1/embeddings", self._openai_embed, methods=["POST"]),
            Route("/{provider}/v1/models", self._openai_models, methods=["GET"]),
            Route("/{provider}/v1/messages", self._anthropic, methods=["POST"]),
            Route("/{provider}/api/chat", self._ollama_chat, methods=["POST"]),
            Route("/{provider}/api/embed", self._ollama_embed, methods=["POST"]),
            Route("/{provider}/api/tags", self._ollama_tags, methods=["GET"]),
            Route("/{provider}/{version}/models/{call:path}", self._google, methods=["POST"]),
        ]
        return _CloseConnections(Starlette(routes=routes))

    async def _take(self, request: Request, provider: str) -> tuple[Any, Reply | None]:
        try:
            body = await request.json()
        except ValueError:
            body = None
        headers = dict(request.headers.items())
        self.requests.append(Recorded(provider, request.url.path, body, headers))
        reply = self._next(provider)
        if reply is not None and reply.status == 401:
            reply = replace(reply, headers={**reply.headers, "X-Presented-Key": _key(headers)})
        if reply is not None and reply.echo_key:
            reply = replace(reply, text=reply.text + _key(headers), echo_key=False)
        self.in_flight[provider] += 1
        self.max_in_flight[provider] = max(self.max_in_flight[provider], self.in_flight[provider])
        try:
            if reply is not None and reply.delay_s:
                await asyncio.sleep(reply.delay_s)
        finally:
            self.in_flight[provider] -= 1
        return body, reply

    async def _openai_chat(self, request: Request) -> Response:
        provider = request.path_params["provider"]
        body, reply = await self._take(request, provider)
        if error := _error(reply, wire.openai_error):
            return error
        answer = wire.answer(reply, wire.openai_plan(body))
        if body.get("stream"):
            usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return _sse(wire.openai_stream(body, answer, usage), answer)
        return JSONResponse(wire.openai_message(body, answer))

    async def _openai_embed(self, request: Request) -> Response:
        provider = request.path_params["provider"]
        body, reply = await self._take(request, provider)
        if error := _error(reply, wire.openai_error):
            return error
        return JSONResponse(wire.openai_embeddings(body))

    async def _openai_models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "fake", "object": "model"}]})

    async def _anthropic(self, request: Request) -> Response:
        body, reply = await self._take(request, request.path_params["provider"])
        if error := _error(reply, wire.anthropic_error):
            return error
        answer = wire.answer(reply, wire.anthropic_plan(body))
        if body.get("stream"):
            return _sse(wire.anthropic_stream(body, answer), answer, events=True)
        return JSONResponse(wire.anthropic_message(body, answer))

    async def _ollama_chat(self, request: Request) -> Response:
        body, reply = await self._take(request, request.path_params["provider"])
        if error := _error(reply, wire.ollama_error):
            return error
        answer = wire.answer(reply, wire.ollama_plan(body))
        if body.get("stream", True):
            return _ndjson(wire.ollama_stream(body, answer), answer)
        return JSONResponse(wire.ollama_message(body, answer))

    async def _ollama_embed(self, request: Request) -> Response:
        body, reply = await self._take(request, request.path_params["provider"])
        if error := _error(reply, wire.ollama_error):
            return error
        return JSONResponse(wire.ollama_embeddings(body))

    async def _ollama_tags(self, request: Request) -> Response:
        return JSONResponse({"models": []})

    async def _google(self, request: Request) -> Response:
        body, reply = await self._take(request, request.path_params["provider"])
        if error := _error(reply, wire.google_error):
            return error
        model, _, method = request.path_params["call"].partition(":")
        if method in ("embedContent", "batchEmbedContents"):
            return JSONResponse(wire.google_embeddings(body, method))
        answer = wire.answer(reply, wire.google_plan(body))
        if method == "streamGenerateContent":
            return _sse(wire.google_stream(model, answer), answer)
        return JSONResponse(wire.google_message(model, answer))


class _CloseConnections:
    """Answer every request with ``Connection: close``.

    The provider SDKs keep process-wide HTTP clients (cached by base URL); a kept-alive
    connection would outlive the test's event loop and surface later as an unclosed
    transport. A real server process has one loop for its life and keeps them."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def closing(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"connection", b"close")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, closing)


def _error(reply: Reply | None, shape: Any) -> Response | None:
    if reply is None or reply.status < 400:
        return None
    headers = dict(reply.headers)
    presented = headers.pop("X-Presented-Key", None)
    body = shape(replace(reply, headers=headers))
    if presented is not None:  # like OpenAI: "Incorrect API key provided: sk-..."
        body = json.loads(
            json.dumps(body).replace(wire.ERROR_TEXT, f"Incorrect API key provided: {presented}")
        )
    return JSONResponse(body, status_code=reply.status, headers=headers)


def _key(headers: dict[str, str]) -> str:
    """The key a client presented, in whichever header its provider uses."""
    for name in ("x-api-key", "x-goog-api-key"):
        if headers.get(name):
            return headers[name]
    return headers.get("authorization", "").removeprefix("Bearer ")


def _sse(chunks: Iterator[Any], answer: wire.Answer, *, events: bool = False) -> Response:
    async def body() -> Any:
        for chunk in chunks:
            if answer.token_delay_s:
                await asyncio.sleep(answer.token_delay_s)
            yield wire.sse_line(chunk, events=events)

    return StreamingResponse(body(), media_type="text/event-stream", headers=answer.headers)


def _ndjson(chunks: Iterator[Any], answer: wire.Answer) -> Response:
    async def body() -> Any:
        for chunk in chunks:
            if answer.token_delay_s:
                await asyncio.sleep(answer.token_delay_s)
            yield wire.json_line(chunk)

    return StreamingResponse(body(), media_type="application/x-ndjson", headers=answer.headers)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the fake LLM provider servers.")
    parser.add_argument("--port", type=int, default=8911)
    args = parser.parse_args()
    with FakeProviders(port=args.port) as fake:
        for provider in PROVIDERS:
            print(f"{provider}: {fake.url(provider)}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
