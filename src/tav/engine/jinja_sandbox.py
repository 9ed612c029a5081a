"""The sandbox templates run in: Jinja's immutable sandbox, charging the render's budget.

Every render spends a ``Budget`` (``tav.engine.template_budget``), charged from inside the
sandbox: Jinja's own hooks (``call``, ``call_binop`` with ``+`` intercepted, ``getitem``,
``concat`` and ``finalize``), every filter (wrapped), and changes to the code Jinja
generates: a ``{% for %}`` iterates through ``loop_items``, which counts its steps; ``~``
sizes its operands before joining them; slices go through ``getitem``; and the output of
macros and blocks goes to a ``_Buffer`` that is charged as it fills.

Nothing of a template runs while it compiles: Jinja's constant folding is off, and a filter
called outside a render refuses (Jinja would otherwise fold ``'...'|indent(999999)`` into a
constant at compile time, outside any budget).
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
from typing import Any

from jinja2 import StrictUndefined, Undefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg, generate_lorem_ipsum

from tav.engine import jinja_guards as guards
from tav.engine.template_budget import Budget
from tav.engine.template_budget import current as _current

MAX_SEQUENCE = 1_000_000
MAX_EXPONENT = 1_000
MAX_INT_BITS = 10_000
"""Bigger integers could not even be shown: Python refuses str() past 4,300 digits."""

_HUGE_NUMBER = re.compile(r"\d{7,}")
_CHUNKS = 256
"""Output chunks charged, and joined, at a time."""


class NotRendering(Exception):
    """Template code ran outside a render: only Jinja trying to turn a constant output
    (``{{ 'a' | upper }}``) into text at compile time does that, and it gives up on the
    constant when this is raised."""


def current_budget() -> Budget:
    """The running render's budget."""
    budget = _current()
    if budget is None:
        raise NotRendering
    return budget


def _check_arguments(args: Iterable[Any], kwargs: dict[str, Any]) -> None:
    for value in (*args, *kwargs.values()):
        if _int(value) and abs(value) > MAX_SEQUENCE:
            raise SecurityError(f"the number {value} is too large here")


def _check_format(text: Any) -> None:
    if isinstance(text, str) and _HUGE_NUMBER.search(text):
        raise SecurityError("a format with a width or precision this large is not allowed")


