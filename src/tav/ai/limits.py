"""Per-credential limits and circuit breakers, shared by every execution of the process.

- **Concurrency**: at most ``max_concurrent`` calls per credential at once; more wait.
- **Requests per minute**: a sliding window of call start times; a call that would
  exceed it waits until the oldest call leaves the window. Waiting (rather than falling
  back) keeps a chain on the provider the user put first: the cap is ours, not theirs.
- **Retry-After**: a 429 with ``Retry-After`` holds the credential off until then; the
  chain passes over it (outcome ``rate_limited``) instead of calling it.
- **Circuit breaker**, per credential and model: after ``breaker_failures`` consecutive
  failures the pair is passed over (outcome ``skipped``) for ``breaker_cooldown_s``; the
  first call after that is a trial, and one more failure opens it again at once.

Limits live in one ``Limits`` object owned by the host's ``AIServices``; changing the
settings reconfigures it in place, effective for the next call.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from tav.ai.config import AIConfig, Limit

Clock = Callable[[], float]


@dataclass
class _Gate:
    limit: Limit
    in_use: int = 0
    starts: deque[float] = field(default_factory=deque)
    not_before: float = 0.0
    changed: asyncio.Condition | None = None


class Limits:
    """Concurrency, request rate and Retry-After hold-offs, by credential id."""

    def __init__(self, config: AIConfig, clock: Clock = time.monotonic) -> None:
        self._config = config
        self._clock = clock
        self._gates: dict[str, _Gate] = {}

    def configure(self, config: AIConfig) -> None:
        self._config = config
        for credential, gate in self._gates.items():
            gate.limit = config.limit_of(credential)

    def _gate(self, credential: str) -> _Gate:
        gate = self._gates.get(credential)
        if gate is None:
            gate = self._gates[credential] = _Gate(self._config.limit_of(credential))
        return gate

    @asynccontextmanager
    async def slot(self, credential: str) -> AsyncIterator[None]:
        """Hold one call's slot of ``credential`` (waiting for one if need be)."""
        gate = self._gate(credential)
        if gate.changed is None:
            gate.changed = asyncio.Condition()
        async with gate.changed:
            while True:
                if not self._free(gate):
                    await gate.changed.wait()
                    continue
                wait = self._rate_wait(gate)
                if wait <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(gate.changed.wait(), wait)
            gate.in_use += 1
            gate.starts.append(self._clock())
        try:
            yield
        finally:
            async with gate.changed:
                gate.in_use -= 1
                gate.changed.notify_all()

    def in_use(self, credential: str) -> int:
        return self._gate(credential).in_use

    @staticmethod
    def _free(gate: _Gate) -> bool:
        cap = gate.limit.max_concurrent
        return cap is None or gate.in_use < cap

    def _rate_wait(self, gate: _Gate) -> float:
        rpm = gate.limit.requests_per_minute
        if rpm is None:
            return 0.0
        now = self._clock()
        window = self._config.rate_window_s
        while gate.starts and gate.starts[0] <= now - window:
            gate.starts.popleft()
        if len(gate.starts) < rpm:
            return 0.0
        return gate.starts[0] + window - now

    def hold_off(self, credential: str, seconds: float) -> None:
        """Call ``credential`` again no sooner than ``seconds`` from now."""
        gate = self._gate(credential)
        gate.not_before = max(gate.not_before, self._clock() + seconds)

    def held_off(self, credential: str) -> float:
        """Seconds ``credential`` is still held off (0: it may be called)."""
        gate = self._gates.get(credential)
        return 0.0 if gate is None else max(0.0, gate.not_before - self._clock())


@dataclass
class _Circuit:
    failures: int = 0
    open_until: float = 0.0


class Breaker:
    """Consecutive failures by (credential, model); open circuits are passed over."""

    def __init__(self, config: AIConfig, clock: Clock = time.monotonic) -> None:
        self._config = config
        self._clock = clock
        self._circuits: dict[tuple[str, str], _Circuit] = {}

    def configure(self, config: AIConfig) -> None:
        self._config = config

    def open_for(self, key: tuple[str, str]) -> float:
        """Seconds the circuit stays open (0: closed, or open to a trial call)."""
        circuit = self._circuits.get(key)
        return 0.0 if circuit is None else max(0.0, circuit.open_until - self._clock())

    def failed(self, key: tuple[str, str]) -> None:
        circuit = self._circuits.setdefault(key, _Circuit())
        circuit.failures += 1
        if circuit.failures >= self._config.breaker_failures:
            circuit.open_until = self._clock() + self._config.breaker_cooldown_s

    def succeeded(self, key: tuple[str, str]) -> None:
        self._circuits.pop(key, None)
