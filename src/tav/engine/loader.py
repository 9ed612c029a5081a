"""Loading workflow documents from files (JSON or YAML).

Text is UTF-8, or UTF-8, UTF-16 or UTF-32 that starts with a byte order mark (what
Windows editors and PowerShell's ``>`` write); anything else is refused with the offset of
the first byte that is not.

YAML is read with PyYAML's safe loader, which does not bound what aliases expand to: a
few hundred bytes of nested anchors ("billion laughs") stand for billions of values, and
whatever walks the document afterwards never ends. So the composed node graph is measured
before anything is built from it (each node once, so the measuring is as cheap as the
document is long): aliases may add at most ``MAX_ALIAS_VALUES`` values, and a value that
contains itself is refused. Rejected: refusing anchors and aliases altogether (hand-written
YAML uses them for repeated params), and counting alias uses (a few uses of a large value
are as bad as many of a small one).
"""

from __future__ import annotations

import asyncio
import codecs
import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tav.core.errors import NotFound, Problem, WorkflowInvalid
from tav.core.workflow import Workflow, parse_workflow

if TYPE_CHECKING:
    import yaml

YAML_SUFFIXES = (".yaml", ".yml")
MAX_ALIAS_VALUES = 100_000
"""Values that YAML aliases may add to a document, in all."""
BOMS = (  # UTF-32's little-endian mark starts with UTF-16's: it goes first
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)


def decode_text(data: bytes) -> str:
    """UTF-8 text, or text with a byte order mark; ``ValueError`` says where it is not."""
    codec, name = next(((c, n) for bom, c, n in BOMS if data.startswith(bom)), ("utf-8", "UTF-8"))
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        where = f"byte 0x{data[exc.start]:02x} at offset {exc.start}"
        if exc.start >= len(data) - 3 and exc.reason.startswith("truncated"):
            where = f"it ends in the middle of a character, at offset {exc.start}"
        raise ValueError(f"not {name} text ({where})") from None


def decode_document(data: bytes, *, source: str) -> str:
    """The text of a workflow document; ``WorkflowInvalid`` when it is not text."""
    try:
        return decode_text(data)
    except ValueError as exc:
        message = f"{exc}; save it as UTF-8"
        raise WorkflowInvalid([Problem(message)], source=source) from None


def parse_document(text: str, *, source: str, yaml_allowed: bool = True) -> Any:
    """JSON (or YAML) text → data; syntax errors become ``WorkflowInvalid`` with a line."""
    try:
        if yaml_allowed and source.lower().endswith(YAML_SUFFIXES):
            return _load_yaml(text, source)
        return json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
    except RecursionError:
        message = "the document is nested too deeply to read"
    except (ValueError, OverflowError) as exc:
        # Valid syntax, impossible value: a YAML date like 2024-13-45, an integer with
        # more digits than Python converts.
        message = f"a value cannot be read: {exc}"
    raise WorkflowInvalid([Problem(message)], source=source)


def _load_yaml(text: str, source: str) -> Any:
    import yaml  # on the first YAML document: most processes never read one

    loader = _bounded_loader()(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        problem = Problem(f"not valid YAML: {_yaml_reason(exc)}")
        raise WorkflowInvalid([problem], source=source) from None
    except _AliasesTooLarge as exc:
        raise WorkflowInvalid([Problem(str(exc))], source=source) from None
    finally:
        loader.dispose()


class _AliasesTooLarge(Exception):
    """YAML aliases that expand beyond ``MAX_ALIAS_VALUES``, or into themselves."""


@functools.cache
def _bounded_loader() -> type[yaml.SafeLoader]:
    import yaml

    class BoundedLoader(yaml.SafeLoader):
        """PyYAML's safe loader, measuring each document before building it."""

        def compose_document(self) -> Any:
            node = super().compose_document()
            if node is not None:
                _check_aliases(node)
            return node

    return BoundedLoader


def _check_aliases(root: yaml.Node) -> None:
    sizes: dict[int, int] = {}
    total = _expanded(root, sizes, set())
    if total - len(sizes) > MAX_ALIAS_VALUES:
        raise _AliasesTooLarge(
            f"YAML aliases expand the document by {total - len(sizes)} values, more than "
            f"{MAX_ALIAS_VALUES}; write the values out, or use fewer aliases"
        )


def _expanded(node: yaml.Node, sizes: dict[int, int], open_: set[int]) -> int:
    """How many values ``node`` stands for once every alias in it is expanded; each node
    is measured once (``sizes``), and one found inside itself (``open_``) is refused."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_:
        mark = node.start_mark
        raise _AliasesTooLarge(
            f"a YAML alias refers to a value that contains it (line {mark.line + 1}, "
            f"column {mark.column + 1})"
        )
    open_.add(key)
    size = 1
    if isinstance(node.value, list):
        for item in node.value:
            for child in item if isinstance(item, tuple) else (item,):
                size += _expanded(child, sizes, open_)
    open_.discard(key)
    sizes[key] = size
    return size


def _yaml_reason(exc: yaml.YAMLError) -> str:
    """One line, like the JSON message (PyYAML's own spans lines and quotes the text)."""
    import yaml

    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return str(exc)
    mark = exc.problem_mark
    context = f"{exc.context}: " if exc.context else ""
    return f"{context}{exc.problem} (line {mark.line + 1}, column {mark.column + 1})"


def load_workflow_file(path: str | Path) -> Workflow:
    """Read a workflow file (``.json``, ``.yaml`` or ``.yml``); compiling it checks the rest."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"workflow file not found: {path}") from None
    except OSError as exc:
        raise NotFound(f"cannot read workflow file {path}: {exc.strerror}") from None
    text = decode_document(data, source=str(path))
    return parse_workflow(parse_document(text, source=str(path)), source=str(path), structure=False)


class FileWorkflowLoader:
    """Resolves ``core.subworkflow`` / ``core.map`` refs as paths relative to the caller."""

    async def load(self, ref: str, *, relative_to: str | None) -> tuple[Workflow, str]:
        base = Path(relative_to).parent if relative_to else Path.cwd()
        path = (base / ref).resolve()
        workflow = await asyncio.to_thread(load_workflow_file, path)
        return workflow, str(path)
