"""Requests made for workflows: one outbound policy for every one of them.

``OutboundPolicy`` says which addresses may be connected to and how large an answer may
be. Two clients apply it to every request sent through them, each redirect hop included:

- ``OutboundSession`` (aiohttp), which ``core.http_request`` sends through: the cheapest
  per request, for lists of requests sent at once;
- ``client(policy)``, an ``httpx.AsyncClient`` that applies it at the transport, for the
  service clients and custom nodes; the model providers' SDKs get the same transport.

Hosts build the policy from their settings and hand the clients to the executor
(``HostServices.http_session``, ``HostServices.http``, ``HostServices.outbound``).
"""

from tav.nodes.outbound.errors import OutboundRefused, ResponseTooLarge
from tav.nodes.outbound.network import GuardedBackend, Resolver, resolve
from tav.nodes.outbound.policy import AllowRule, Listening, OutboundPolicy
from tav.nodes.outbound.session import OutboundResponse, OutboundSession
from tav.nodes.outbound.transport import (
    HTTPX,
    HTTPX2,
    Flavour,
    OutboundTransport,
    client,
    no_cookies,
    ssl_context,
)

__all__ = [
    "HTTPX",
    "HTTPX2",
    "AllowRule",
    "Flavour",
    "GuardedBackend",
    "Listening",
    "OutboundPolicy",
    "OutboundRefused",
    "OutboundResponse",
    "OutboundSession",
    "OutboundTransport",
    "Resolver",
    "ResponseTooLarge",
    "client",
    "no_cookies",
    "resolve",
    "ssl_context",
]
