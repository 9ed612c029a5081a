"""Sandboxed Jinja2 templates for node params.

- A string holding ``{{ ... }}`` or ``{% ... %}`` is a template; others pass as written.
- A param that is exactly one ``{{ expr }}`` keeps the value's native type (a list stays
  a list); anything else renders to a string.
- Undefined names are errors, and the error names the missing variable by its full path
  (``nodes.fetch.output.statuss``) and what is there instead.
- Templates run in Jinja's immutable sandbox: Python internals (``__class__``, ``mro``,
  ``__globals__``, ...) are refused with a ``TemplateError`` that reveals nothing, and
  huge results are refused too (``*``, ``**``, ``%`` and format widths, numbers past a
  million given to filters and functions, e.g. ``center(10**9)``), since rendering runs on
  the event loop where ``timeout_s`` cannot interrupt it. A template's value is data: a function or
  class (``{{ range }}``, a dict's ``items`` method) is refused rather than shown as
  ``<function ... at 0x...>``.
- Attribute syntax reads data first: ``input.items`` is the ``items`` key of a JSON object,
  not the ``dict.items`` method (Jinja's default is the opposite, a classic surprise).

Rejected alternatives: a hand-written ``{{ path }}`` resolver (no expressions, filters or
conditions, which users of n8n and Dify expect), and plain ``eval`` (not safe).

This module is the engine's interface; the Jinja2 side (the sandbox, compiling, rendering,
reading a template's variables) is ``tav.engine.jinja_env``, imported on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

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


def render_value(value: Any, context: Mapping[str, Any], *, where: str) -> Any:
    """Render every template string inside ``value`` (dicts and lists recursively)."""
    if isinstance(value, str):
        return render(value, context, where=where) if is_template(value) else value
    if isinstance(value, dict):
        return {k: render_value(v, context, where=f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, context, where=f"{where}[{i}]") for i, v in enumerate(value)]
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
