"""aiohttp's connector under the outbound policy: the addresses it may connect to.

aiohttp asks its resolver for the addresses of a host name each time it opens a
connection to it (a keep-alive connection is reused without asking). ``GuardedResolver``
resolves the name once, judges every address with the policy and answers only the
allowed ones, so the connector connects to an address that was judged, and to no other:
a name whose DNS answer changes between a check and the connect (rebinding) cannot slip
through, and a name resolving to a mix of public and private addresses connects only to
the public ones when private ones are refused. aiohttp's DNS cache keeps what the
resolver answered, that is, judged addresses only. TLS is unchanged: the certificate is
verified for, and SNI sent with, the URL's host name.

A host that is an address is not resolved: aiohttp connects to it as written, without
asking the resolver. ``tav.nodes.outbound.policy.literal`` tells such a host, and
``OutboundSession`` judges it before each request it sends, redirect hops included
(``tav.nodes.outbound.session``).

Rejected: judging in a ``socket_factory`` (it sees the address, not the host name that
allow rules and messages need), and overriding the connector's private
``_resolve_host`` to judge addresses there too (private API, which a release may change).
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from aiohttp.abc import AbstractResolver, ResolveResult

from tav.nodes.outbound.errors import OutboundRefused
from tav.nodes.outbound.network import Resolver, resolve
from tav.nodes.outbound.policy import IPAddress, OutboundPolicy

if TYPE_CHECKING:
    import aiohttp

KEEPALIVE_S = 5.0
"""How long an idle connection is kept for the next request to its origin."""
MAX_CONNECTIONS = 100
"""Connections one session keeps open at most, busy or idle."""


class GuardedResolver(AbstractResolver):
    """Resolves with ``resolver`` and answers only the addresses ``policy`` allows;
    raises ``OutboundRefused`` when it allows none of them."""

    def __init__(self, policy: OutboundPolicy, resolver: Resolver = resolve) -> None:
        self.policy = policy
        self.resolver = resolver

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await self.resolver(host, port)  # OSError: aiohttp reports it
        if not addresses:
            raise OSError(f"{host} has no address")
        allowed = [ip for ip in addresses if self.policy.refusal(host, ip, port) is None]
        if not allowed:
            raise OutboundRefused(self.policy.refusal(host, addresses[0], port) or host)
        return [_result(host, ip, port) for ip in allowed]

    async def close(self) -> None:
        """Nothing to release: ``resolver`` holds nothing of its own."""


def _result(host: str, ip: IPAddress, port: int) -> ResolveResult:
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    return ResolveResult(hostname=host, host=str(ip), port=port, family=family, proto=0, flags=0)


def connector(policy: OutboundPolicy, resolver: Resolver = resolve) -> aiohttp.TCPConnector:
    """A connector that connects only where ``policy`` allows (made in a running loop)."""
    import aiohttp

    from tav.nodes.outbound.transport import ssl_context

    return aiohttp.TCPConnector(
        resolver=GuardedResolver(policy, resolver),
        ssl=ssl_context(),
        limit=MAX_CONNECTIONS,
        keepalive_timeout=KEEPALIVE_S,
    )
