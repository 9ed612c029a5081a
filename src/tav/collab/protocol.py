"""The messages of the Yjs sync, awareness and auth protocols (y-protocols), read strictly.

Every WebSocket message is one protocol message, as y-websocket sends them: a ``varUint``
message type, then its content.

- sync (0): a ``varUint`` step, then one ``varUint8Array``: step 1 carries a state vector
  (the reply, step 2, carries the updates the sender lacks), update (2) carries an update.
- awareness (1): one ``varUint8Array`` holding a count, then per client its id, its clock
  and its state as JSON text (``null``: gone).
- auth (2): sent by the server only: ``0`` (permission denied) and a reason.
- query awareness (3): nothing; answered with every client's awareness.

The reader is written here rather than taken from ``pycrdt.Decoder``: that one reads past
the end of a message without noticing (an ``IndexError`` at best, a short slice taken for
the whole at worst), and a message from a client must be refused whole, before anything of
it is applied or relayed. ``Malformed`` says what is wrong with one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

MAX_VAR_UINT_BYTES = 8
"""A ``varUint`` of lib0 holds at most 53 bits: 8 bytes of 7 bits."""
MAX_JSON_DEPTH = 32
"""The deepest nesting an awareness state may have (a cursor is two or three deep)."""


class CloseCode(IntEnum):
    """Why the server closes a connection (docs/api/rest.md, "Live co-editing")."""

    GOING_AWAY = 1001
    """The server is stopping, or the room was unloaded: connect again."""
    TOO_BIG = 1009
    """A message larger than ``TAV_COLLAB_MAX_MESSAGE_BYTES``."""
    INTERNAL_ERROR = 1011
    """Something unexpected on the server; the room reloads from what was stored."""
    TRY_AGAIN_LATER = 1013
    """The room has ``TAV_COLLAB_MAX_PEERS`` people in it, or the process has
    ``TAV_COLLAB_MAX_ROOMS`` rooms open."""
    MALFORMED = 4400
    """A message that is not a binary Yjs sync, awareness or query-awareness message, or
    an update that does not decode."""
    UNAUTHORIZED = 4401
    """The credentials are no longer valid: signed out, session expired, API key deleted,
    user disabled."""
    NOT_FOUND = 4404
    """The workflow was deleted."""
    TOO_SLOW = 4408
    """The client did not read what the server sent, and fell too far behind."""
    TOO_MANY_MESSAGES = 4429
    """More messages or bytes per second than ``TAV_COLLAB_MAX_MESSAGES_PER_S`` or
    ``TAV_COLLAB_MAX_BYTES_PER_S``."""


class MessageType(IntEnum):
    SYNC = 0
    AWARENESS = 1
    AUTH = 2
    QUERY_AWARENESS = 3


class SyncStep(IntEnum):
    STEP1 = 0
    STEP2 = 1
    UPDATE = 2


PERMISSION_DENIED = 0
"""The only auth message: the update was refused (y-protocols ``auth.js``)."""


class Malformed(ValueError):
    """A message that is not a well-formed sync, awareness or query-awareness message."""


@dataclass(frozen=True, slots=True)
class Sync:
    step: SyncStep
    payload: bytes
    """The state vector of step 1, the update of step 2 and of an update."""


@dataclass(frozen=True, slots=True)
class Awareness:
    payload: bytes
    """The awareness update, as ``pycrdt.Awareness.apply_awareness_update`` takes it."""
    states: tuple[tuple[int, int, Any], ...]
    """(client id, clock, state) of each client it speaks of; ``None``: gone."""


@dataclass(frozen=True, slots=True)
class QueryAwareness:
    pass


Message = Sync | Awareness | QueryAwareness


class Reader:
    """Reads lib0 ``varUint``, ``varUint8Array`` and ``varString`` values from a buffer,
    refusing anything that runs past its end."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    @property
    def done(self) -> bool:
        return self.at == len(self.data)

    def var_uint(self) -> int:
        value, shift = 0, 0
        for _ in range(MAX_VAR_UINT_BYTES):
            if self.at >= len(self.data):
                raise Malformed("a number runs past the end of the message")
            byte = self.data[self.at]
            self.at += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7
        raise Malformed("a number is longer than 53 bits")

    def var_bytes(self) -> bytes:
        length = self.var_uint()
        if length > len(self.data) - self.at:
            raise Malformed(f"a field of {length} bytes runs past the end of the message")
        value = self.data[self.at : self.at + length]
        self.at += length
        return value

    def var_string(self) -> str:
        try:
            return self.var_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise Malformed("a text is not UTF-8") from None


