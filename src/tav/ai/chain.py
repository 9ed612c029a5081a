"""The ordered fallback over a model chain.

Each link is tried in turn until one answers. A link is passed over without a call when
its circuit is open (outcome ``skipped``) or its credential is held off by a 429's
``Retry-After`` (``rate_limited``); a call that raises, is rate limited or times out
moves on to the next link. Every link that did not answer is recorded as a
``ProviderAttempt`` with a short error, and reported at once as a ``node.progress`` event
(``{"attempt": {...}}``). When no link answers, one ``NodeError`` lists why each failed;
its type is ``invalid_answer`` when every link answered, but never in the shape asked for
(structured output that does not fit its schema, even when asked again).

Errors of the request itself (``RequestError``: invalid messages, media that cannot be
sent) would fail on every link and are raised at once, and so are errors that are not the
provider's (``failures.provider_failure``): a bug of ours would fail on every link too, and
trying the next one would only hide it; the engine's error boundary logs it with its
traceback.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from tav.ai import providers
from tav.ai.failures import Failure, classify, provider_failure
from tav.ai.limits import Breaker, Limits
from tav.core.errors import NodeError
from tav.nodes.ai import ModelRef, ProviderAttempt
from tav.nodes.context import Credential, NodeContext

T = TypeVar("T")
SECRET_KEYS = frozenset({"api_key", "token", "password", "secret", "headers"})


class RequestError(NodeError):
    """A problem of the request, not of the provider: no other link would do better."""


class InvalidAnswer(Exception):
    """The provider answered, but not in the shape asked for (after a second request)."""


@dataclass(frozen=True)
class Link:
    """A chain link with its credential revealed."""

    ref: ModelRef
    credential: Credential

    @property
    def provider(self) -> str:
        return self.credential.kind

    @property
    def key(self) -> tuple[str, str]:
        return (self.ref.credential, self.ref.model)

    def secrets(self) -> tuple[str, ...]:
        found: list[str] = []
        for name, value in self.credential.data.items():
            if name in SECRET_KEYS:
                _strings(value, found)
        return tuple(found)


def _strings(value: Any, found: list[str]) -> None:
    if isinstance(value, str):
        found.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _strings(item, found)


@dataclass
class Outcome(Generic[T]):
    value: T
    link: Link
    attempts: list[ProviderAttempt]


@dataclass
class _Tally:
    """What the chain learnt so far: the attempts, and when trying again may help."""

    attempts: list[ProviderAttempt] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    transient: bool = False
    invalid: int = 0
    """Links that answered, but not in the shape asked for."""


class Chain:
    """Runs one call along a chain, under the shared limits and circuit breakers."""

    def __init__(self, limits: Limits, breaker: Breaker) -> None:
        self.limits = limits
        self.breaker = breaker

    async def run(
        self,
        ctx: NodeContext,
        refs: Sequence[ModelRef],
        call: Callable[[Link], Awaitable[T]],
        *,
        timeout_s: float,
        what: str = "llm",
        on_fallback: Callable[[], None] | None = None,
    ) -> Outcome[T]:
        tally = _Tally()
        for ref in refs:
            link = await self._open(ctx, ref, tally)
            if link is None:
                continue
            started = time.monotonic()
            try:
                async with self.limits.slot(ref.credential):
                    started = time.monotonic()
                    value = await call(link)
            except RequestError:
                raise
            except NodeError as exc:  # e.g. a credential of a kind without this service
                failure = Failure("failed", exc.message, transient=False, counts=False)
            except InvalidAnswer as exc:
                failure = Failure("failed", str(exc), transient=False, counts=False)
                tally.invalid += 1
            except Exception as exc:
                if not provider_failure(exc):
                    raise
                failure = classify(exc, timeout_s=timeout_s, secrets=link.secrets())
            else:
                self.breaker.succeeded(link.key)
                tally.attempts.append(_attempt(link, "answered", None, started))
                return Outcome(value, link, tally.attempts)
            await self._failed(link, failure, tally)
            _record(ctx, tally, _attempt(link, failure.outcome, failure.message, started))
            if on_fallback is not None:
                on_fallback()
        raise _all_failed(what, tally)

    async def _open(self, ctx: NodeContext, ref: ModelRef, tally: _Tally) -> Link | None:
        """The link ready to call, or ``None`` when it is passed over (and recorded)."""
        if (open_s := self.breaker.open_for((ref.credential, ref.model))) > 0:
            tally.waits.append(open_s)
            tally.transient = True
            reason = f"circuit open after repeated failures ({open_s:.1f} s left)"
            _record(ctx, tally, _passed(ref, "skipped", reason))
            return None
        if (held_s := await self.limits.held_off(ref.credential)) > 0:
            tally.waits.append(held_s)
            tally.transient = True
            reason = f"the provider asked to wait ({held_s:.1f} s left, Retry-After)"
            _record(ctx, tally, _passed(ref, "rate_limited", reason))
            return None
        try:
            credential = await ctx.credential(ref.credential)
        except NodeError as exc:
            _record(ctx, tally, _passed(ref, "failed", exc.message))
            return None
        await providers.load(credential.kind)  # once per process, and not timed
        return Link(ref, credential)

    async def _failed(self, link: Link, failure: Failure, tally: _Tally) -> None:
        if failure.retry_after is not None:
            await self.limits.hold_off(link.ref.credential, failure.retry_after)
            tally.waits.append(failure.retry_after)
        if failure.counts:
            self.breaker.failed(link.key)
        tally.transient = tally.transient or failure.transient


def _record(ctx: NodeContext, tally: _Tally, attempt: ProviderAttempt) -> None:
    tally.attempts.append(attempt)
    ctx.progress({"attempt": attempt.model_dump(exclude_none=True)})
    ctx.log.warning("%s %s/%s: %s", attempt.outcome, attempt.provider, attempt.model, attempt.error)


def _attempt(link: Link, outcome: str, error: str | None, started: float) -> ProviderAttempt:
    return ProviderAttempt(
        provider=link.provider,
        model=link.ref.model,
        credential=link.ref.credential,
        outcome=outcome,
        error=error,
        duration_ms=round((time.monotonic() - started) * 1000, 1),
    )


def _passed(ref: ModelRef, outcome: str, error: str) -> ProviderAttempt:
    return ProviderAttempt(
        provider="", model=ref.model, credential=ref.credential, outcome=outcome, error=error
    )


def _all_failed(what: str, tally: _Tally) -> NodeError:
    reasons = "; ".join(
        f"{a.provider or 'credential'} {a.credential!r} model {a.model!r}: {a.outcome}"
        + (f" ({a.error})" if a.error else "")
        for a in tally.attempts
    )
    if not tally.attempts:
        message, kind = "the model chain is empty", f"{what}_failed"
    elif len(tally.attempts) == 1:
        message, kind = f"the model call failed: {reasons}", f"{what}_failed"
    else:
        message, kind = f"every model of the chain failed: {reasons}", f"{what}_all_failed"
    if tally.invalid and tally.invalid == len(tally.attempts):
        kind = "invalid_answer"  # every link answered, none in the shape asked for
    return NodeError(
        message,
        type=kind,
        retryable=tally.transient,
        retry_after=min(tally.waits) if tally.waits else None,
    )
