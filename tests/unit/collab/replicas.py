"""Replicas of one Yjs doc, brought together as the sync protocol does, for the tests of
concurrent edits."""

from __future__ import annotations

from typing import Any

from pycrdt import Doc


def synced(doc: Doc[Any]) -> Doc[Any]:
    """A second replica of ``doc``."""
    other: Doc[Any] = Doc()
    other.apply_update(doc.get_update())
    return other


def exchange(a: Doc[Any], b: Doc[Any]) -> None:
    """Bring two replicas together, as the sync protocol does."""
    a_update, b_update = a.get_update(b.get_state()), b.get_update(a.get_state())
    b.apply_update(a_update)
    a.apply_update(b_update)
