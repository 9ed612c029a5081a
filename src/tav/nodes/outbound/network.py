"""An httpcore network backend that connects only where the outbound policy allows.

httpcore asks its backend for each new connection by host name and port: the first
request to an origin, and every redirect to another one. This backend resolves the name
once, judges every address with the policy and connects to an allowed address itself, so
the address judged is the address connected to: a name whose DNS answer changes between
a check and the connect (rebinding) cannot slip through. TLS is unchanged: httpcore
verifies the certificate for, and sends SNI with, the URL's host name.

Rejected: checking the URL before sending it (an httpx event hook, a transport that
resolves first): the connect resolves the name again and may get another answer, and
redirects would each need the same check.

The backend is duck-typed, so one class serves httpcore (httpx) and httpcore2 (httpx2,
which the OpenAI and Anthropic SDKs use): ``Errors`` carries the exceptions of each.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from tav.nodes.outbound.errors import OutboundRefused
from tav.nodes.outbound.policy import IPAddress, OutboundPolicy

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
"""``(host, port) -> addresses``; raises ``OSError`` when the name does not resolve."""


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses of ``host``, in the order the system prefers them."""
    import anyio  # with httpcore: not loaded until a request is sent

    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return _unique(ipaddress.ip_address(info[4][0]) for info in infos)


def _unique(addresses: Iterable[IPAddress]) -> list[IPAddress]:
    return list(dict.fromkeys(addresses))


@dataclass(frozen=True)
class Errors:
    """The exceptions httpx maps to ``ConnectError`` and ``ConnectTimeout``."""

    connect: type[Exception]
    timeout: type[Exception]

    @classmethod
    def of(cls, httpcore: ModuleType) -> Errors:
        return cls(connect=httpcore.ConnectError, timeout=httpcore.ConnectTimeout)


class GuardedBackend:
    """Wraps an httpcore ``AsyncNetworkBackend`` (``inner``) with the outbound policy."""

    def __init__(
        self, policy: OutboundPolicy, inner: Any, *, errors: Errors, resolver: Resolver = resolve
    ) -> None:
        self.policy = policy
        self.inner = inner
        self.errors = errors
        self.resolver = resolver

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        addresses = await self._addresses(host, port, timeout)
        allowed = [ip for ip in addresses if self.policy.refusal(host, ip, port) is None]
        if not allowed:
            reason = self.policy.refusal(host, addresses[0], port)
            raise OutboundRefused(reason or f"{host} has no address")
        failure: Exception | None = None
        for ip in allowed:
            try:
                return await self.inner.connect_tcp(
                    str(ip),
                    port,
                    timeout=_left(deadline, self.errors),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except self.errors.connect as exc:  # the next address may answer
                failure = exc
        assert failure is not None
        raise failure

    async def _addresses(self, host: str, port: int, timeout_s: float | None) -> list[IPAddress]:
        try:
            return [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            pass
        import anyio

        try:
            with anyio.fail_after(timeout_s):
                addresses = await self.resolver(host, port)
        except TimeoutError:
            raise self.errors.timeout(f"no address for {host} within {timeout_s} s") from None
        except OSError as exc:
            raise self.errors.connect(f"cannot resolve {host}: {exc}") from None
        if not addresses:
            raise self.errors.connect(f"{host} has no address")
        return addresses

    async def connect_unix_socket(self, path: str, *args: Any, **kwargs: Any) -> Any:
        raise OutboundRefused(f"the Unix socket {path} is not a network address")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def _left(deadline: float | None, errors: Errors) -> float | None:
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise errors.timeout("no connection within the timeout")
    return left
