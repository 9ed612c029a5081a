"""Sizes for the template budget: what a value would take as text, what a filter, method or
function is about to build, and what a result did build.

``tav.engine.jinja_env`` charges these to the render's ``Budget``. An estimate is an upper
bound within a small factor, cheap next to the work it guards; operations whose result is
about the size of their operands (``upper``, ``split``, ``sort``...) are charged after they
run, the others (``center``, ``indent``, ``replace``, ``join``, formats, ``lipsum``...)
before, so that no single step can build much more than what is left of the budget.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sized
from string import Formatter
from typing import Any

from jinja2 import Environment, pass_environment
from jinja2.utils import Namespace

from tav.engine.template_budget import Budget, current

Estimate = Callable[..., int]
"""``estimate(budget, value, *args, **kwargs)``: bytes the call would build at most."""

POINTER = 8
_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\d+|\*)?(?:\.(\d+|\*))?")
_DIGITS = re.compile(r"\d+")
_FORMATTER = Formatter()


# -- what values take as text ------------------------------------------------------------


def text_size(value: Any, budget: Budget, *, indent: int = 0) -> int:
    """About how many characters ``str(value)`` takes (a dump indented by ``indent`` per
    level when ``indent`` is set). Refuses through ``budget`` as soon as the text could not
    fit in what is left, so the walk never outgrows what it guards; shared parts (``[x] *
    1000``) are walked once and counted as often as they appear."""
    if isinstance(value, str):
        return len(value)
    return _Sizer(budget, indent).size(value, 0)


class _Sizer:
    def __init__(self, budget: Budget, indent: int) -> None:
        self.budget = budget
        self.indent = indent
        self.memo: dict[Any, int] = {}
        self.walked = 0

    def size(self, value: Any, depth: int) -> int:
        if isinstance(value, str):
            return len(value) + 2
        if isinstance(value, bool) or value is None:
            return 5
        if isinstance(value, int):
            return value.bit_length() * 77 // 256 + 2  # log10(2) ≈ 77/256
        if isinstance(value, float):
            return 24
        if isinstance(value, bytes | bytearray):
            return 4 * len(value) + 3
        children = _children(value)
        if children is None:
            return 40  # another object: its short repr
        key = (id(value), depth) if self.indent else id(value)
        known = self.memo.get(key)
        if known is not None:
            return known
        self.memo[key] = 5  # "[...]": a namespace that holds itself
        return self._container(key, children, depth)

    def _container(self, key: Any, children: Iterable[Any], depth: int) -> int:
        self.walked += 1
        if self.walked % 256 == 0:
            self.budget.tick()
        per_item = 2 + ((depth + 1) * self.indent + 1 if self.indent else 0)
        total = 12
        for child in children:
            total += self.size(child, depth + 1) + per_item
            if total > self.budget.bytes_left:
                self.budget.afford(total)
        self.memo[key] = total
        return total


def _children(value: Any) -> Iterable[Any] | None:
    if isinstance(value, Mapping):
        return _flat_items(value)
    if isinstance(value, list | tuple | set | frozenset):
        return value
    if isinstance(value, Namespace):
        return _flat_items(value._Namespace__attrs)
    return None


def _flat_items(mapping: Mapping[Any, Any]) -> Iterable[Any]:
    for key, item in mapping.items():
        yield key
        yield item


def built_size(value: Any) -> int:
    """Bytes a result just built takes: text, or a collection's slots and its strings."""
    if isinstance(value, str | bytes | bytearray):
        return len(value)
    if isinstance(value, list | tuple | set | frozenset):
        return POINTER * len(value) + sum(len(item) for item in value if isinstance(item, str))
    if isinstance(value, dict):
        return 2 * POINTER * len(value) + sum(
            len(item) for pair in value.items() for item in pair if isinstance(item, str)
        )
    return 0


def materialized(value: Any, budget: Budget) -> Any:
    """``value`` as a list when it is a one-shot iterator (``map``, ``select``...), built
    under the budget, so that an estimate can look at its items and the call still gets
    them; other values unchanged."""
    if isinstance(value, Sized) or not isinstance(value, Iterable):
        return value
    items = []
    for item in value:
        budget.charge(POINTER)
        items.append(item)
    return items


# -- estimates of filters, string methods and functions ------------------------------------


def _text(value: Any, budget: Budget) -> int:
    return text_size(value, budget)


def _int(value: Any) -> int:
    return abs(value) if isinstance(value, int) and not isinstance(value, bool) else 0


def _width(width: Any) -> int:
    return len(width) if isinstance(width, str) else _int(width)


