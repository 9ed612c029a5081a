"""Which addresses requests made for workflows may connect to.

The policy judges the address a connection is actually made to, after the name is
resolved (``tav.nodes.outbound.network`` resolves once, judges every address and connects
to one it judged), so a name resolving to a refused address — DNS rebinding included —
and a redirect to one are refused like the address itself. Three kinds of address:

- never: unspecified (``0.0.0.0/8``, ``::``), link-local (``169.254.0.0/16``, ``fe80::/10``)
  and the cloud metadata endpoints, multicast, broadcast and reserved ranges, and the TAV
  server's own API (the address and port it listens on);
- private: loopback and every other range that is not globally routable (``10/8``,
  ``172.16/12``, ``192.168/16``, ``100.64/10``, ``fc00::/7``, ...): allowed by default, since
  a local install calls Ollama or Home Assistant there; refused when ``allow_private`` is
  off, except what an ``allow`` rule names;
- public: allowed.

IPv6 forms that carry an IPv4 address (mapped ``::ffff:a.b.c.d``, compatible, NAT64
``64:ff9b::/96``, 6to4, Teredo) are judged by that IPv4 address.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_MAX_RESPONSE_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_REDIRECTS = 10

METADATA = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP (metadata.google.internal), Azure, OpenStack, Oracle
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer
    )
)
"""Cloud metadata endpoints: most are link-local anyway; these are refused by name
because some are not (Alibaba's sits in 100.64/10, AWS's IPv6 one in fc00::/7)."""

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
BROADCAST = ipaddress.IPv4Address("255.255.255.255")
_HOST_NAME = re.compile(
    r"^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$"
)


@dataclass(frozen=True)
class AllowRule:
    """One ``TAV_OUTBOUND_ALLOW`` entry: a host name (``*.lan`` for every name under
    ``lan``), an IP address or a CIDR range, each with an optional ``:port``
    (``[::1]:8080`` for IPv6)."""

    host: str | None = None
    network: IPNetwork | None = None
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> AllowRule:
        entry = text.strip().lower()
        if "://" in entry:
            raise ValueError(f"{text!r} is a URL; write its host, or host:port")
        target, port = _split_port(entry)
        try:
            return cls(network=ipaddress.ip_network(target, strict=False), port=port)
        except ValueError:
            pass
        if not _HOST_NAME.match(target.rstrip(".")):
            raise ValueError(
                f"{text!r} is not a host name, an IP address, a CIDR range or one of them "
                "with :port"
            )
        return cls(host=target.rstrip("."), port=port)

    def matches(self, host: str, ip: IPAddress, port: int) -> bool:
        if self.port is not None and port != self.port:
            return False
        if self.network is not None:
            return ip.version == self.network.version and ip in self.network
        name = host.lower().rstrip(".")
        assert self.host is not None
        if self.host.startswith("*."):
            return name.endswith(self.host[1:])
        return name == self.host


def _split_port(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):  # [v6] or [v6]:port
        inside, _, rest = entry[1:].partition("]")
        return inside, _port(rest[1:], entry) if rest.startswith(":") else None
    if entry.count(":") == 1:
        target, port = entry.split(":")
        return target, _port(port, entry)
    return entry, None


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{entry!r}: {text!r} is not a port")
    return int(text)


@dataclass(frozen=True)
class Listening:
    """Where the TAV server's own API listens: ``host`` is an address (``0.0.0.0`` or
    ``::`` for every interface) or a name (taken as any address of this machine)."""

    host: str
    port: int

    def reaches(self, ip: IPAddress, port: int) -> bool:
        """Whether connecting to ``ip:port`` may reach this API."""
        if port != self.port:
            return False
        if ip.is_loopback or ip.is_unspecified:
            return True
        try:
            bound = ipaddress.ip_address(self.host.strip("[]"))
        except ValueError:
            return _is_local(ip)
        return _is_local(ip) if bound.is_unspecified else embedded(bound) == ip


def _is_local(ip: IPAddress) -> bool:
    """Whether ``ip`` belongs to this machine: only a local address can be bound to.
    (Listing the interfaces would need psutil or netlink for the same answer.)"""
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((str(ip), 0))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class OutboundPolicy:
    """What requests made for workflows may reach, and how much they may read.

    Hosts build it from their settings (``from_settings``) and hand it to
    ``tav.nodes.outbound.client``; the defaults suit a local install."""

    allow_private: bool = True
    allow: tuple[AllowRule, ...] = ()
    listening: tuple[Listening, ...] = ()
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    max_redirects: int = DEFAULT_MAX_REDIRECTS

    @classmethod
    def from_settings(cls, settings: Any) -> OutboundPolicy:
        """From ``tav.settings.Settings`` (``TAV_OUTBOUND_*``, ``TAV_HOST``, ``TAV_PORT``);
        ``ValueError`` names an allow rule that does not parse."""
        try:
            allow = parse_rules(settings.outbound_allow)
        except ValueError as exc:
            raise ValueError(f"TAV_OUTBOUND_ALLOW: {exc}") from None
        return cls(
            allow_private=settings.outbound_allow_private,
            allow=allow,
            listening=(Listening(settings.host, settings.port),),
            max_response_bytes=settings.outbound_max_response_bytes,
            max_redirects=settings.outbound_max_redirects,
        )

    def refusal(self, host: str, ip: IPAddress, port: int) -> str | None:
        """Why connecting to ``ip:port`` (resolved from ``host``) is refused, or ``None``."""
        address = embedded(ip)
        kind = never_kind(address)
        if kind is not None:
            return f"{_who(host, ip, address)} is {kind}"
        if any(own.reaches(address, port) for own in self.listening):
            return f"port {port} of {_who(host, ip, address)} is the TAV server's own API"
        if self.allow_private:
            return None
        kind = private_kind(address)
        if kind is None or any(rule.matches(host, address, port) for rule in self.allow):
            return None
        return (
            f"{_who(host, ip, address)} is {kind}, and private addresses are refused "
            "(TAV_OUTBOUND_ALLOW_PRIVATE=false; TAV_OUTBOUND_ALLOW can allow this one)"
        )


def _who(host: str, ip: IPAddress, address: IPAddress) -> str:
    """``host`` as the message names it: with the address it resolved to, and the IPv4
    address it carries."""
    name = host.strip("[]")
    try:
        ipaddress.ip_address(name)
        shown = []
    except ValueError:
        shown = [str(ip)]
    if address != ip:
        shown.append(str(address))
    return f"{name} ({', '.join(shown)})" if shown else name


def parse_rules(entries: Iterable[str]) -> tuple[AllowRule, ...]:
    return tuple(AllowRule.parse(entry) for entry in entries if entry.strip())


def literal(host: str) -> IPAddress | None:
    """The address ``host`` is, when aiohttp takes it for one (and so never resolves it);
    ``None`` for a name. ``ValueError`` for a host aiohttp would take for an address that
    is none (``127.1``, ``1.2.3.4.5``): refused rather than left to the system."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        # aiohttp's test (aiohttp.helpers.is_ip_address): a colon, or digits and dots.
        if ":" in host or host.replace(".", "").isdigit():
            raise ValueError(f"{host!r} is not an IP address") from None
        return None


def embedded(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address carries (and connects to), else ``ip``."""
    if ip.version == 4:
        return ip
    assert isinstance(ip, ipaddress.IPv6Address)
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in NAT64 or (int(ip) >> 32 == 0 and int(ip) > 1):  # NAT64, IPv4-compatible
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return ip


def never_kind(ip: IPAddress) -> str | None:
    """What makes ``ip`` refused whatever the settings, or ``None``."""
    if ip.is_unspecified or (ip.version == 4 and int(ip) >> 24 == 0):
        return "an unspecified address"
    if ip in METADATA or ip.is_link_local:
        return "a link-local/metadata address"
    if ip.is_multicast:
        return "a multicast address"
    if ip == BROADCAST:
        return "a broadcast address"
    if ip.is_reserved and not ip.is_loopback:
        return "a reserved address"
    return None


def private_kind(ip: IPAddress) -> str | None:
    """What makes ``ip`` private (refused unless allowed), or ``None`` if it is public."""
    if ip.is_loopback:
        return "a loopback address"
    if not ip.is_global:
        return "a private address"
    return None
