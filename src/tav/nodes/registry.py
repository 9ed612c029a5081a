"""``NodeRegistry``: the node types one host knows, and their catalog.

There is no module-level registry: discovery returns a list of classes and of module
records that is handed to a ``NodeRegistry`` instance, so two hosts (or two tests) never
share mutable state.

A type is *available* (its class is here), *pending* (its ``NodeModule`` is not imported
yet) or *unavailable* (its module failed to import, or does not define it, or its class
cannot be described). An unavailable type stays known: ``get`` raises
``NodeTypeUnavailable`` with the reason (a located problem when a workflow is compiled),
and the catalog lists it with ``available: false`` and its ``error``.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from tav.core.errors import NotFound
from tav.nodes.base import Node, Port
from tav.nodes.modules import NodeModule, Unavailable, describe_error, load


class NodeTypeUnavailable(NotFound):
    """A known node type that could not be loaded on this host."""

    def __init__(self, unavailable: Unavailable) -> None:
        super().__init__(f"type {unavailable.type!r} could not be loaded: {unavailable.reason}")
        self.unavailable = unavailable


class NodeRegistry:
    """Node types by type id: classes, and module records imported on first use."""

    def __init__(
        self, node_types: Iterable[type[Node]] = (), *, modules: Iterable[NodeModule] = ()
    ) -> None:
        self._types: dict[str, type[Node]] = {}
        self._pending: dict[str, NodeModule] = {}
        self._unavailable: dict[str, Unavailable] = {}
        self._lock = threading.RLock()  # compiles run on worker threads too
        for record in modules:
            self.add_module(record)
        for node_type in node_types:
            self.register(node_type)

    def register(self, node_type: type[Node]) -> type[Node]:
        """Add a node type; a second class with the same type id is an error."""
        if not (isinstance(node_type, type) and issubclass(node_type, Node)):
            raise TypeError(f"{node_type!r} is not a Node subclass")
        type_id = node_type.spec.type
        with self._lock:
            self._load_pending(type_id)
            existing = self._types.get(type_id)
            if existing is not None and existing is not node_type:
                self._twice(type_id, _where(existing), _where(node_type))
            if type_id in self._unavailable:
                self._twice(type_id, self._unavailable[type_id].source, _where(node_type))
            self._types[type_id] = node_type
        return node_type

    def add_module(self, record: NodeModule) -> None:
        """Know ``record``'s types now; import its module when one is first used."""
        with self._lock:
            for type_id in record.types:
                if type_id in self:
                    self._twice(type_id, self._source(type_id), record.module)
            for type_id in record.types:
                self._pending[type_id] = record

    def get(self, type_id: str) -> type[Node]:
        """The class of ``type_id``; ``NotFound`` if unknown, ``NodeTypeUnavailable``
        (a ``NotFound`` too) if it could not be loaded."""
        node_type = self._types.get(type_id)
        if node_type is not None:
            return node_type
        with self._lock:
            self._load_pending(type_id)
            if type_id in self._types:
                return self._types[type_id]
            if type_id in self._unavailable:
                raise NodeTypeUnavailable(self._unavailable[type_id])
        raise NotFound(self.unknown_message(type_id))

    def unknown_message(self, type_id: str) -> str:
        close = difflib.get_close_matches(type_id, list(self.type_ids()), n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return f"unknown node type {type_id!r}{hint}"

    def type_ids(self) -> Iterator[str]:
        """Every known type id, available or not (nothing is imported)."""
        yield from self._types
        yield from self._pending
        yield from self._unavailable

    def unavailable(self) -> list[Unavailable]:
        """The known types that could not be loaded (after loading every pending one)."""
        self._load_all()
        return sorted(self._unavailable.values(), key=lambda u: u.type)

    def __contains__(self, type_id: object) -> bool:
        return type_id in self._types or type_id in self._pending or type_id in self._unavailable

    def __iter__(self) -> Iterator[type[Node]]:
        """The available types, by category and type id (pending ones are imported)."""
        self._load_all()
        return iter(sorted(self._types.values(), key=lambda t: (t.spec.category, t.spec.type)))

    def __len__(self) -> int:
        return len(self._types) + len(self._pending) + len(self._unavailable)

    def describe(self, type_id: str) -> dict[str, Any]:
        """One node type as the catalog shows it: identity, ports and params JSON Schema;
        an unavailable one with ``available: false`` and its ``error``."""
        try:
            node_type = self.get(type_id)
        except NodeTypeUnavailable as exc:
            return describe_unavailable(exc.unavailable)
        return self._described(node_type)

    def catalog(self) -> list[dict[str, Any]]:
        """Every known type, the unavailable ones included."""
        entries = [self._described(node_type) for node_type in self]
        entries += [describe_unavailable(u) for u in self.unavailable()]
        return sorted(entries, key=lambda e: (e["category"], e["type"]))

    def _described(self, node_type: type[Node]) -> dict[str, Any]:
        try:
            return describe(node_type)
        except Exception as exc:  # a plugin's class whose schema cannot be made
            unavailable = Unavailable(node_type.spec.type, _where(node_type), describe_error(exc))
            with self._lock:
                self._types.pop(unavailable.type, None)
                self._unavailable[unavailable.type] = unavailable
            return describe_unavailable(unavailable)

    def _load_pending(self, type_id: str) -> None:
        record = self._pending.get(type_id)
        if record is None:
            return
        found, unavailable = load(record)
        for name in record.types:
            self._pending.pop(name, None)
        self._types.update(found)
        self._unavailable.update(unavailable)

    def _load_all(self) -> None:
        with self._lock:
            for type_id in list(self._pending):
                self._load_pending(type_id)

    def _source(self, type_id: str) -> str:
        if type_id in self._types:
            return _where(self._types[type_id])
        if type_id in self._pending:
            return self._pending[type_id].module
        return self._unavailable[type_id].source

    @staticmethod
    def _twice(type_id: str, first: str, second: str) -> None:
        raise ValueError(f"node type {type_id!r} is defined twice: by {first} and by {second}")


def describe(node_type: type[Node]) -> dict[str, Any]:
    spec = node_type.spec
    return {
        "type": spec.type,
        "version": spec.version,
        "title": spec.title,
        "category": spec.category,
        "description": node_type.describe(),
        "icon": spec.icon,
        "pool": node_type.pool,
        "inputs": {name: _port(port, input=True) for name, port in node_type.inputs.items()},
        "outputs": {name: _port(port) for name, port in node_type.outputs.items()},
        "dynamic_outputs": node_type.output_ports.__func__ is not Node.output_ports.__func__,  # type: ignore[attr-defined]
        "params_schema": node_type.Params.model_json_schema(),
        "source": _where(node_type),
        "available": True,
        "error": None,
    }


def describe_unavailable(unavailable: Unavailable) -> dict[str, Any]:
    """A type that could not be loaded, in the catalog's shape: no ports, no params, and
    the reason in ``error``. Its category is its type id's prefix (``core.foo``: core)."""
    return {
        "type": unavailable.type,
        "version": 1,
        "title": unavailable.type,
        "category": unavailable.type.partition(".")[0],
        "description": f"Could not be loaded: {unavailable.reason}",
        "icon": None,
        "pool": None,
        "inputs": {},
        "outputs": {},
        "dynamic_outputs": False,
        "params_schema": {"type": "object", "properties": {}},
        "source": unavailable.source,
        "available": False,
        "error": unavailable.reason,
    }


def _port(port: Port, *, input: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {"description": port.description}
    if input:
        data.update(required=port.required, many=port.many)
    if port.schema is not None:
        data["schema"] = port.json_schema()
    return data


def _where(node_type: type[Node]) -> str:
    return f"{node_type.__module__}.{node_type.__qualname__}"
