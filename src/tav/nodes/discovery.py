"""Finding node types: built-ins, the ``tav.nodes`` entry-point group, and folders.

- Built-ins come from ``tav.nodes.builtin.BUILTIN_MODULES``, one ``NodeModule`` record
  per module: each module is imported when one of its types is first used.
- A package can ship node types by declaring an entry point in the ``tav.nodes`` group
  that names a ``Node`` subclass, a ``NodeModule`` record (imported on first use, like
  the built-ins), a list of either, or a module (every ``Node`` subclass defined in it
  is taken).
- Every ``*.py`` file (not starting with ``_``) in a folder on ``TAV_NODES_PATH`` is
  imported and its ``Node`` subclasses taken. A custom node is one short file.

A plugin that fails to import does not take the host down: its error is collected in
``Discovery.errors`` with the file or entry point it came from, and reported. A record's
module that fails to import later makes its types unavailable (``tav.nodes.modules``).
A file is imported once per process: ``tav.triggers.discovery`` looks in the same files
for the trigger kinds they define.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import inspect
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from tav.nodes.base import Node
from tav.nodes.modules import NodeModule, describe_error, node_types_in
from tav.nodes.registry import NodeRegistry

ENTRY_POINT_GROUP = "tav.nodes"

__all__ = [
    "ENTRY_POINT_GROUP",
    "Discovery",
    "default_registry",
    "discover",
    "import_file",
    "node_types_in",
    "plugin_files",
]


@dataclass
class Discovery:
    node_types: list[type[Node]] = field(default_factory=list)
    modules: list[NodeModule] = field(default_factory=list)
    """Module records (the built-ins, plugin packages'), imported on first use."""
    errors: list[str] = field(default_factory=list)

    def registry(self) -> NodeRegistry:
        registry = NodeRegistry()
        for record in self.modules:
            try:
                registry.add_module(record)
            except ValueError as exc:
                self.errors.append(str(exc))
        for node_type in self.node_types:
            try:
                registry.register(node_type)
            except ValueError as exc:
                self.errors.append(str(exc))
        return registry


def discover(
    paths: Sequence[Path] = (), *, entry_points: bool = True, builtins: bool = True
) -> Discovery:
    """Every node type this host can see, and every plugin that failed to load."""
    found = Discovery()
    if builtins:
        from tav.nodes.builtin import BUILTIN_MODULES

        found.modules.extend(BUILTIN_MODULES)
    if entry_points:
        _from_entry_points(found)
    for folder in paths:
        _from_folder(Path(folder), found)
    return found


def default_registry(paths: Sequence[Path] = ()) -> NodeRegistry:
    """A registry of everything discoverable; plugin errors raise."""
    found = discover(paths)
    registry = found.registry()
    if found.errors:
        raise ImportError("node plugins failed to load:\n" + "\n".join(found.errors))
    return registry


def installed_entry_points(group: str) -> importlib.metadata.EntryPoints:
    """The installed packages' entry points of ``group`` (a ``tav.*`` group)."""
    return _installed_entry_points().get(group, importlib.metadata.EntryPoints())


@functools.cache
def _installed_entry_points() -> dict[str, importlib.metadata.EntryPoints]:
    # Read once per process: reading them walks every installed distribution's metadata
    # (~8 ms at each start here), and node types and trigger kinds are both found there.
    # A package installed later takes a restart, as any plugin does.
    found = importlib.metadata.entry_points()
    return {group: found.select(group=group) for group in found.groups if group.startswith("tav.")}


def _from_entry_points(found: Discovery) -> None:
    for entry_point in installed_entry_points(ENTRY_POINT_GROUP):
        try:
            loaded = entry_point.load()
            for item in _as_extensions(loaded):
                if isinstance(item, NodeModule):
                    found.modules.append(item)
                else:
                    found.node_types.append(item)
        except Exception as exc:
            found.errors.append(f"entry point {entry_point.value!r}: {describe_error(exc)}")


def _as_extensions(loaded: object) -> list[type[Node] | NodeModule]:
    if isinstance(loaded, ModuleType):
        return list(node_types_in(loaded))
    if _is_extension(loaded):
        return [loaded]  # type: ignore[list-item]
    if isinstance(loaded, Iterable) and not isinstance(loaded, str):
        items = list(loaded)
        if all(_is_extension(i) for i in items):
            return items
    raise TypeError(
        f"expected a Node subclass, a NodeModule record, a list of them or a module, got {loaded!r}"
    )


def _is_extension(item: object) -> bool:
    return isinstance(item, NodeModule) or (inspect.isclass(item) and issubclass(item, Node))


def _from_folder(folder: Path, found: Discovery) -> None:
    if not folder.is_dir():
        found.errors.append(f"{folder}: TAV_NODES_PATH folder does not exist")
        return
    for file in plugin_files(folder):
        try:
            found.node_types.extend(node_types_in(import_file(file)))
        except Exception as exc:
            found.errors.append(f"{file}: {describe_error(exc)}")


def plugin_files(folder: Path) -> list[Path]:
    """The plugin files of a ``TAV_NODES_PATH`` folder: ``*.py`` not starting with ``_``,
    in name order."""
    return [file for file in sorted(folder.glob("*.py")) if not file.name.startswith("_")]


def import_file(file: Path) -> ModuleType:
    """Import a plugin file once per process (the same file gives the same module)."""
    digest = hashlib.sha1(str(file.resolve()).encode()).hexdigest()[:10]
    name = f"tav_nodes_path.{file.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
