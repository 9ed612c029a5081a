"""Discovery of node types: built-ins, plugin folders (TAV_NODES_PATH) and entry points."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tav.core.states import ExecutionStatus
from tav.engine.executor import Executor
from tav.nodes.builtin import BUILTIN_NODE_TYPES
from tav.nodes.discovery import ENTRY_POINT_GROUP, default_registry, discover
from tests.helpers import node, run, workflow

SHOUT = '''
from typing import Any

from pydantic import BaseModel

from tav.nodes import Node, NodeContext, NodeSpec, Outputs


class Params(BaseModel):
    suffix: str = "!"


class Shout(Node):
    """Upper-cases its input."""

    spec = NodeSpec(type="{type_id}", category="text")
    Params = Params

    async def run(self, params: Params, input: Any, ctx: NodeContext) -> Outputs:
        return {{"output": str(input).upper() + params.suffix}}
'''


def plugin(folder: Path, name: str, source: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path


def shout(folder: Path, name: str = "shout.py", type_id: str = "acme.shout") -> Path:
    return plugin(folder, name, SHOUT.format(type_id=type_id))


def types_of(found) -> set[str]:
    return {t.spec.type for t in found.node_types} | {
        type_id for record in found.modules for type_id in record.types
    }


# -- plugin folders ---------------------------------------------------------------------


def test_a_node_file_in_a_folder_is_discovered_next_to_the_built_ins(tmp_path):
    shout(tmp_path / "nodes")

    found = discover([tmp_path / "nodes"], entry_points=False)

    assert found.errors == []
    assert types_of(found) == {t.spec.type for t in BUILTIN_NODE_TYPES} | {"acme.shout"}


async def test_a_discovered_node_runs_in_a_workflow(tmp_path):
    shout(tmp_path / "nodes")
    executor = Executor(default_registry([tmp_path / "nodes"]))
    wf = workflow(
        node("start", "trigger.manual"),
        node("loud", "acme.shout", params={"suffix": "{{ '!' * 3 }}"}),
        links=("start -> loud",),
    )

    result = await run(executor, wf, "hello")

    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.nodes["loud"].outputs == {"output": "HELLO!!!"}


def test_several_folders_are_searched(tmp_path):
    shout(tmp_path / "a", type_id="acme.shout_a")
    shout(tmp_path / "b", type_id="acme.shout_b")

    found = discover([tmp_path / "a", tmp_path / "b"], entry_points=False, builtins=False)

    assert types_of(found) == {"acme.shout_a", "acme.shout_b"}


def test_a_broken_plugin_file_is_reported_without_breaking_the_others(tmp_path):
    folder = tmp_path / "nodes"
    shout(folder)
    plugin(folder, "syntax.py", "def broken(:\n")
    plugin(folder, "raises.py", "raise RuntimeError('no config')\n")
    plugin(
        folder,
        "no_spec.py",
        """
        from tav.nodes import Node

        class Forgetful(Node):
            async def run(self, params, input, ctx):
                return {}
        """,
    )

    found = discover([folder], entry_points=False, builtins=False)

    assert types_of(found) == {"acme.shout"}
    assert len(found.errors) == 3
    by_file = {Path(e.split(": ", 1)[0]).name: e for e in found.errors}
    assert set(by_file) == {"syntax.py", "raises.py", "no_spec.py"}
    assert "SyntaxError" in by_file["syntax.py"]
    assert "RuntimeError: no config" in by_file["raises.py"]
    assert "Forgetful" in by_file["no_spec.py"]
    assert "needs `spec" in by_file["no_spec.py"]


def test_default_registry_refuses_to_start_with_a_broken_plugin(tmp_path):
    plugin(tmp_path, "syntax.py", "def broken(:\n")

    with pytest.raises(ImportError, match=r"node plugins failed to load:\n.*syntax\.py"):
        default_registry([tmp_path])


def test_files_starting_with_an_underscore_and_other_files_are_ignored(tmp_path):
    shout(tmp_path)
    plugin(tmp_path, "_helpers.py", "raise RuntimeError('must not be imported')\n")
    plugin(tmp_path, "__init__.py", "raise RuntimeError('must not be imported')\n")
    plugin(tmp_path, "notes.txt", "not python")
    plugin(tmp_path / "sub", "deeper.py", "raise RuntimeError('must not be imported')\n")

    found = discover([tmp_path], entry_points=False, builtins=False)

    assert (found.errors, types_of(found)) == ([], {"acme.shout"})


def test_a_missing_folder_is_reported(tmp_path):
    found = discover([tmp_path / "nowhere"], entry_points=False, builtins=False)

    assert found.node_types == []
    assert found.errors == [f"{tmp_path / 'nowhere'}: TAV_NODES_PATH folder does not exist"]


def test_only_node_classes_defined_in_the_file_are_taken(tmp_path):
    plugin(
        tmp_path,
        "kinds.py",
        """
        from tav.nodes import Node, NodeSpec
        from tav.nodes.builtin.core.flow import Noop

        class Base(Node, abstract=True):
            pool = "cpu"

        class Quiet(Noop):
            spec = NodeSpec(type="acme.quiet")

        class Busy(Base):
            spec = NodeSpec(type="acme.busy")

            async def run(self, params, input, ctx):
                return {"output": input}
        """,
    )

    found = discover([tmp_path], entry_points=False, builtins=False)

    assert sorted(t.__name__ for t in found.node_types) == ["Busy", "Quiet"]


def test_a_plugin_reusing_a_built_in_type_id_is_reported(tmp_path):
    shout(tmp_path, type_id="core.noop")

    found = discover([tmp_path], entry_points=False)
    registry = found.registry()

    assert registry.get("core.noop").__module__ == "tav.nodes.builtin.core.flow"
    assert len(found.errors) == 1
    assert "'core.noop' is defined twice" in found.errors[0]
    with pytest.raises(ImportError, match="defined twice"):
        default_registry([tmp_path])


def test_discovering_twice_gives_the_same_classes(tmp_path):
    shout(tmp_path)

    first = discover([tmp_path], entry_points=False, builtins=False).node_types
    second = discover([tmp_path], entry_points=False, builtins=False).node_types

    assert first == second


# -- entry points -----------------------------------------------------------------------

PACKAGE = """
from typing import Any

