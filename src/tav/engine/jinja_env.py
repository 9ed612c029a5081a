"""The Jinja2 side of ``tav.engine.templates``: compiling, rendering, syntax checks and the
variables a template reads. The sandbox itself, and how it charges a render's budget, is
``tav.engine.jinja_sandbox``.

Imported by ``templates`` on the first template it meets: Jinja2 (~20 ms and ~2 MB) is then
loaded only by processes that have templates to render or check.
"""

from __future__ import annotations

import re
from collections.abc import (
    Callable,
    Generator,
    ItemsView,
    KeysView,
    Mapping,
    ValuesView,
)
from functools import lru_cache
from typing import Any

from jinja2 import TemplateSyntaxError, Undefined, UndefinedError, nodes
from jinja2.exceptions import SecurityError
from markupsafe import Markup

from tav.core.errors import TemplateError
from tav.engine import jinja_guards as guards
from tav.engine.jinja_sandbox import ENV, current_budget, finalize
from tav.engine.template_budget import (
    INLINE_SOURCE_CHARS,
    Budget,
    OverBudget,
    TooHeavyInline,
    spending,
)
from tav.engine.template_budget import current as _current

_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>.*?)\}\}\s*$", re.DOTALL)

Renderer = Callable[[Mapping[str, Any]], Any]

_LAZY_SEQUENCES = (range, KeysView, ValuesView, ItemsView, Generator)


def _checked(value: Any, budget: Budget) -> Any:
    """A single expression's native value: defined, and data all the way down.

    Lazy sequences (``range(3)``, ``x.keys()``, ``xs | map(...)``) become lists, so that a
    value is always something a result or an API response can hold. Each list, key and
    text is charged: a value built of shared parts (``[[x] * 1000] * 1000``) is charged as
    large as it will be once stored.
    """
    if isinstance(value, str):
        budget.charge(len(value))
        return str(value) if isinstance(value, Markup) else value
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, _LAZY_SEQUENCES):
        value = list(value)
    if isinstance(value, list | tuple):
        budget.charge(guards.POINTER * len(value))
        return [_checked(item, budget) for item in value]
    if isinstance(value, dict):
        budget.charge(2 * guards.POINTER * len(value))
        return {key: _checked(item, budget) for key, item in value.items()}
    return finalize(value)


def _read(value: Any, budget: Budget) -> Any:
    """The native value of an expression that only reads a variable (``nodes.x.output``):
    data from the context passes as it is; only what a template could make is checked."""
    if isinstance(value, str | int | float | bool | dict | list) or value is None:
        return value
    return _checked(value, budget)


@lru_cache(maxsize=4096)
def compile_template(source: str) -> Renderer:
    """Compile a template once; raise ``TemplateSyntaxError`` if it is not valid."""
    with spending(None):  # nothing of the template runs while it compiles
        return _compile(source)


def _compile(source: str) -> Renderer:
    match = _SINGLE_EXPRESSION.match(source)
    if match and "{{" not in match["expr"] and "}}" not in match["expr"]:
        expression = ENV.compile_expression(match["expr"], undefined_to_none=False)
        path = _path_read(match["expr"])
        if path is None:
            return lambda context: _checked(expression(**context), current_budget())
        return _reader(*path, lambda context: _read(expression(**context), current_budget()))
    template = ENV.from_string(source)
    rendered: Renderer = lambda context: template.render(context)  # noqa: E731
    parts = _text_of_paths(source)
    return rendered if parts is None else _text_reader(parts, rendered)


_Step = tuple[bool, str | int]
"""One step of a variable's path: whether it is written as an attribute (``.key``, else
``[key]``), and the key."""


def _path_read(expression: str) -> tuple[str, tuple[_Step, ...]] | None:
    """The variable and steps of an expression that is a variable's path
    (``nodes.x.output['items']``), or ``None``."""
    output = ENV.parse("{{" + expression + "}}").body[0]
    assert isinstance(output, nodes.Output)
    return _path_of(output.nodes[0])