def _center(budget: Budget, value: Any, width: Any = 80, *_: Any) -> int:
    return _text(value, budget) + _int(width)


def _indent(
    budget: Budget, value: Any, width: Any = 4, first: Any = False, blank: Any = False
) -> int:
    text = value if isinstance(value, str) else ""
    return _text(value, budget) + (text.count("\n") + 1) * _width(width)


def _replace(budget: Budget, value: Any, old: Any, new: Any, count: Any = None) -> int:
    size, old, new = _text(value, budget), str(old), str(new)
    if old == "":
        found = size + 1
    elif isinstance(value, str):
        found = value.count(old)
    else:
        found = size // len(old)
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return size + found * len(new)


def _join(budget: Budget, value: Any, separator: Any = "", *_: Any) -> int:
    if isinstance(value, str):
        items: Any = value
    elif isinstance(value, list | tuple):
        items = value
    else:
        items = list(value) if isinstance(value, Iterable) else ()
    separators = max(len(items) - 1, 0) * _text(separator, budget)
    budget.afford(separators)
    return separators + _text(items, budget)


def _wordwrap(
    budget: Budget,
    value: Any,
    width: Any = 79,
    break_long_words: Any = True,
    wrapstring: Any = None,
    *_: Any,
) -> int:
    # textwrap breaks a long word by slicing off one line at a time: the slices it builds
    # add up to (length² / 2·width), which is what makes wordwrap(1) on a long text slow.
    text = value if isinstance(value, str) else ""
    wrap = len(wrapstring) if isinstance(wrapstring, str) else 1
    size = _text(value, budget) * (1 + wrap)
    if break_long_words and text:
        longest = max(map(len, text.split()), default=0)
        size += len(text) * longest // (2 * max(_int(width), 1))
    return size


def _printf(budget: Budget, value: Any, *args: Any, **kwargs: Any) -> int:
    """``value % args``: the format's text, its widths and precisions, and each field at
    most as long as the longest value."""
    if not isinstance(value, str):
        return 0
    values: Iterable[Any]
    if kwargs:
        values = kwargs.values()
    elif len(args) == 1 and isinstance(args[0], Mapping):
        values = args[0].values()
    elif len(args) == 1 and isinstance(args[0], tuple):
        values = args[0]
    else:
        values = args
    values = list(values)
    widths = 0
    for width, precision in _PRINTF_SPEC.findall(value):
        for number in (width, precision):
            if number == "*":
                widths += max(map(_int, values), default=0)
            elif number:
                widths += int(number)
    fields = value.count("%")
    return len(value) + widths + fields * max((_text(v, budget) for v in values), default=0)


def printf_size(budget: Budget, template: Any, operand: Any) -> int:
    """The ``%`` operator: ``template % operand``."""
    return _printf(budget, template, operand)


def _format(budget: Budget, value: Any, *args: Any, **kwargs: Any) -> int:
    """``value.format(...)``: like ``_printf``, fields found by Python's own parser."""
    if not isinstance(value, str):
        return 0
    values = [*args, *kwargs.values()]
    if len(values) == 1 and isinstance(values[0], Mapping):  # format_map
        values = list(values[0].values())
    widths = fields = 0
    for _, field, spec, _ in _FORMATTER.parse(value):
        if field is None:
            continue
        fields += 1
        widths += sum(int(number) for number in _DIGITS.findall(spec or ""))
        if "{" in (spec or ""):
            widths += max(map(_int, values), default=0)
    return len(value) + widths + fields * max((_text(v, budget) for v in values), default=0)


def _expandtabs(budget: Budget, value: Any, tabsize: Any = 8) -> int:
    text = value if isinstance(value, str) else ""
    return len(text) + text.count("\t") * _int(tabsize)


def _translate(budget: Budget, value: Any, table: Any) -> int:
    text = value if isinstance(value, str) else ""
    longest = 1
    if isinstance(table, Mapping):
        longest = max((_text(v, budget) for v in table.values()), default=1)
    return len(text) * max(longest, 1)


def _lipsum(budget: Budget, n: Any = 5, html: Any = True, min: Any = 20, max: Any = 100) -> int:
    words = _int(min) if _int(min) > _int(max) else _int(max)
    return _int(n) * (words * 12 + 20)


def _batch(budget: Budget, value: Any, linecount: Any, fill_with: Any = None) -> int:
    count = len(value) if isinstance(value, Sized) else 0
    rows = count // max(_int(linecount), 1) + 1
    return POINTER * (count + _int(linecount)) + 64 * rows


