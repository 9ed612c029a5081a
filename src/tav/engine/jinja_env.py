"""The Jinja2 side of ``tav.engine.templates``: the sandboxed environment, compiling,
rendering, syntax checks and the variables a template reads.

Imported by ``templates`` on the first template it meets: Jinja2 (~20 ms and ~2 MB) is then
loaded only by processes that have templates to render or check.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Generator, ItemsView, KeysView, Mapping, ValuesView
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, UndefinedError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from tav.core.errors import TemplateError

_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>.*?)\}\}\s*$", re.DOTALL)
MAX_SEQUENCE = 1_000_000
MAX_EXPONENT = 1_000
MAX_INT_BITS = 10_000
"""Bigger integers could not even be shown: Python refuses str() past 4,300 digits."""

Renderer = Callable[[Mapping[str, Any]], Any]

_HUGE_NUMBER = re.compile(r"\d{7,}")


def _check_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    for value in (*args, *kwargs.values()):
        if _int(value) and abs(value) > MAX_SEQUENCE:
            raise SecurityError(f"the number {value} is too large here")


def _check_format(text: Any) -> None:
    if isinstance(text, str) and _HUGE_NUMBER.search(text):
        raise SecurityError("a format with a width or precision this large is not allowed")


def _guarded(function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that refuses size arguments that would build huge strings."""

    @functools.wraps(function)  # keeps Jinja's pass_context/pass_environment marks
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _check_arguments(args, kwargs)
        return function(*args, **kwargs)

    return guarded


class _Environment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%"})

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_arguments(args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        elif attribute in ("format", "format_map"):
            _check_format(obj)  # '{:>999999999}'.format(1)
        return super().getattr(obj, attribute)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        # Jinja's message names the object's type ('function', 'type'...): say less.
        return self.undefined(
            f"reading attribute {attribute!r}",
            name=attribute,
            obj=obj,
            exc=SecurityError,
        )

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "%":
            _check_format(left)
            return operator.mod(left, right)
        if operator_ == "**":
            if isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
                raise SecurityError(f"exponent {right} is too large")
            if _int(left) and _int(right) and abs(left).bit_length() * right > MAX_INT_BITS:
                raise SecurityError("the result of '**' would be too large")
            return operator.pow(left, right)
        for sequence, count in ((left, right), (right, left)):
            sized = isinstance(sequence, str | list | tuple) and isinstance(count, int)
            if sized and len(sequence) * count > MAX_SEQUENCE:
                raise SecurityError("the result of '*' would be too large")
        if _int(left) and _int(right) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise SecurityError("the result of '*' would be too large")
        return operator.mul(left, right)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _finalize(value: Any) -> Any:
    """What ``{{ ... }}`` inside text shows: data only (undefined fails when shown)."""
    if callable(value) and not isinstance(value, Undefined):
        raise SecurityError("a template's value must be data, not something to call")
    return value


_LAZY_SEQUENCES = (range, KeysView, ValuesView, ItemsView, Generator)


def _checked(value: Any) -> Any:
    """A single expression's native value: defined, and data all the way down.

    Lazy sequences (``range(3)``, ``x.keys()``, ``xs | map(...)``) become lists, so that a
    value is always something a result or an API response can hold.
    """
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, _LAZY_SEQUENCES):
        value = list(value)
    if isinstance(value, list | tuple):
        return [_checked(item) for item in value]
    if isinstance(value, dict):
        return {key: _checked(item) for key, item in value.items()}
    if isinstance(value, Markup):
        return str(value)
    return _finalize(value)


_ENV = _Environment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, finalize=_finalize
)
_ENV.filters = {name: _guarded(function) for name, function in _ENV.filters.items()}


@lru_cache(maxsize=4096)
def compile_template(source: str) -> Renderer:
    """Compile a template once; raise ``TemplateSyntaxError`` if it is not valid."""
    match = _SINGLE_EXPRESSION.match(source)
    if match and "{{" not in match["expr"] and "}}" not in match["expr"]:
        expression = _ENV.compile_expression(match["expr"], undefined_to_none=False)
        return lambda context: _checked(expression(**context))
    template = _ENV.from_string(source)
    return lambda context: template.render(context)


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
    """Render one template string; ``where`` names it in errors (``node 'x', params.url``)."""
    try:
        return compile_template(source)(context)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"{where}: template syntax error: {exc.message}") from None
    except UndefinedError:
        raise TemplateError(f"{where}: {_describe_undefined(source, context)}") from None
    except SecurityError as exc:
        raise TemplateError(f"{where}: not allowed in templates: {exc}") from None
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
    return _ENV.parse(source if not match else "{{" + match["expr"] + "}}")


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