from tav.nodes import Node, NodeContext, NodeSpec, Outputs


class Ping(Node):
    spec = NodeSpec(type="pkg.ping")

    async def run(self, params: Any, input: Any, ctx: NodeContext) -> Outputs:
        return {"output": "pong"}


class Echo(Node):
    spec = NodeSpec(type="pkg.echo")

    async def run(self, params: Any, input: Any, ctx: NodeContext) -> Outputs:
        return {"output": input}


NODES = [Ping, Echo]
NOT_NODES = "just a string"
"""

RECORDS = """
from tav.nodes.modules import NodeModule

NODES = NodeModule("{package}", ("pkg.ping", "pkg.echo"))
BROKEN = [NodeModule("tav_no_such_plugin_module", ("pkg.gone",))]
"""


@pytest.fixture
def package(tmp_path, monkeypatch) -> Iterator[str]:
    """An importable module of node types, as an installed plugin package would ship."""
    name = f"tav_test_plugin_{uuid.uuid4().hex[:8]}"
    plugin(tmp_path / "site", f"{name}.py", PACKAGE)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    yield name
    sys.modules.pop(name, None)


@pytest.fixture
def entry_points(installed_entry_points):
    """Install fake entry points: ``entry_points({"name": "module:attr"})``."""
    return lambda values, group=ENTRY_POINT_GROUP: installed_entry_points(group, values)


def test_an_entry_point_naming_a_class_adds_that_class(package, entry_points):
    entry_points({"ping": f"{package}:Ping"})

    found = discover(builtins=False)

    assert (found.errors, types_of(found)) == ([], {"pkg.ping"})


def test_an_entry_point_naming_a_list_adds_every_class_in_it(package, entry_points):
    entry_points({"all": f"{package}:NODES"})

    found = discover(builtins=False)

    assert (found.errors, types_of(found)) == ([], {"pkg.ping", "pkg.echo"})


def test_an_entry_point_naming_a_module_adds_its_node_classes(package, entry_points):
    entry_points({"module": package})

    found = discover(builtins=False)

    assert (found.errors, types_of(found)) == ([], {"pkg.ping", "pkg.echo"})


async def test_entry_point_nodes_run_in_a_workflow(package, entry_points):
    entry_points({"ping": f"{package}:Ping", "module": package})
    executor = Executor(default_registry())
    wf = workflow(node("start", "trigger.manual"), node("p", "pkg.ping"), links=("start -> p",))

    result = await run(executor, wf, None)

    assert result.nodes["p"].outputs == {"output": "pong"}


def test_a_broken_entry_point_is_reported_without_breaking_the_others(package, entry_points):
    entry_points(
        {
            "missing": "tav_no_such_plugin_module:Nodes",
            "wrong": f"{package}:NOT_NODES",
            "good": f"{package}:Ping",
        }
    )

    found = discover(builtins=False)

    assert types_of(found) == {"pkg.ping"}
    missing, wrong = found.errors
    assert missing.startswith("entry point 'tav_no_such_plugin_module:Nodes': ")
    assert "ModuleNotFoundError" in missing
    assert f"entry point '{package}:NOT_NODES'" in wrong
    assert "expected a Node subclass, a NodeModule record, a list of them or a module" in wrong


def test_only_the_tav_nodes_group_is_read(package, entry_points):
    entry_points({"ping": f"{package}:Ping"}, group="someone.else")

    assert discover(builtins=False).node_types == []


def test_entry_points_can_be_switched_off(package, entry_points):
    entry_points({"ping": f"{package}:Ping"})

    assert discover(builtins=False, entry_points=False).node_types == []


# -- plugin packages shipping module records --------------------------------------------


@pytest.fixture
def records(package, tmp_path) -> Iterator[str]:
    """A light module of ``NodeModule`` records naming the ``package`` fixture's module."""
    name = f"{package}_records"
    plugin(tmp_path / "site", f"{name}.py", RECORDS.format(package=package))
    yield name
    sys.modules.pop(name, None)