def _slice(budget: Budget, value: Any, slices: Any, fill_with: Any = None) -> int:
    count = len(value) if isinstance(value, Sized) else 0
    return POINTER * (count + _int(slices)) + 64 * _int(slices)


def _sum(budget: Budget, value: Any, attribute: Any = None, start: Any = 0) -> int:
    # Adding lists one by one copies the running total each time: quadratic.
    if not isinstance(start, list | tuple | str) or not isinstance(value, Iterable):
        return 0
    running, copied = len(start), 0
    for item in value:
        running += len(item) if isinstance(item, Sized) else 1
        copied += running
    return POINTER * copied


def _tojson(budget: Budget, value: Any, indent: Any = None) -> int:
    # Escapes (\u00e9, \u003c) make JSON text up to a few times longer than the values.
    return 2 * text_size(value, budget, indent=_width(indent))


def _pprint(budget: Budget, value: Any) -> int:
    return 2 * text_size(value, budget, indent=1)


FILTER_ESTIMATES: Mapping[str, Estimate] = {
    "batch": _batch,
    "center": _center,
    "format": _printf,
    "indent": _indent,
    "join": _join,
    "pprint": _pprint,
    "replace": _replace,
    "slice": _slice,
    "sum": _sum,
    "tojson": _tojson,
    "wordwrap": _wordwrap,
}
"""Filters whose result can be far larger than their operands: estimated before."""

MATERIALIZED = frozenset({"batch", "join", "slice", "sum"})
"""Filters whose estimate looks at the items: a one-shot iterator becomes a list first."""

BUILDING_FILTERS = frozenset(
    {
        "capitalize",
        "dictsort",
        "e",
        "escape",
        "filesizeformat",
        "forceescape",
        "groupby",
        "list",
        "lower",
        "reverse",
        "safe",
        "sort",
        "string",
        "striptags",
        "title",
        "trim",
        "truncate",
        "unique",
        "upper",
        "urlencode",
        "urlize",
        "xmlattr",
    }
)
"""Filters that build a new value about the size of their operands: charged after."""

TEXT_FILTERS = frozenset(
    {
        "capitalize",
        "center",
        "e",
        "escape",
        "forceescape",
        "indent",
        "lower",
        "replace",
        "safe",
        "string",
        "striptags",
        "title",
        "trim",
        "truncate",
        "upper",
        "urlencode",
        "urlize",
        "wordcount",
        "wordwrap",
        "xmlattr",
    }
)
"""Filters that turn their operand into text first: a list's text is charged before."""

METHOD_ESTIMATES: Mapping[str, Estimate] = {
    "center": _center,
    "ljust": _center,
    "rjust": _center,
    "zfill": _center,
    "expandtabs": _expandtabs,
    "join": lambda budget, separator, items: _join(budget, items, separator),
    "replace": _replace,
    "format": _format,
    "format_map": _format,
    "translate": _translate,
}
"""Methods of strings whose result can be far larger than the string."""

LIPSUM: Estimate = _lipsum


# -- a wordwrap that keeps to the deadline -----------------------------------------------


@pass_environment
def wordwrap(
    environment: Environment,
    s: str,
    width: int = 79,
    break_long_words: bool = True,
    wrapstring: str | None = None,
    break_on_hyphens: bool = True,
) -> str:
    """Jinja's ``wordwrap``, checking the deadline at every word: ``textwrap`` takes
    seconds on a long text wrapped at width 1, with no way to stop it from outside."""
    if wrapstring is None:
        wrapstring = environment.newline_sequence
    wrapper = _TickingWrapper(
        width=width,
        expand_tabs=False,
        replace_whitespace=False,
        break_long_words=break_long_words,
        break_on_hyphens=break_on_hyphens,
    )
    # Each paragraph wrapped apart, as Jinja does.
    return wrapstring.join(wrapstring.join(wrapper.wrap(line)) for line in s.splitlines())


class _TickingWrapper(textwrap.TextWrapper):
    def _split_chunks(self, text: str) -> list[str]:
        return _TickingChunks(super()._split_chunks(text))

    def _handle_long_word(
        self, reversed_chunks: list[str], cur_line: list[str], cur_len: int, width: int
    ) -> None:
        _tick()
        super()._handle_long_word(reversed_chunks, cur_line, cur_len, width)


class _TickingChunks(list[str]):
    """The words ``TextWrapper`` takes one by one with ``pop()``: each take is a step."""

    def pop(self, index: Any = -1) -> str:
        _tick()
        return super().pop(index)


def _tick() -> None:
    budget = current()
    if budget is not None:
        budget.tick()
