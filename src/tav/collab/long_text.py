"""Which params of a node type are long texts (prompts, templates, code), kept in the
live draft as shared text that merges character by character (``tav.nodes.params``).

Apart from ``tav.collab.ydoc`` so that the server can be built without importing pycrdt:
the rooms load it when the first one opens."""

from __future__ import annotations

from collections.abc import Callable

from tav.core.errors import NotFound
from tav.nodes.params import long_text_params
from tav.nodes.registry import NodeRegistry

LongText = Callable[[str, str], bool]
"""Whether param ``name`` (second) of node type ``type`` (first) is a long text."""


def no_long_text(node_type: str, param: str) -> bool:
    return False


def long_text_of(registry: NodeRegistry) -> LongText:
    """The long text params of the node types of ``registry`` (their ``format``:
    ``tav.nodes.params``); a type it does not know has none."""
    known: dict[str, frozenset[str]] = {}

    def long_text(node_type: str, param: str) -> bool:
        if node_type not in known:
            try:
                schema = registry.get(node_type).Params.model_json_schema()
            except (NotFound, TypeError, ValueError):  # unknown, or no schema to be had
                schema = {}
            known[node_type] = long_text_params(schema)
        return param in known[node_type]

    return long_text