def test_an_entry_point_naming_a_record_is_imported_on_first_use(package, records, entry_points):
    entry_points({"nodes": f"{records}:NODES"})

    found = discover(builtins=False)
    registry = found.registry()

    assert (found.errors, types_of(found)) == ([], {"pkg.ping", "pkg.echo"})
    assert package not in sys.modules
    assert registry.get("pkg.ping").__name__ == "Ping"
    assert package in sys.modules


def test_a_plugin_record_whose_module_is_missing_is_listed_unavailable(records, entry_points):
    entry_points({"broken": f"{records}:BROKEN"})

    registry = discover(builtins=False).registry()

    (entry,) = registry.catalog()
    assert (entry["type"], entry["available"]) == ("pkg.gone", False)
    assert entry["error"] == "ModuleNotFoundError: No module named 'tav_no_such_plugin_module'"


def test_a_plugin_record_reusing_a_built_in_type_id_is_reported(tmp_path, entry_points):
    plugin(
        tmp_path / "site",
        "tav_test_clash_records.py",
        "from tav.nodes.modules import NodeModule\n"
        "NODES = NodeModule('somewhere', ('core.noop',))\n",
    )
    sys.path.insert(0, str(tmp_path / "site"))
    try:
        entry_points({"clash": "tav_test_clash_records:NODES"})
        found = discover()
        registry = found.registry()
    finally:
        sys.path.remove(str(tmp_path / "site"))
        sys.modules.pop("tav_test_clash_records", None)

    assert found.errors == [
        "node type 'core.noop' is defined twice: by tav.nodes.builtin.core.flow and by somewhere"
    ]
    assert registry.get("core.noop").__module__ == "tav.nodes.builtin.core.flow"
