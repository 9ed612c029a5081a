"""A workflow document as a Yjs document, and back.

The live draft of a workflow is a Y.Doc with three top-level maps:

- ``nodes``: node id → Y.Map of the node's fields (``type``, ``version``, ``name``,
  ``retry``, ``timeout_s``, ``on_error``, ``pool``, ``pin``, ...), with ``params`` a Y.Map
  of its own (so that two people changing two params both win) and ``position`` the
  node's ``[x, y]`` (from the document's ``ui.positions``). The id is the key, not a field.
  A long text param (``tav.nodes.params``: a prompt, a message body, code) is a Y.Text,
  so that two people typing in it merge character by character; every other value is
  a JSON value (see below), replaced whole.
- ``edges``: edge id → Y.Map with ``from`` and ``to`` as the document writes them. The id
  is the editor's: ``source:port->target:port`` with the default ports written out
  (``edge_id``); any id is read back, so a client may use its own.
- ``meta``: every other field of the document by name (``schema``, ``name``,
  ``description``, ``input_schema``, ``vars``, ``settings``, ...), plus ``notes`` (the
  editor's sticky notes, ``ui.notes``) and ``ui`` (the rest of ``ui``, when the document
  has one).

A value that is an object or an array (a ``core.set``'s ``values``, ``input_schema``,
``vars``, the notes, a node's ``retry`` or ``pin``, ...) is kept as its JSON text in a
one-key wrapper, ``{"$json": "<JSON text>"}`` (``shared_value``): yrs (pycrdt) decodes an
object held as a plain value into a hash map, which loses the order of its keys, and that
order is what people see (a key-value param's rows, the fields of an input form). The
wrapper is used for every object and array, so a value ``{"$json": ...}`` of a document is
wrapped again and reads back as itself; only a node's ``position`` (``[x, y]``) stays a
plain array. Scalars stay as they are. A value is still replaced whole, as before. Drafts
written before the wrapper hold objects as plain values: they read back all the same, in
the order yrs gives (``plain``), and a room wraps them as it loads such a draft, in the
order of the last saved version (``wrap_plain_values``).

Maps have no order, so ``read_document`` writes the nodes and edges in the order of a
document given as ``like`` (the last saved version), then those it does not know, by id;
a node's params in the order of its params there, then the others by name; any other
fields after those of the format, by name.
Yjs keeps numbers as floats: a whole number is read back as an ``int`` (a document's
``2.0`` comes back as ``2``, which compares equal).

``write_document`` changes a Y.Doc into a document with as few changes as it can, in one
transaction: a REST save while people edit then reaches them as one update that replaces
only what differs, and a long text that changed in one place is edited there, leaving the
rest of it (and whoever types in it) alone. It never fails on what a client wrote:
``read_document`` reads any shape back as a document, which validation then judges.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pycrdt import Array, Doc, Map, Text

from tav.collab.long_text import LongText, no_long_text

NODES, EDGES, META = "nodes", "edges", "meta"
NOTES, UI, POSITIONS, POSITION, PARAMS = "notes", "ui", "positions", "position", "params"
DOCUMENT_ORDER = ("schema", "name", "description", "input_schema", "vars", NODES, EDGES, "settings")
NODE_ORDER = ("id", "type", "version", "name", "params", "retry", "timeout_s", "on_error", "pool")
"""Fields in the order of the format (``tav.core.workflow``); others come after them."""
MAX_SAFE_INTEGER = 2**53
JSON = "$json"
"""The one key of the wrapper an object or an array is kept in (``shared_value``)."""


def edge_id(source: str, target: str) -> str:
    """The editor's id of an edge: ``source:port->target:port``, default ports written."""
    node, _, port = source.partition(":")
    to_node, _, to_port = target.partition(":")
    return f"{node}:{port or 'output'}->{to_node}:{to_port or 'input'}"


def new_doc(document: Mapping[str, Any], long_text: LongText = no_long_text) -> Doc[Any]:
    doc: Doc[Any] = Doc()
    write_document(doc, document, long_text)
    return doc


def roots(doc: Doc[Any]) -> tuple[Map[Any], Map[Any], Map[Any]]:
    """The ``nodes``, ``edges`` and ``meta`` maps of ``doc``."""
    return doc.get(NODES, type=Map), doc.get(EDGES, type=Map), doc.get(META, type=Map)


# -- document → Y.Doc ----------------------------------------------------------------------


