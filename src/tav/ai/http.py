"""The HTTP clients model providers are reached through, under the outbound policy.

A credential's ``base_url`` is written by a user, like any URL in a workflow, so model
calls go through the same policy (``tav.nodes.outbound``) as ``core.http_request``. The
SDKs take a client or a transport each in their own way (``tav.ai.providers``):

- OpenAI and Anthropic (httpx2): one shared ``httpx2.AsyncClient``, which keeps
  connections to a provider open from one call to the next; the SDKs never close a
  client they were given.
- Google and Ollama (httpx): a transport of their own per model client, since they
  close it with the model client (the Google SDK when it is garbage collected).

Media a message gives by URL are fetched here too (``fetch``), rather than by a provider
package that would fetch them itself, outside the policy and whole.
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from typing import Any

from tav.nodes import outbound
from tav.nodes.http import check, request
from tav.nodes.outbound import (
    HTTPX,
    HTTPX2,
    Flavour,
    OutboundPolicy,
    OutboundTransport,
    no_cookies,
)


class ProviderHttp:
    """The clients and transports the providers' SDKs send through."""

    def __init__(self, policy: OutboundPolicy | None = None) -> None:
        self.policy = policy or OutboundPolicy()
        self._client: Any = None

    def shared_client(self) -> Any:
        """The ``httpx2.AsyncClient`` of the OpenAI and Anthropic SDKs, made on first use."""
        if self._client is None:
            httpx2 = importlib.import_module("httpx2")
            self._client = httpx2.AsyncClient(
                transport=OutboundTransport(self.policy, flavour=HTTPX2),
                cookies=no_cookies(),  # shared by every credential and user
                trust_env=False,
                follow_redirects=True,  # as the SDKs' own clients do
                max_redirects=self.policy.max_redirects,
            )
        return self._client

    def transport(self, flavour: Flavour = HTTPX) -> OutboundTransport:
        """A transport for one model client, closed with it."""
        return OutboundTransport(self.policy, flavour=flavour)

    async def fetch(self, url: str, *, limit: int, timeout_s: float) -> bytes:
        """The body a GET of ``url`` answers (a message's media), of at most ``limit`` bytes
        (``response_too_large`` beyond)."""
        what = f"GET {url}"
        policy = replace(self.policy, max_response_bytes=min(limit, self.policy.max_response_bytes))
        async with outbound.client(policy) as client:
            response = await request(
                client, "GET", url, what=what, timeout_s=timeout_s, follow_redirects=True
            )
        check(response, what)
        return response.content

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
