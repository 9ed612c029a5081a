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

In queue mode (``shared``: ``tav.engine.ports.SharedLimits``, counted in the database) the
concurrency, the requests per minute and the Retry-After hold-offs of a credential hold
across every worker: a call takes this process's gate first, then a place of
``ai:<credential>`` (held until the call ends, renewed meanwhile, so a worker that dies
holding one frees it within a lease) and one of ``ai-rate:<credential>`` (gone a window
after the call started); a 429's hold-off is noted for every process. Circuit breakers
stay per process: they judge what this process saw of a provider.
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
from tav.engine.ports import SharedLimits

Clock = Callable[[], float]
SHARED_POLL_FIRST_S = 0.02
SHARED_POLL_MAX_S = 0.25


@dataclass
class _Gate:
    limit: Limit
    in_use: int = 0
    starts: deque[float] = field(default_factory=deque)
    not_before: float = 0.0
    changed: asyncio.Condition | None = None


class Limits:
    """Concurrency, request rate and Retry-After hold-offs, by credential id."""

    def __init__(
        self, config: AIConfig, clock: Clock = time.monotonic, shared: SharedLimits | None = None
    ) -> None:
        """``shared``: queue mode's limits across processes (``None``: this process's)."""
        self._config = config
        self._clock = clock
        self._gates: dict[str, _Gate] = {}
        self.shared = shared

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
            if self.shared is None:
                yield
            else:
                async with self._shared_slot(self.shared, credential, gate.limit):
                    yield
        finally:
            async with gate.changed:
                gate.in_use -= 1
                gate.changed.notify_all()

    @asynccontextmanager
    async def _shared_slot(
        self, shared: SharedLimits, credential: str, limit: Limit
    ) -> AsyncIterator[None]:
        """A place of the credential's concurrency and one of its rate window, across the
        processes, waiting for them."""
        token = None
        if limit.max_concurrent is not None:
            pause = SHARED_POLL_FIRST_S
            while (token := await shared.take(f"ai:{credential}", limit.max_concurrent)) is None:
                await asyncio.sleep(pause)
                pause = min(pause * 2, SHARED_POLL_MAX_S)
        try:
            if limit.requests_per_minute is not None:
                await self._shared_start(shared, credential, limit.requests_per_minute)
            yield
        finally:
            if token is not None:
                await shared.give_back(token)

    async def _shared_start(self, shared: SharedLimits, credential: str, rpm: int) -> None:
        key, window = f"ai-rate:{credential}", self._config.rate_window_s
        while True:
            if await shared.take(key, rpm, for_s=window) is not None:
                return
            await asyncio.sleep(max(await shared.next_free_s(key), SHARED_POLL_FIRST_S))

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

    async def hold_off(self, credential: str, seconds: float) -> None:
        """Call ``credential`` again no sooner than ``seconds`` from now (in any process,
        with ``shared``)."""
        gate = self._gate(credential)
        gate.not_before = max(gate.not_before, self._clock() + seconds)
        if self.shared is not None:
            await self.shared.hold_off(f"ai-hold:{credential}", seconds)

    async def held_off(self, credential: str) -> float:
        """Seconds ``credential`` is still held off (0: it may be called)."""
        gate = self._gates.get(credential)
        here = 0.0 if gate is None else max(0.0, gate.not_before - self._clock())
        if self.shared is None or here > 0:
            return here
        return await self.shared.held_off(f"ai-hold:{credential}")


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
