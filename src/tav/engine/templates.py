"""Sandboxed Jinja2 templates for node params.

- A string holding ``{{ ... }}`` or ``{% ... %}`` is a template; others pass as written.
- A param that is exactly one ``{{ expr }}`` keeps the value's native type (a list stays
  a list); anything else renders to a string.
- Undefined names are errors, and the error names the missing variable by its full path
  (``nodes.fetch.output.statuss``) and what is there instead.
- Templates run in Jinja's immutable sandbox: Python internals (``__class__``, ``mro``,
  ``__globals__``, ...) are refused with a ``TemplateError`` that reveals nothing. A
  template's value is data: a function or class (``{{ range }}``, a dict's ``items``
  method) is refused rather than shown as ``<function ... at 0x...>``.
- Each render of a node's params has a budget (``TemplateLimits``): the text it builds,
  its loop iterations and its time, enforced inside the sandbox
  (``tav.engine.template_budget``). A template over budget fails with a ``TemplateError``
  that says which limit. Small renders run inline; one that outgrows a small slice of the
  budget is rendered again on a worker thread, so that it never holds up the event loop.
- Attribute syntax reads data first: ``input.items`` is the ``items`` key of a JSON object,
  not the ``dict.items`` method (Jinja's default is the opposite, a classic surprise).

Rejected alternatives: a hand-written ``{{ path }}`` resolver (no expressions, filters or
conditions, which users of n8n and Dify expect), and plain ``eval`` (not safe).

This module is the engine's interface; the Jinja2 side (the sandbox, compiling, rendering,
reading a template's variables) is ``tav.engine.jinja_env``, imported on first use.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tav.engine.template_budget import (
    DEFAULT_LIMITS,
    Budget,
    TemplateLimits,
    TooHeavyInline,
    current,
    spending,
)

TEMPLATE_MARKERS = ("{{", "{%")

Renderer = Callable[[Mapping[str, Any]], Any]


def is_template(value: object) -> bool:
    return isinstance(value, str) and any(marker in value for marker in TEMPLATE_MARKERS)


# Jinja2 is imported on the first template (``tav.engine.jinja_env``): a process that meets
# none (most runs of most workflows) never loads it.


def compile_template(source: str) -> Renderer:
    """Compile a template once; raise ``TemplateSyntaxError`` if it is not valid."""
    from tav.engine import jinja_env

    return jinja_env.compile_template(source)


def syntax_error(source: str) -> str | None:
    """The syntax error in ``source``, or ``None`` if it compiles."""
    from tav.engine import jinja_env

    return jinja_env.syntax_error(source)


def render(source: str, context: Mapping[str, Any], *, where: str) -> Any:
    """Render one template string; ``where`` names it in errors (``node 'x', params.url``)."""
    from tav.engine import jinja_env

    return jinja_env.render(source, context, where=where)


def referenced_nodes(source: str) -> set[str]:
    """Node ids a template reads as ``nodes.<id>`` or ``nodes['<id>']``."""
    from tav.engine import jinja_env

    return jinja_env.referenced_nodes(source)


def render_value(
    value: Any, context: Mapping[str, Any], *, where: str, limits: TemplateLimits = DEFAULT_LIMITS
) -> Any:
    """Render every template string inside ``value`` (dicts and lists recursively), on
    this thread, under one budget (the current render's, if one is running)."""
    if current() is not None:
        return _render_value(value, context, where)
    with spending(Budget(limits)):
        return _render_value(value, context, where)


async def render_params(
    params: Mapping[str, Any],
    context: Mapping[str, Any],
    *,
    where: str,
    raw: frozenset[str] = frozenset(),
    limits: TemplateLimits = DEFAULT_LIMITS,
) -> dict[str, Any]:
    """A node's params with their templates rendered (those in ``raw`` pass as written),
    under one budget. Tried inline under a small slice of the budget first; a render that
    needs more runs again from the start on a worker thread, over a snapshot of the
    context (the execution goes on meanwhile)."""
    try:
        with spending(Budget(limits, inline=True)):
            return _render_params(params, context, where, raw)
    except TooHeavyInline:
        pass
    snapshot = {key: _snapshot(value) for key, value in context.items()}
    job = functools.partial(_render_params_within, params, snapshot, where, raw, limits)
    return await asyncio.get_running_loop().run_in_executor(_threads(), job)


@functools.cache
def _threads() -> ThreadPoolExecutor:
    """The threads heavy renders run on: a few, of their own, so that many heavy renders at
    once queue up here rather than take every thread the process has (and the GIL) from
    file and database work."""
    return ThreadPoolExecutor(min(4, os.cpu_count() or 2), thread_name_prefix="tav-templates")


def _render_params_within(
    params: Mapping[str, Any],
    context: Mapping[str, Any],
    where: str,
    raw: frozenset[str],
    limits: TemplateLimits,
) -> dict[str, Any]:
    with spending(Budget(limits)):  # the time limit starts when the thread does
        return _render_params(params, context, where, raw)


def _render_params(
    params: Mapping[str, Any], context: Mapping[str, Any], where: str, raw: frozenset[str]
) -> dict[str, Any]:
    return {
        key: value if key in raw else _render_value(value, context, f"{where}.{key}")
        for key, value in params.items()
    }


def _snapshot(value: Any) -> Any:
    # A live mapping (the outputs of the execution's nodes) may change while a worker
    # thread reads it: the thread reads a copy.
    if isinstance(value, Mapping) and not isinstance(value, dict):
        return dict(value)
    return value


def _render_value(value: Any, context: Mapping[str, Any], where: str) -> Any:
    if isinstance(value, str):
        return render(value, context, where=where) if is_template(value) else value
    if isinstance(value, dict):
        return {k: _render_value(v, context, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_render_value(v, context, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def template_strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every template string inside ``value``, with its dotted path."""
    if isinstance(value, str):
        if is_template(value):
            yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from template_strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from template_strings(item, f"{path}[{index}]")
