"""docs/reference/built-in-nodes.md is generated from the registry and must stay in sync."""

from __future__ import annotations

from pathlib import Path

from tav.nodes.docs import render_reference

REFERENCE = Path(__file__).resolve().parents[3] / "docs" / "reference" / "built-in-nodes.md"


def test_the_built_in_node_reference_matches_the_registry():
    assert REFERENCE.read_text(encoding="utf-8") == render_reference(), (
        f"{REFERENCE.relative_to(REFERENCE.parents[2])} is out of date with the node "
        "registry; regenerate it with `make docs`"
    )


def test_the_reference_is_deterministic():
    assert render_reference() == render_reference()