def _path_of(node: nodes.Node) -> tuple[str, tuple[_Step, ...]] | None:
    """The variable and steps of an expression node that reads a variable's path."""
    steps: list[_Step] = []
    while True:
        if isinstance(node, nodes.Getattr):
            steps.append((True, node.attr))
            node = node.node
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            if not isinstance(node.arg.value, str | int):
                return None
            steps.append((False, node.arg.value))
            node = node.node
        elif isinstance(node, nodes.Name):
            return node.name, tuple(reversed(steps))
        else:
            return None


def _reader(name: str, steps: tuple[_Step, ...], rendered: Renderer) -> Renderer:
    """Reads a variable's path as the compiled expression would, through the sandbox's
    own ``getattr`` and ``getitem``, without making a Jinja context for it (most of what
    rendering ``{{ trigger.item }}`` costs). A name the context lacks (a global, or
    undefined) or a step that finds nothing is left to ``rendered``, the compiled
    expression, which then reads or fails as it always does."""

    def read(context: Mapping[str, Any]) -> Any:
        value = _walk(context, name, steps)
        if value is _NOT_READ:
            return rendered(context)
        return _read(value, current_budget())

    return read


_NOT_READ = object()


def _walk(context: Mapping[str, Any], name: str, steps: tuple[_Step, ...]) -> Any:
    """The value at a variable's path, read through the sandbox's ``getattr`` and
    ``getitem``; ``_NOT_READ`` when the context lacks the name or a step finds nothing."""
    if name not in context:
        return _NOT_READ
    value = context[name]
    for attribute, key in steps:
        value = ENV.getattr(value, str(key)) if attribute else ENV.getitem(value, key)
        if isinstance(value, Undefined):
            return _NOT_READ
    return value


_Part = str | tuple[str, tuple[_Step, ...]]
"""A piece of a text template: literal text, or a variable's path whose value is shown."""


def _text_of_paths(source: str) -> list[_Part] | None:
    """The pieces of a template that is text with variables' paths shown in it
    (``https://x/{{ trigger.item }}?q={{ nodes.a.output }}``), or ``None``."""
    parts: list[_Part] = []
    for node in ENV.parse(source).body:
        if not isinstance(node, nodes.Output):
            return None
        for child in node.nodes:
            if isinstance(child, nodes.TemplateData):
                parts.append(child.data)
                continue
            path = _path_of(child)
            if path is None:
                return None
            parts.append(path)
    return parts


def _text_reader(parts: list[_Part], rendered: Renderer) -> Renderer:
    """Renders text with variables' paths in it as the compiled template would — each
    value through the sandbox's ``getattr``/``getitem`` and ``finalize``, then ``str``,
    the whole charged to the budget — without making a Jinja context (most of what such a
    render costs). Anything else (a name the context lacks, a step that finds nothing, a
    value ``finalize`` refuses) is left to ``rendered``, which renders or fails as it
    always does."""

    def read(context: Mapping[str, Any]) -> Any:
        texts = []
        for part in parts:
            if isinstance(part, str):
                texts.append(part)
                continue
            value = _walk(context, *part)
            if value is _NOT_READ:
                return rendered(context)
            texts.append(value if type(value) is str else _shown(value, rendered, context))
        return ENV.concat(texts)

    return read


def _shown(value: Any, rendered: Renderer, context: Mapping[str, Any]) -> str:
    try:
        return str(finalize(value))
    except Exception:
        # Whatever the compiled template would say of it (a SecurityError, over budget).
        rendered(context)
        raise


def syntax_error(source: str) -> str | None:
    """The syntax error in ``source``, or ``None`` if it compiles."""
    try:
        compile_template(source)
    except TemplateSyntaxError as exc:
        return f"template syntax error: {exc.message} (line {exc.lineno})"
    except RecursionError:
        return "template syntax error: nested too deeply"
    return None


