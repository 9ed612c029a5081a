"""Login throttling: failures counted per account and per client address, then a lockout.

``TAV_LOGIN_MAX_FAILURES`` wrong passwords for one email within ``TAV_LOGIN_LOCKOUT_S``
lock that email for ``TAV_LOGIN_LOCKOUT_S``; ``TAV_LOGIN_MAX_FAILURES_PER_ADDRESS`` failed
logins from one client address lock the address the same way. A locked attempt gets 429
with ``Retry-After`` at once, without checking the password (no scrypt work spent on it).
Emails nobody has are counted and locked like real ones, so a lockout does not tell which
accounts exist. A successful login forgets its account's failures.

An attempt counts as a failure from the moment it starts until it succeeds: 100 attempts
sent at once from one address do not all get past the check before the first has failed.

Counts live in this process (a restart forgets them; each server of a cluster counts its
own) and at most ``CAPACITY`` keys are remembered, the least recently active forgotten
first, so a flood of made-up emails cannot grow memory without bound. An IPv6 client
counts as its /64 network (``client_key``). Hand-written
(~60 lines): rate-limit libraries (``limits``, ``slowapi``) count requests, where this
counts failures and forgets them on success.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from tav.api.errors import ApiError
from tav.settings import Settings

CAPACITY = 10_000


@dataclass
class _Record:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


class FailureCounter:
    """Failures by key: ``max_failures`` within ``window_s`` lock the key for ``window_s``."""

    def __init__(
        self,
        max_failures: int,
        window_s: float,
        *,
        capacity: int = CAPACITY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures, self.window_s = max_failures, window_s
        self.capacity, self.clock = capacity, clock
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again; 0 when it may now."""
        record = self._records.get(key)
        if record is None:
            return 0.0
        now = self.clock()
        if record.locked_until > now:
            return record.locked_until - now
        while record.failures and record.failures[0] <= now - self.window_s:
            record.failures.popleft()
        # Only attempts still running fill the count without a lock: wait for them.
        return self.window_s if len(record.failures) >= self.max_failures else 0.0

    def begin(self, key: str) -> float:
        """Count an attempt as a failure until ``succeeded``; its mark."""
        record = self._records.pop(key, None) or _Record()
        self._records[key] = record  # the most recently active last
        if len(self._records) > self.capacity:
            self._records.popitem(last=False)
        mark = self.clock()
        record.failures.append(mark)
        return mark

    def failed(self, key: str) -> None:
        record = self._records.get(key)
        if record is not None and len(record.failures) >= self.max_failures:
            record.locked_until = self.clock() + self.window_s
            record.failures.clear()

    def succeeded(self, key: str, mark: float, *, forget: bool) -> None:
        """The attempt ``mark`` was no failure; ``forget``: nor were the earlier ones."""
        record = self._records.get(key)
        if record is None:
            return
        if forget:
            del self._records[key]
        elif mark in record.failures:
            record.failures.remove(mark)


def client_key(address: str) -> str:
    """What a client address counts as: itself, or for IPv6 its /64 network (one machine
    is usually given a whole /64, so counting single addresses would count nothing)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address or "unknown"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else ip)


class LoginThrottle:
    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        window = settings.login_lockout_s
        self.accounts = FailureCounter(settings.login_max_failures, window, clock=clock)
        self.addresses = FailureCounter(
            settings.login_max_failures_per_address, window, clock=clock
        )

    def begin(self, email: str, address: str) -> LoginAttempt:
        """An attempt to sign in, or ``ApiError`` 429 while the account or address is locked."""
        account = email.strip().lower()
        wait = max(self.accounts.retry_after(account), self.addresses.retry_after(address))
        if wait > 0:
            seconds = math.ceil(wait)
            raise ApiError(
                429,
                "too_many_attempts",
                f"too many failed sign-ins for this account or from this address; "
                f"try again in {seconds} s",
                {"retry_after_s": seconds},
                headers={"Retry-After": str(seconds)},
            )
        return LoginAttempt(self, account, address)


class LoginAttempt:
    def __init__(self, throttle: LoginThrottle, account: str, address: str) -> None:
        self.throttle, self.account, self.address = throttle, account, address
        self._marks = (throttle.accounts.begin(account), throttle.addresses.begin(address))

    def settle(self, succeeded: bool) -> None:
        accounts, addresses = self.throttle.accounts, self.throttle.addresses
        if succeeded:
            accounts.succeeded(self.account, self._marks[0], forget=True)
            addresses.succeeded(self.address, self._marks[1], forget=False)
        else:
            accounts.failed(self.account)
            addresses.failed(self.address)