def write_document(
    doc: Doc[Any], document: Mapping[str, Any], long_text: LongText = no_long_text
) -> None:
    """Make ``doc`` hold ``document``, changing only what differs, in one transaction."""
    nodes, edges, meta = roots(doc)
    ui = document.get(UI)
    ui = dict(ui) if isinstance(ui, Mapping) else None
    positions = ui.pop(POSITIONS, None) if ui is not None else None
    positions = dict(positions) if isinstance(positions, Mapping) else {}
    wanted_nodes = _nodes_of(document.get(NODES), positions)
    if ui is not None:
        orphans = {key: value for key, value in positions.items() if key not in wanted_nodes}
        if orphans:
            ui[POSITIONS] = orphans
    with doc.transaction():
        _write_nodes(nodes, wanted_nodes, long_text)
        _write_map(edges, _edges_of(document.get(EDGES)), _write_edge)
        _write_fields(meta, _meta_of(document, ui))


def _nodes_of(value: Any, positions: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for node in value if isinstance(value, list) else []:
        if not isinstance(node, Mapping) or not isinstance(node.get("id"), str):
            continue  # nothing to key it by: not a node any client could edit
        fields = {key: item for key, item in node.items() if key != "id"}
        if node["id"] in positions:
            fields[POSITION] = positions[node["id"]]
        found[node["id"]] = fields
    return found


def _edges_of(value: Any) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for edge in value if isinstance(value, list) else []:
        if not isinstance(edge, Mapping):
            continue
        base = edge_id(str(edge.get("from", "")), str(edge.get("to", "")))
        key, count = base, 1
        while key in found:  # the same edge twice (a document validation refuses)
            count += 1
            key = f"{base}#{count}"
        found[key] = dict(edge)
    return found


def _meta_of(document: Mapping[str, Any], ui: dict[str, Any] | None) -> dict[str, Any]:
    meta = {key: value for key, value in document.items() if key not in (NODES, EDGES, UI)}
    if ui is not None:
        notes = ui.pop(NOTES, None)
        if notes is not None:
            meta[NOTES] = notes
        meta[UI] = ui
    return meta


def _write_nodes(
    nodes: Map[Any], wanted: Mapping[str, dict[str, Any]], long_text: LongText
) -> None:
    def write(current: Any, fields: dict[str, Any]) -> Any:
        node_type = fields.get("type")
        kind = node_type if isinstance(node_type, str) else ""
        return _write_node(current, fields, lambda param: long_text(kind, param))

    _write_map(nodes, wanted, write)


def _write_map(
    target: Map[Any],
    wanted: Mapping[str, dict[str, Any]],
    write: Callable[[Any, dict[str, Any]], Any],
) -> None:
    """Entries of ``target`` follow ``wanted``: gone ones deleted, each other one written
    by ``write(current, fields)``, which changes ``current`` in place and returns
    ``None``, or returns a new Y.Map to put in its place."""
    for key in set(target.keys()).difference(wanted):
        del target[key]
    for key, fields in wanted.items():
        current = target.get(key)
        replacement = write(current if isinstance(current, Map) else None, fields)
        if replacement is not None:
            target[key] = replacement


def _write_node(
    current: Map[Any] | None, fields: dict[str, Any], long: Callable[[str], bool]
) -> Any:
    params = fields.get(PARAMS)
    if current is None:
        shared = {key: _field_value(key, value) for key, value in fields.items()}
        if isinstance(params, Mapping):
            shared[PARAMS] = _new_params(params, long)
        return Map(shared)
    _write_fields(current, {key: value for key, value in fields.items() if key != PARAMS}, PARAMS)
    if params is None:
        if PARAMS in current:
            del current[PARAMS]
    elif not isinstance(params, Mapping):
        _set_plain(current, PARAMS, params)
    elif isinstance(current.get(PARAMS), Map):
        _write_params(current[PARAMS], params, long)
    else:
        current[PARAMS] = _new_params(params, long)
    return None


def _write_edge(current: Map[Any] | None, fields: dict[str, Any]) -> Any:
    if current is None:
        return Map({key: shared_value(value) for key, value in fields.items()})
    _write_fields(current, fields)
    return None


def _new_params(params: Mapping[str, Any], long: Callable[[str], bool]) -> Map[Any]:
    return Map({key: _param_value(key, value, long) for key, value in params.items()})


def _param_value(key: str, value: Any, long: Callable[[str], bool]) -> Any:
    return Text(value) if isinstance(value, str) and long(key) else shared_value(value)


def _write_params(
    current: Map[Any], params: Mapping[str, Any], long: Callable[[str], bool]
) -> None:
    for key in set(current.keys()).difference(params):
        del current[key]
    for key, value in params.items():
        existing = current.get(key)
        if isinstance(existing, Text) and isinstance(value, str):
            edit_text(existing, value)
        elif key not in current or not same(plain(existing), value):
            current[key] = _param_value(key, value, long)


def _write_fields(target: Map[Any], fields: Mapping[str, Any], keep: str = "") -> None:
    """Plain fields: gone ones deleted (but ``keep``), changed ones replaced (a text
    edited in place)."""
    for key in set(target.keys()).difference(fields, [keep]):
        del target[key]
    for key, value in fields.items():
        existing = target.get(key)
        if isinstance(existing, Text) and isinstance(value, str):
            edit_text(existing, value)
        else:
            _set_plain(target, key, value)


def _set_plain(target: Map[Any], key: str, value: Any) -> None:
    if key not in target or not same(plain(target[key]), value):
        target[key] = _field_value(key, value)


def _field_value(key: str, value: Any) -> Any:
    """A field's value as the Y.Doc keeps it: a node's ``position`` as its plain ``[x, y]``
    (what clients read it as), any other one as ``shared_value``."""
    return value if key == POSITION else shared_value(value)


def shared_value(value: Any) -> Any:
    """A JSON value as a Y.Doc keeps it: an object or an array as its JSON text in a
    ``{"$json": ...}`` wrapper, so that the order of its keys survives yrs, which holds a
    plain object as a hash map; a scalar as it is. (A value JSON cannot write, such as
    ``NaN``, is kept plain, as before the wrapper.)"""
    if not isinstance(value, Mapping | list | tuple):
        return value
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return value
    return {JSON: text}


def edit_text(text: Text, value: str) -> None:
    """Change ``text`` into ``value`` by replacing only the part between their common
    beginning and end. (pycrdt's offsets count UTF-8 bytes, hence the encoding.)"""
    old = str(text)
    if old == value:
        return
    start = 0
    limit = min(len(old), len(value))
    while start < limit and old[start] == value[start]:
        start += 1
    end = 0
    while end < limit - start and old[-1 - end] == value[-1 - end]:
        end += 1
    at = len(old[:start].encode())
    removed = len(old[start : len(old) - end].encode())
    if removed:
        del text[at : at + removed]
    inserted = value[start : len(value) - end]
    if inserted:
        text.insert(at, inserted)


# -- Y.Doc → document ----------------------------------------------------------------------


def read_document(doc: Doc[Any], like: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The document ``doc`` holds; nodes and edges in the order of ``like`` first."""
    nodes, edges, meta = roots(doc)
    fields = {key: plain(value) for key, value in meta.items()}
    notes = fields.pop(NOTES, None)
    rest = fields.pop(UI, None)
    node_list, positions = _read_nodes(nodes, _like_nodes(like))
    fields[NODES] = node_list
    fields[EDGES] = _read_edges(edges, _edge_order(like))
    document = _in_order(fields, DOCUMENT_ORDER)
    ui = dict(rest) if isinstance(rest, Mapping) else {}
    orphans = ui.pop(POSITIONS, None)
    if positions or isinstance(orphans, Mapping):
        ui[POSITIONS] = {**(orphans if isinstance(orphans, Mapping) else {}), **positions}
    if notes is not None:
        ui[NOTES] = notes
    if ui or rest is not None:
        document[UI] = ui
    return document


def _read_nodes(
    nodes: Map[Any], like: Mapping[str, Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    found, positions = [], {}
    for node_id in _ordered(nodes.keys(), list(like)):
        value = plain(nodes[node_id])
        fields = dict(value) if isinstance(value, Mapping) else {}
        fields.pop("id", None)
        if POSITION in fields:
            positions[node_id] = fields.pop(POSITION)
        params = fields.get(PARAMS)
        if isinstance(params, dict):  # a Y.Map's keys: in the order of the saved version
            known = like.get(node_id, {}).get(PARAMS)
            fields[PARAMS] = _in_order(params, list(known) if isinstance(known, Mapping) else [])
        found.append(_in_order({"id": node_id, **fields}, NODE_ORDER))
    return found, positions


def _read_edges(edges: Map[Any], order: Sequence[str]) -> list[dict[str, Any]]:
    found = []
    for key in _ordered(edges.keys(), order):
        value = plain(edges[key])
        if isinstance(value, Mapping):
            found.append(_in_order(dict(value), ("from", "to")))
    return found


def _in_order(fields: dict[str, Any], order: Sequence[str]) -> dict[str, Any]:
    """``fields`` with the keys of ``order`` first, then the others by name (a Y.Map's
    keys come in no lasting order)."""
    ordered = {key: fields.pop(key) for key in order if key in fields}
    ordered.update(sorted(fields.items()))
    return ordered


def _ordered(keys: Iterable[str], order: Sequence[str]) -> list[str]:
    present = set(keys)
    first = [key for key in dict.fromkeys(order) if key in present]
    known = set(first)
    return first + sorted(key for key in present if key not in known)


def _like_nodes(like: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    """The nodes of ``like`` by id, in its order."""
    nodes = like.get(NODES) if like is not None else None
    if not isinstance(nodes, list):
        return {}
    return {n["id"]: n for n in nodes if isinstance(n, Mapping) and isinstance(n.get("id"), str)}


def _edge_order(like: Mapping[str, Any] | None) -> list[str]:
    edges = like.get(EDGES) if like is not None else None
    return list(_edges_of(edges)) if isinstance(edges, list) else []


# -- drafts written before the wrapper -----------------------------------------------------


def wrap_plain_values(doc: Doc[Any], like: Mapping[str, Any]) -> None:
    """Wrap the objects and arrays that ``doc`` holds as plain values (a draft written before
    the wrapper), in one transaction; nothing when there are none. The order of their keys
    was lost, so they take that of the same value in ``like`` (the last saved version),
    keys it lacks after: a save from the draft then keeps the rows people saw."""
    nodes, edges, meta = roots(doc)
    ui = like.get(UI)
    ui = dict(ui) if isinstance(ui, Mapping) else None
    if ui is not None:
        ui.pop(POSITIONS, None)
    like_meta = _meta_of(like, ui)
    like_nodes = _like_nodes(like)
    with doc.transaction():
        for node_id, node in nodes.items():
            if not isinstance(node, Map):
                continue
            known = like_nodes.get(node_id, {})
            _wrap_plain(node, known)
            params, known_params = node.get(PARAMS), known.get(PARAMS)
            if isinstance(params, Map):
                _wrap_plain(params, known_params if isinstance(known_params, Mapping) else {})
        for edge in edges.values():
            if isinstance(edge, Map):
                _wrap_plain(edge, {})
        _wrap_plain(meta, like_meta)


def _wrap_plain(target: Map[Any], like: Mapping[str, Any]) -> None:
    for key, value in list(target.items()):
        if key == POSITION or not isinstance(value, Mapping | list) or _is_wrapper(value):
            continue
        target[key] = shared_value(in_order_of(plain(value), like.get(key)))


def in_order_of(value: Any, like: Any) -> Any:
    """``value`` with the keys of its objects in the order ``like`` has them (those it lacks
    after), all the way down."""
    if isinstance(value, list):
        others = like if isinstance(like, list) else []
        return [
            in_order_of(item, others[i] if i < len(others) else None)
            for i, item in enumerate(value)
        ]
    if not isinstance(value, dict) or not isinstance(like, Mapping):
        return value
    keys = [key for key in like if key in value] + [key for key in value if key not in like]
    return {key: in_order_of(value[key], like.get(key)) for key in keys}


# -- values --------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """A value read from a Y.Doc as JSON-ready data: shared types as what they hold, a
    ``{"$json": ...}`` wrapper as the value it holds (``shared_value``), whole numbers as
    ``int``. Only a value held by the doc or by one of its shared types is unwrapped, never
    one inside a plain value (that is data)."""
    if isinstance(value, Text):
        return str(value)
    if isinstance(value, Map):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, Array):
        return [plain(item) for item in value]
    return _json_value(_unwrapped(value))


def _unwrapped(value: Any) -> Any:
    if _is_wrapper(value):
        try:
            return json.loads(value[JSON])
        except ValueError:
            pass  # not a wrapper after all: a client's object, read as it is
    return value


def _is_wrapper(value: Any) -> bool:
    return isinstance(value, Mapping) and len(value) == 1 and isinstance(value.get(JSON), str)


def _json_value(value: Any) -> Any:
    """Plain data as JSON-ready data, whole numbers as ``int``."""
    if isinstance(value, Mapping):
        return {str(key): _json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_SAFE_INTEGER:
        return int(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)  # an XML type or a sub-document: not part of the format


def same(a: Any, b: Any) -> bool:
    """JSON equality that tells ``true`` from ``1`` (Python's ``==`` does not) and an
    object's keys in one order from the same keys in another (the order is the user's)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return list(a) == list(b) and all(same(a[key], b[key]) for key in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and bool(a == b)