def render(source: str, context: Mapping[str, Any], *, where: str) -> Any:
    """Render one template string; ``where`` names it in errors (``node 'x', params.url``).

    Runs under the current budget, or under one of its own with the default limits.
    """
    budget = _current()
    if budget is None:
        with spending(Budget()):
            return render(source, context, where=where)
    try:
        if budget.inline and len(source) > INLINE_SOURCE_CHARS:
            raise TooHeavyInline
        return compile_template(source)(context)
    except TooHeavyInline:
        raise
    except OverBudget as exc:
        raise TemplateError(f"{where}: {exc}") from None
    except TemplateSyntaxError as exc:
        raise TemplateError(f"{where}: template syntax error: {exc.message}") from None
    except UndefinedError:
        raise TemplateError(f"{where}: {_describe_undefined(source, context)}") from None
    except SecurityError as exc:
        raise TemplateError(f"{where}: not allowed in templates: {exc}") from None
    except RecursionError:
        raise TemplateError(f"{where}: the template calls itself too deeply") from None
    except TemplateError:
        raise
    except Exception as exc:
        raise TemplateError(f"{where}: {type(exc).__name__}: {exc}") from None


def referenced_nodes(source: str) -> set[str]:
    """Node ids a template reads as ``nodes.<id>`` or ``nodes['<id>']``."""
    found: set[str] = set()
    for path in _paths(_parse(source)):
        if len(path) >= 2 and path[0] == "nodes" and isinstance(path[1], str):
            found.add(path[1])
    return found


def _parse(source: str) -> nodes.Template:
    match = _SINGLE_EXPRESSION.match(source)
    return ENV.parse(source if not match else "{{" + match["expr"] + "}}")


def _paths(tree: nodes.Node) -> list[list[str | int]]:
    """Every ``name.attr['key']`` chain in a template, outermost chains only."""
    chains: list[list[str | int]] = []
    inner: set[int] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if id(node) in inner:
            continue
        path = _chain(node, inner)
        if path:
            chains.append(path)
    assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    for name in tree.find_all(nodes.Name):
        if name.ctx == "load" and id(name) not in inner and name.name not in assigned:
            chains.append([name.name])
    return [c for c in chains if c[0] not in assigned]


def _chain(node: nodes.Node, inner: set[int]) -> list[str | int] | None:
    path: list[str | int] = []
    while True:
        inner.add(id(node))
        if isinstance(node, nodes.Getattr):
            path.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            if not isinstance(node.arg.value, str | int):
                return None
            path.append(node.arg.value)
            node = node.node
        elif isinstance(node, nodes.Name):
            inner.add(id(node))
            path.append(node.name)
            return list(reversed(path))
        else:
            return None


def _describe_undefined(source: str, context: Mapping[str, Any]) -> str:
    """Say which variable is missing, by its whole path, and what is there instead."""
    try:
        paths = _paths(_parse(source))
    except TemplateSyntaxError:
        paths = []
    for path in sorted(paths, key=len):
        message = _missing_in(path, context)
        if message:
            return message
    return "undefined variable"


def _missing_in(path: list[str | int], context: Mapping[str, Any]) -> str | None:
    value: Any = context
    for depth, key in enumerate(path):
        shown = _show(path[: depth + 1])
        if _has_key(value, key):
            value = value[key]
        elif depth == 0:
            return f"undefined variable '{shown}' (available: {', '.join(sorted(context))})"
        elif isinstance(value, Mapping):
            parent = _show(path[:depth])
            note = getattr(value, "note", "")
            keys = ", ".join(repr(str(k)) for k in list(value)[:20]) or "none"
            return f"undefined variable '{shown}': {parent} has no key {key!r}{note} (keys: {keys})"
        elif isinstance(value, list | tuple) and isinstance(key, int):
            parent = _show(path[:depth])
            return f"undefined variable '{shown}': {parent} has {len(value)} item(s)"
        elif not hasattr(value, str(key)):
            parent = _show(path[:depth])
            return (
                f"undefined variable '{shown}': {parent} is {type(value).__name__}, not an object"
            )
        else:
            return None
    return None


def _has_key(value: Any, key: str | int) -> bool:
    if isinstance(value, Mapping):
        return key in value
    if isinstance(value, list | tuple) and isinstance(key, int):
        return -len(value) <= key < len(value)
    return False


def _show(path: list[str | int]) -> str:
    text = str(path[0])
    for key in path[1:]:
        text += f"[{key}]" if isinstance(key, int) else f".{key}"
    return text