def _guarded(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that runs only inside a render, and charges its budget: an estimate before
    it runs for filters that can build much more than they get, its result after for the
    others that build something."""
    at = 0 if _PassArg.from_obj(function) is None else 1  # after context/environment
    estimate = guards.FILTER_ESTIMATES.get(name)
    as_text = name in guards.TEXT_FILTERS and estimate is None
    materialize = name in guards.MATERIALIZED
    builds = name in guards.BUILDING_FILTERS

    @functools.wraps(function)  # keeps Jinja's pass_context/pass_environment marks
    def guarded(*args: Any, **kwargs: Any) -> Any:
        budget = current_budget()
        budget.tick()
        if len(args) > at + 1 or kwargs:
            _check_arguments(args[at + 1 :], kwargs)
        value = args[at] if len(args) > at else None
        if materialize:
            value = guards.materialized(value, budget)
            args = (*args[:at], value, *args[at + 1 :])
        if estimate is not None:
            budget.charge(estimate(budget, *args[at:], **kwargs))
        elif as_text and not isinstance(value, str):
            budget.charge(guards.text_size(value, budget))
        result = function(*args, **kwargs)
        if builds and result is not value:
            budget.charge(len(result) if type(result) is str else guards.built_size(result))
        return result

    return guarded


class _CodeGenerator(CodeGenerator):
    """Jinja's code generator with two hooks the sandbox lacks: loop steps and ``~``.

    (Jinja forbids new node types, so the iterable of a ``{% for %}`` is marked by identity
    and wrapped as it is written.)"""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loop_iterables: set[int] = set()

    def buffer(self, frame: Frame) -> None:
        # The output of a macro, a block or a {% set %} block: see ``_Buffer``.
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.output_buffer()")

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        self._loop_iterables.add(id(node.iter))
        super().visit_For(node, frame)

    def visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> Any:
        if id(node) not in self._loop_iterables:
            return super().visit(node, *args, **kwargs)
        self._loop_iterables.discard(id(node))
        self.write("environment.loop_items(")
        super().visit(node, *args, **kwargs)
        self.write(")")
        return None

    def visit_Getitem(self, node: nodes.Getitem, frame: Frame) -> None:
        # Jinja writes a slice as Python's ``x[a:b]``, past ``environment.getitem``: a copy
        # the budget would not see (and ``1[:1]`` in the generated code, a SyntaxWarning).
        if not isinstance(node.arg, nodes.Slice):
            super().visit_Getitem(node, frame)
            return
        self.write("environment.getitem(")
        self.visit(node.node, frame)
        self.write(", slice(")
        for part in (node.arg.start, node.arg.stop, node.arg.step):
            if part is None:
                self.write("None")
            else:
                self.visit(part, frame)
            self.write(", ")
        self.write("))")

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        # As Jinja's, with the operands passed through ``concat_parts`` first.
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"{join}(environment.concat_parts((")
        for part in node.nodes:
            self.visit(part, frame)
            self.write(", ")
        self.write(")))")


class _Buffer(list[str]):
    """The output of a macro, a block or a ``{% set %}`` block, as Jinja's generated code
    appends to it: every ``_CHUNKS`` chunks are charged and joined into one, so that a
    loop's many small chunks (about 50 bytes each as objects) never pile up."""

    __slots__ = ("_budget", "_charged")

    def __init__(self, budget: Budget) -> None:
        super().__init__()
        self._budget = budget
        self._charged = 0  # leading items already charged

    def append(self, chunk: str) -> None:
        super().append(chunk)
        if len(self) >= _CHUNKS:
            self._join()

    def extend(self, chunks: Iterable[str]) -> None:
        super().extend(chunks)
        if len(self) >= _CHUNKS:
            self._join()

    def _join(self) -> None:
        self._budget.charge(sum(map(len, islice(self, self._charged, None))))
        joined = "".join(self)
        self.clear()
        super().append(joined)
        self._charged = 1

    def text(self) -> str:
        self._budget.charge(sum(map(len, islice(self, self._charged, None))))
        return "".join(self)


class _Environment(ImmutableSandboxedEnvironment):
    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def loop_items(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """The steps of a ``{% for %}``, each counted."""
        budget = current_budget()
        iteration = budget.iteration
        for item in iterable:
            iteration()
            yield item

    def output_buffer(self) -> _Buffer:
        return _Buffer(current_budget())

    def concat(self, parts: Iterable[str]) -> str:
        """Output (of the template, a macro, a block), charged as it is written: a loop
        writing a large text stops part way."""
        if isinstance(parts, _Buffer):
            return parts.text()
        budget = current_budget()
        if isinstance(parts, list):
            budget.charge(sum(map(len, parts)))
            return "".join(parts)
        chunks = list(islice(parts, _CHUNKS))
        budget.charge(sum(map(len, chunks)))
        if len(chunks) < _CHUNKS:
            return "".join(chunks)
        texts = ["".join(chunks)]  # many small chunks take far more memory than their text
        while len(chunks) == _CHUNKS:
            chunks = list(islice(parts, _CHUNKS))
            budget.charge(sum(map(len, chunks)))
            texts.append("".join(chunks))
        return "".join(texts)

    def concat_parts(self, parts: tuple[Any, ...]) -> tuple[Any, ...]:
        """The operands of ``~``, charged before they are joined."""
        budget = current_budget()
        size = 0
        for part in parts:
            size += len(part) if isinstance(part, str) else guards.text_size(part, budget)
        budget.charge(size)
        return parts

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = current_budget()
        budget.tick()
        _check_arguments(args, kwargs)
        method = _string_method(__obj)
        if method is not None:
            return __self._call_method(budget, method, __context, __obj, args, kwargs)
        if isinstance(__obj, LoopContext) and args:  # loop(children) in a recursive for
            args = (__self.loop_items(args[0]), *args[1:])
        elif __obj is generate_lorem_ipsum:
            budget.charge(guards.LIPSUM(budget, *args, **_arguments(kwargs)))
        return super().call(__context, __obj, *args, **kwargs)

    def _call_method(
        self,
        budget: Budget,
        method: tuple[str, str],
        context: Any,
        obj: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        owner, name = method
        estimate = guards.METHOD_ESTIMATES.get(name)
        if name == "join" and args:
            args = (guards.materialized(args[0], budget), *args[1:])
        if estimate is not None:
            budget.charge(estimate(budget, owner, *args, **_arguments(kwargs)))
        result = super().call(context, obj, *args, **kwargs)
        if estimate is None and result is not owner:
            budget.charge(guards.built_size(result))
        return result

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Not a step: ``a.b`` in a template is as many reads as written (filters that read
        # an attribute per item go through ``getitem``).
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        elif attribute in ("format", "format_map"):
            _check_format(obj)  # '{:>999999999}'.format(1)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        budget = _current()
        if budget is not None:
            budget.tick()
        if isinstance(argument, str) and argument in ("format", "format_map"):
            _check_format(obj)
        value = super().getitem(obj, argument)
        if budget is not None and isinstance(argument, slice):
            budget.charge(guards.built_size(value))
        return value

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        # Jinja's message names the object's type ('function', 'type'...): say less.
        return self.undefined(
            f"reading attribute {attribute!r}",
            name=attribute,
            obj=obj,
            exc=SecurityError,
        )

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        # Arithmetic is cheap (integers are kept small below): only what builds text or
        # lists is charged.
        if operator_ == "+":
            if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
                current_budget().charge(_sequence_size(left) + _sequence_size(right))
            return operator.add(left, right)
        if operator_ == "%":
            _check_format(left)
            if isinstance(left, str):
                budget = current_budget()
                budget.charge(guards.printf_size(budget, left, right))
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
            if sized:
                current_budget().charge(_sequence_size(sequence) * max(count, 0))
        if _int(left) and _int(right) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise SecurityError("the result of '*' would be too large")
        return operator.mul(left, right)


def _arguments(kwargs: dict[str, Any]) -> dict[str, Any]:
    """A call's keyword arguments without those Jinja adds inside loops and blocks."""
    if "_loop_vars" in kwargs or "_block_vars" in kwargs:
        return {k: v for k, v in kwargs.items() if k not in ("_loop_vars", "_block_vars")}
    return kwargs


def _sequence_size(value: str | list[Any] | tuple[Any, ...]) -> int:
    return len(value) if isinstance(value, str) else guards.built_size(value)


def _string_method(obj: Any) -> tuple[str, str] | None:
    """``(the string, the method's name)`` when ``obj`` is a bound method of a string
    (``str.format`` reaches templates wrapped by the sandbox)."""
    target = getattr(obj, "__wrapped__", obj)
    owner = getattr(target, "__self__", None)
    if isinstance(owner, str) and callable(target):
        return owner, getattr(target, "__name__", "")
    return None


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def finalize(value: Any) -> Any:
    """What ``{{ ... }}`` inside text shows: data only (undefined fails when shown)."""
    if isinstance(value, _SCALARS):
        return value
    if callable(value) and not isinstance(value, Undefined):
        raise SecurityError("a template's value must be data, not something to call")
    budget = _current()
    if budget is not None:  # the text of a list is built next: see that it fits first
        budget.afford(guards.text_size(value, budget))
    return value


_SCALARS = (str, int, float, type(None))


ENV = _Environment(
    undefined=StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
    finalize=finalize,
    # No constant folding: it would run template code while compiling, outside any budget,
    # and fail the compile on what should fail the render (``{{ 1[0] ~ 'x' }}``).
    optimized=False,
)
ENV.filters["wordwrap"] = guards.wordwrap
ENV.filters = {name: _guarded(name, function) for name, function in ENV.filters.items()}
