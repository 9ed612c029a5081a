"""``NodeModule``: a module of node types, known by record before it is imported.

A record names a module and the type ids it defines. A registry imports the module the
first time one of those types is used, so a host pays at start only for the records,
never for node modules no workflow uses. The built-ins are records
(``tav.nodes.builtin.BUILTIN_MODULES``); a plugin package may ship records too, through
its ``tav.nodes`` entry point, to be imported lazily in the same way.

A module that fails to import, or that does not define a type its record names, makes
those types *unavailable*: each keeps the reason, which the catalog shows and compiling
a workflow that uses one reports on its node. Nothing else is affected.

Rejected: a table of type id → ``module:Class`` (every id written twice, and a wrong
entry found only by a request that fails), and importing every module at start (node
modules pull in LangChain glue, PDF fonts, mail clients: seconds and megabytes).
"""

from __future__ import annotations

import importlib
import inspect
import logging
from dataclasses import dataclass
from types import ModuleType

from tav.nodes.base import Node

logger = logging.getLogger("tav.nodes")


@dataclass(frozen=True, slots=True)
class NodeModule:
    """A module and the node type ids it defines, imported when one is first used."""

    module: str
    """The dotted import path (``tav.nodes.builtin.core.flow``)."""
    types: tuple[str, ...]
    """The type ids (``NodeSpec.type``) of the ``Node`` classes the module defines."""

    def __post_init__(self) -> None:
        if not self.module or not isinstance(self.module, str):
            raise ValueError(f"NodeModule needs a module path, got {self.module!r}")
        if isinstance(self.types, str) or not self.types:
            raise ValueError(f"NodeModule {self.module!r} needs a tuple of type ids")
        repeated = sorted({t for t in self.types if self.types.count(t) > 1})
        if repeated:
            raise ValueError(f"NodeModule {self.module!r} names {repeated} more than once")


@dataclass(frozen=True, slots=True)
class Unavailable:
    """A node type that is known but could not be loaded, and why."""

    type: str
    source: str
    """Where it was to come from: a module path, a file, an entry point."""
    reason: str
    """The error, as ``ExceptionClass: message``."""


def load(record: NodeModule) -> tuple[dict[str, type[Node]], dict[str, Unavailable]]:
    """Import ``record``'s module: its node types by id, and those that could not be had."""
    try:
        module = importlib.import_module(record.module)
    except Exception as exc:  # any error of the module's own code: its types are unavailable
        logger.warning("node module %s could not be imported", record.module, exc_info=True)
        reason = describe_error(exc)
        return {}, {t: Unavailable(t, record.module, reason) for t in record.types}
    defined = {node_type.spec.type: node_type for node_type in node_types_in(module)}
    found = {t: defined[t] for t in record.types if t in defined}
    missing = {
        t: Unavailable(t, record.module, f"LookupError: {record.module} defines no node type {t!r}")
        for t in record.types
        if t not in defined
    }
    return found, missing


def node_types_in(module: ModuleType) -> list[type[Node]]:
    """Concrete ``Node`` subclasses defined in ``module`` (not merely imported into it)."""
    return [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, Node)
        and obj.__module__ == module.__name__
        and "spec" in obj.__dict__
    ]


def describe_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
