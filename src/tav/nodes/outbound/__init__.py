"""Requests made for workflows: one outbound policy for every one of them.

``OutboundPolicy`` says which addresses may be connected to and how large an answer may
be; ``client(policy)`` is an ``httpx.AsyncClient`` that applies it at the transport, so
every request through it — a node's, a service client's, each redirect hop — is covered.
Hosts build the policy from their settings and hand the client to the executor as its
``httpx.AsyncClient`` service (and the policy as the ``OutboundPolicy`` one).
"""

from tav.nodes.outbound.errors import OutboundRefused, ResponseTooLarge
from tav.nodes.outbound.network import GuardedBackend, Resolver, resolve
from tav.nodes.outbound.policy import AllowRule, Listening, OutboundPolicy
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
    "OutboundTransport",
    "Resolver",
    "ResponseTooLarge",
    "client",
    "no_cookies",
    "resolve",
    "ssl_context",
]