def parse(message: bytes) -> Message:
    """One client message; ``Malformed`` unless it is a whole sync, awareness or query
    awareness message with nothing after it."""
    reader = Reader(message)
    kind = reader.var_uint()
    if kind == MessageType.SYNC:
        step = reader.var_uint()
        if step not in SyncStep.__members__.values():
            raise Malformed(f"unknown sync step {step}")
        parsed: Message = Sync(SyncStep(step), reader.var_bytes())
    elif kind == MessageType.AWARENESS:
        payload = reader.var_bytes()
        parsed = Awareness(payload, _awareness_states(payload))
    elif kind == MessageType.QUERY_AWARENESS:
        parsed = QueryAwareness()
    else:
        raise Malformed(f"unknown message type {kind}")
    if not reader.done:
        raise Malformed("bytes left over after the message")
    return parsed


def _awareness_states(payload: bytes) -> tuple[tuple[int, int, Any], ...]:
    reader = Reader(payload)
    count = reader.var_uint()
    if count > len(payload):  # each client takes 3 bytes at least
        raise Malformed(f"an awareness update of {count} clients in {len(payload)} bytes")
    states = []
    for _ in range(count):
        client, clock, text = reader.var_uint(), reader.var_uint(), reader.var_string()
        states.append((client, clock, _state(text)))
    if not reader.done:
        raise Malformed("bytes left over after the awareness update")
    return tuple(states)


def _state(text: str) -> Any:
    try:
        state = json.loads(text) if text else None
    except (ValueError, RecursionError):
        raise Malformed("an awareness state is not JSON") from None
    if state is not None and not isinstance(state, dict):
        raise Malformed("an awareness state is not an object")
    if _depth(state) > MAX_JSON_DEPTH:
        raise Malformed(f"an awareness state is nested deeper than {MAX_JSON_DEPTH}")
    return state


def _depth(value: Any) -> int:
    """How deep ``value`` nests (iteratively: a deep one must not exhaust the stack)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                break
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth) for child in children)
    return deepest


# -- what the server sends -----------------------------------------------------------------


def sync_step1(state: bytes) -> bytes:
    return _sync(SyncStep.STEP1, state)


def sync_step2(update: bytes) -> bytes:
    return _sync(SyncStep.STEP2, update)


def sync_update(update: bytes) -> bytes:
    return _sync(SyncStep.UPDATE, update)


def awareness_update(states: Sequence[tuple[int, int, Any]]) -> bytes:
    """An awareness update of ``(client id, clock, state)``s (``None``: the client left),
    as ``pycrdt.Awareness.apply_awareness_update`` takes it."""
    from pycrdt import write_message, write_var_uint  # with the first room: not at start

    parts = [write_var_uint(len(states))]
    for client, clock, state in states:
        text = "null" if state is None else json.dumps(state, separators=(",", ":"))
        parts += [write_var_uint(client), write_var_uint(clock), write_message(text.encode())]
    return b"".join(parts)


def awareness(update: bytes) -> bytes:
    from pycrdt import write_message, write_var_uint  # with the first room: not at start

    return write_var_uint(MessageType.AWARENESS) + write_message(update)


def permission_denied(reason: str) -> bytes:
    """The auth message y-websocket reports as "Permission denied" with ``reason``."""
    from pycrdt import write_message, write_var_uint  # with the first room: not at start

    encoded = reason.encode()
    return (
        write_var_uint(MessageType.AUTH)
        + write_var_uint(PERMISSION_DENIED)
        + write_message(encoded)
    )


def _sync(step: SyncStep, payload: bytes) -> bytes:
    from pycrdt import write_message, write_var_uint  # with the first room: not at start

    return write_var_uint(MessageType.SYNC) + write_var_uint(step) + write_message(payload)
