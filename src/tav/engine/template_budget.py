"""What one render of a node's templates may spend: text built, loop iterations and time.

Jinja's sandbox keeps a template away from Python internals; it does not stop one from
spending memory or time (``lipsum(999999)``, a string doubled in a loop, nested loops over
``range(100000)``). Rendering holds the thread it runs on, the event loop's included, so a
render is given a ``Budget`` and the sandbox's hooks (``tav.engine.jinja_env``) charge it as
the template runs:

- bytes: the size of every string (and list) the template builds, intermediate ones
  included, counted as they are built and summed over the render (as Liquid's resource
  limits do). Operations whose result can be far larger than their operands (``*``,
  ``replace``, ``join``, ``indent``, ``center``, formats, ``lipsum``...) are estimated and
  charged *before* they run, so that no single step builds much more than the budget;
- loop iterations: every ``{% for %}`` step;
- time: a deadline checked at every loop step, call, filter, operator and attribute read.

A render first runs inline, on the caller's thread, under a small slice of the budget
(``Budget.inline``); a template that outgrows the slice raises ``TooHeavyInline`` and is
rendered again from the start, off the event loop, under the whole budget (templates have
no side effects, so running one again is safe). The few small templates of most nodes stay
as fast as a plain call.

Rejected alternatives: a process per render (milliseconds per render and the data copied
over, where most renders take microseconds), interrupting a thread (Python cannot stop a
thread from outside, and signals reach only the main thread), and measuring real memory
(``tracemalloc`` slows every allocation and counts the whole process).
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

INLINE_BYTES = 256 * 1024
INLINE_ITERATIONS = 10_000
INLINE_SECONDS = 0.005
"""The inline slice: a render that needs more finishes on a worker thread instead."""
INLINE_SOURCE_CHARS = 4_096
"""Templates longer than this render on a worker thread (compiling one takes time too)."""
_STEPS_PER_CLOCK = 32
"""Small steps between two readings of the clock."""
_LARGE = 64 * 1024
"""A charge this large reads the clock at once."""


@dataclass(frozen=True, slots=True)
class TemplateLimits:
    """Limits on templates: per render of a node's params, and per workflow document."""

    max_bytes: int = 16 * 1024 * 1024
    """Text (and lists) a node's templates may build in one render, output included."""
    max_iterations: int = 1_000_000
    """``{% for %}`` steps in one render of a node's templates."""
    timeout_s: float = 1.0
    """Time one render of a node's templates may take."""
    max_templates: int = 2_000
    """Template strings in one workflow document."""
    max_template_bytes: int = 1024 * 1024
    """Characters of template text in one workflow document, all templates together."""

    @classmethod
    def from_settings(cls, settings: Any) -> TemplateLimits:
        """From ``tav.settings.Settings`` (``TAV_TEMPLATE_*``, ``TAV_WORKFLOW_MAX_TEMPLATE*``)."""
        return cls(
            max_bytes=settings.template_max_bytes,
            max_iterations=settings.template_max_iterations,
            timeout_s=settings.template_timeout_s,
            max_templates=settings.workflow_max_templates,
            max_template_bytes=settings.workflow_max_template_bytes,
        )


DEFAULT_LIMITS = TemplateLimits()


class OverBudget(Exception):
    """A render went over one of its limits; the message says which."""


class TooHeavyInline(Exception):
    """An inline render outgrew its slice: render it again off the event loop."""


class Budget:
    """What is left of one render's limits; charged by the sandbox's hooks."""

    __slots__ = ("bytes_left", "deadline", "inline", "iterations_left", "limits", "steps")

    def __init__(self, limits: TemplateLimits = DEFAULT_LIMITS, *, inline: bool = False) -> None:
        self.limits = limits
        self.inline = inline
        self.bytes_left = limits.max_bytes
        self.iterations_left = limits.max_iterations
        seconds = limits.timeout_s
        if inline:  # (comparisons rather than min(): this runs at every render)
            if self.bytes_left > INLINE_BYTES:
                self.bytes_left = INLINE_BYTES
            if self.iterations_left > INLINE_ITERATIONS:
                self.iterations_left = INLINE_ITERATIONS
            if seconds > INLINE_SECONDS:
                seconds = INLINE_SECONDS
        self.deadline = time.monotonic() + seconds
        self.steps = _STEPS_PER_CLOCK

    def charge(self, size: int) -> None:
        """Count ``size`` bytes as built (building much took time: the clock is read)."""
        self.bytes_left -= size
        if self.bytes_left < 0:
            self._exhausted(f"template output exceeds {self.limits.max_bytes} bytes")
        if size > _LARGE:
            self.check_time()
        else:
            self.tick()

    def afford(self, size: int) -> None:
        """Refuse now if ``size`` more bytes would not fit (nothing is charged)."""
        if size > self.bytes_left:
            self._exhausted(f"template output exceeds {self.limits.max_bytes} bytes")

    def iteration(self) -> None:
        self.iterations_left -= 1
        if self.iterations_left < 0:
            self._exhausted(f"template ran more than {self.limits.max_iterations} loop iterations")
        self.tick()

    def tick(self) -> None:
        """One small step of work; every few steps, the deadline is checked."""
        self.steps -= 1
        if self.steps <= 0:
            self.steps = _STEPS_PER_CLOCK
            self.check_time()

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            self._exhausted(f"template took longer than {self.limits.timeout_s:g} s")

    def _exhausted(self, message: str) -> None:
        if self.inline:
            raise TooHeavyInline
        raise OverBudget(message)


_CURRENT: ContextVar[Budget | None] = ContextVar("tav_template_budget", default=None)

current = _CURRENT.get
"""The budget of the render running in this context, if any."""


class spending:
    """Charge ``budget`` for what runs inside (``None``: nothing may run, as when compiling).

    (A class rather than ``@contextmanager``: it runs at every render.)"""

    __slots__ = ("_budget", "_token")

    def __init__(self, budget: Budget | None) -> None:
        self._budget = budget

    def __enter__(self) -> Budget | None:
        self._token = _CURRENT.set(self._budget)
        return self._budget

    def __exit__(self, *_: object) -> None:
        _CURRENT.reset(self._token)
