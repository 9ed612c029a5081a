"""Trigger kinds as records: the built-ins, and those plugins add through the
``tav.triggers`` entry-point group or TAV_NODES_PATH files."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tav.nodes.builtin import BUILTIN_NODE_TYPES
from tav.nodes.capabilities import TriggerCapability
from tav.triggers import BUILTIN_KINDS, TriggerKindSpec, default_kinds
from tav.triggers.discovery import (
    ENTRY_POINT_GROUP,
    default_trigger_kinds,
    discover_kinds,
)
from tav.triggers.webhook import WebhookRoutes

KIND = """
from tav.triggers import TriggerKindSpec

class Nothing:
    def parse(self, activation): return dict(activation)
    def claims(self, config): return frozenset()
    async def check(self, config, host): return None
    def arm(self, target, config, host): raise NotImplementedError

PING = TriggerKindSpec("ping", "ping", lambda setup: Nothing())
PONG = TriggerKindSpec("pong", "pong", lambda setup: Nothing())
KINDS = [PING, PONG]
NOT_KINDS = ["ping"]
"""


def test_every_built_in_trigger_node_names_a_built_in_kind():
    names = {spec.name for spec in BUILTIN_KINDS}
    used = {t.trigger_kind for t in BUILTIN_NODE_TYPES if issubclass(t, TriggerCapability)}  # type: ignore[attr-defined]

    assert used == names == {"manual", "webhook", "schedule", "mqtt", "email"}


def test_kinds_arm_all_but_those_run_by_hand():
    kinds = default_kinds(WebhookRoutes())

    assert sorted(kinds) == ["email", "mqtt", "schedule", "webhook"]
    assert kinds.by_hand("manual")
    assert not kinds.by_hand("webhook")
    assert not kinds.by_hand("nope")
    assert kinds.armable_titles() == "webhook, schedule, MQTT or email"


def test_the_same_kind_name_twice_is_an_error():
    twin = TriggerKindSpec("webhook", "other webhook", None)

    with pytest.raises(ValueError, match="'webhook' is defined twice"):
        default_kinds(WebhookRoutes(), [*BUILTIN_KINDS, twin])


@pytest.fixture
def package(tmp_path, monkeypatch) -> Iterator[str]:
    name = f"tav_test_kinds_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(KIND))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


@pytest.fixture
def entry_points(installed_entry_points):
    """Install fake entry points: ``entry_points({"name": "module:attr"})``."""
    return lambda values, group=ENTRY_POINT_GROUP: installed_entry_points(group, values)


def _names(found) -> list[str]:
    return [spec.name for spec in found.kinds]


def test_entry_points_add_a_kind_a_list_or_a_module(package, entry_points):
    entry_points({"one": f"{package}:PING", "all": f"{package}:KINDS", "module": package})

    found = discover_kinds(builtins=False)

    assert (found.errors, _names(found)) == ([], ["ping", "pong"])


def test_a_broken_entry_point_is_reported(package, entry_points):
    entry_points({"gone": "tav_no_such_kinds:K", "wrong": f"{package}:NOT_KINDS"})

    found = discover_kinds(builtins=False)

    gone, wrong = found.errors
    assert gone.startswith("entry point 'tav_no_such_kinds:K': ModuleNotFoundError")
    assert "expected a TriggerKindSpec, a list of them or a module" in wrong
    with pytest.raises(ImportError, match="trigger kind plugins failed to load"):
        default_trigger_kinds()


def test_a_plugin_file_adds_its_kinds_beside_the_built_ins(tmp_path: Path, entry_points):
    entry_points({})
    (tmp_path / "kinds.py").write_text(textwrap.dedent(KIND))
    (tmp_path / "_private.py").write_text("raise RuntimeError('never imported')\n")

    found = discover_kinds([tmp_path])

    assert found.errors == []
    assert _names(found) == [*(s.name for s in BUILTIN_KINDS), "ping", "pong"]


def test_a_plugin_reusing_a_kind_name_is_reported(tmp_path: Path, entry_points):
    entry_points({})
    (tmp_path / "clash.py").write_text(
        "from tav.triggers import TriggerKindSpec\n"
        "WEBHOOK = TriggerKindSpec('webhook', 'webhook', None)\n"
    )

    found = discover_kinds([tmp_path])

    assert found.errors == [
        f"trigger kind 'webhook' is defined twice: by tav.triggers.kinds and by "
        f"{tmp_path / 'clash.py'}"
    ]
    assert _names(found) == [s.name for s in BUILTIN_KINDS]


def test_a_broken_file_or_a_missing_folder_is_reported(tmp_path: Path, entry_points):
    entry_points({})
    (tmp_path / "broken.py").write_text("def broken(:\n")

    found = discover_kinds([tmp_path, tmp_path / "nowhere"], builtins=False)

    broken, missing = found.errors
    assert broken.startswith(f"{tmp_path / 'broken.py'}: SyntaxError")
    assert missing == f"{tmp_path / 'nowhere'}: TAV_NODES_PATH folder does not exist"
