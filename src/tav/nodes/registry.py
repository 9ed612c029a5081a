"""``NodeRegistry``: the node types one host knows, and their catalog.

There is no module-level registry: discovery returns a list of classes that is handed to
a ``NodeRegistry`` instance, so two hosts (or two tests) never share mutable state.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from tav.core.errors import NotFound
from tav.nodes.base import Node, Port


class NodeRegistry:
    """Node types by type id.

    A type may also be registered by import path (``lazy``: type id → ``module:Class``),
    to be imported the first time it is asked for."""

    def __init__(
        self, node_types: Iterable[type[Node]] = (), *, lazy: Mapping[str, str] | None = None
    ) -> None:
        self._types: dict[str, type[Node]] = {}
        self._lazy: dict[str, str] = dict(lazy or {})
        for node_type in node_types:
            self.register(node_type)

    def register(self, node_type: type[Node]) -> type[Node]:
        """Add a node type; a second class with the same type id is an error."""
        if not (isinstance(node_type, type) and issubclass(node_type, Node)):
            raise TypeError(f"{node_type!r} is not a Node subclass")
        type_id = node_type.spec.type
        existing = self._types.get(type_id)
        if existing is None and type_id in self._lazy:
            existing = self.get(type_id)
        if existing is not None and existing is not node_type:
            raise ValueError(
                f"node type {type_id!r} is defined twice: by {_where(existing)} "
                f"and by {_where(node_type)}"
            )
        self._types[type_id] = node_type
        return node_type

    def get(self, type_id: str) -> type[Node]:
        try:
            return self._types[type_id]
        except KeyError:
            pass
        path = self._lazy.get(type_id)
        if path is None:
            raise NotFound(self.unknown_message(type_id))
        node_type = self._types[type_id] = load_node_type(type_id, path)
        del self._lazy[type_id]
        return node_type

    def unknown_message(self, type_id: str) -> str:
        close = difflib.get_close_matches(type_id, [*self._types, *self._lazy], n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return f"unknown node type {type_id!r}{hint}"

    def __contains__(self, type_id: object) -> bool:
        return type_id in self._types or type_id in self._lazy

    def __iter__(self) -> Iterator[type[Node]]:
        for type_id in list(self._lazy):
            self.get(type_id)
        return iter(sorted(self._types.values(), key=lambda t: (t.spec.category, t.spec.type)))

    def __len__(self) -> int:
        return len(self._types) + len(self._lazy)

    def describe(self, type_id: str) -> dict[str, Any]:
        """One node type as the catalog shows it: identity, ports and params JSON Schema."""
        return describe(self.get(type_id))

    def catalog(self) -> list[dict[str, Any]]:
        return [describe(node_type) for node_type in self]


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
    }


def _port(port: Port, *, input: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {"description": port.description}
    if input:
        data.update(required=port.required, many=port.many)
    if port.schema is not None:
        data["schema"] = port.json_schema()
    return data


def load_node_type(type_id: str, path: str) -> type[Node]:
    """Import the class at ``path`` (``module:Class``) and check it is node type ``type_id``."""
    module, _, name = path.partition(":")
    node_type = getattr(importlib.import_module(module), name)
    if not (isinstance(node_type, type) and issubclass(node_type, Node)):
        raise TypeError(f"{path} is not a Node subclass")
    if node_type.spec.type != type_id:
        raise ValueError(f"{path} is node type {node_type.spec.type!r}, not {type_id!r}")
    return node_type


def _where(node_type: type[Node]) -> str:
    return f"{node_type.__module__}.{node_type.__qualname__}"
