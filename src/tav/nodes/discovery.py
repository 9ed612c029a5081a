"""Finding node types: built-ins, the ``tav.nodes`` entry-point group, and folders.

- Built-ins come from ``tav.nodes.builtin``, by import path: each module is imported
  when one of its types is first used.
- A package can ship node types by declaring an entry point in the ``tav.nodes`` group
  that names a ``Node`` subclass, a list of them, or a module (every ``Node`` subclass
  defined in it is taken).
- Every ``*.py`` file (not starting with ``_``) in a folder on ``TAV_NODES_PATH`` is
  imported and its ``Node`` subclasses taken. A custom node is one short file.

A plugin that fails to import does not take the host down: its error is collected in
``Discovery.errors`` with the file or entry point it came from, and reported.
"""

from __future__ import annotations

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
from tav.nodes.registry import NodeRegistry

ENTRY_POINT_GROUP = "tav.nodes"


@dataclass
class Discovery:
    node_types: list[type[Node]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lazy: dict[str, str] = field(default_factory=dict)
    """Types known by import path (the built-ins), imported on first use."""

    def registry(self) -> NodeRegistry:
        registry = NodeRegistry(lazy=self.lazy)
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
        from tav.nodes.builtin import BUILTIN_NODES

        found.lazy.update(BUILTIN_NODES)
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


def node_types_in(module: ModuleType) -> list[type[Node]]:
    """Concrete ``Node`` subclasses defined in ``module`` (not merely imported into it)."""
    return [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, Node)
        and obj.__module__ == module.__name__
        and "spec" in obj.__dict__
    ]


def _from_entry_points(found: Discovery) -> None:
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry_point.load()
            found.node_types.extend(_as_node_types(loaded))
        except Exception as exc:
            found.errors.append(f"entry point {entry_point.value!r}: {_reason(exc)}")


def _as_node_types(loaded: object) -> list[type[Node]]:
    if isinstance(loaded, ModuleType):
        return node_types_in(loaded)
    if inspect.isclass(loaded) and issubclass(loaded, Node):
        return [loaded]
    if isinstance(loaded, Iterable):
        items = list(loaded)
        if all(inspect.isclass(i) and issubclass(i, Node) for i in items):
            return items
    raise TypeError(f"expected a Node subclass, a list of them or a module, got {loaded!r}")


def _from_folder(folder: Path, found: Discovery) -> None:
    if not folder.is_dir():
        found.errors.append(f"{folder}: TAV_NODES_PATH folder does not exist")
        return
    for file in sorted(folder.glob("*.py")):
        if file.name.startswith("_"):
            continue
        try:
            found.node_types.extend(node_types_in(_import_file(file)))
        except Exception as exc:
            found.errors.append(f"{file}: {_reason(exc)}")


def _import_file(file: Path) -> ModuleType:
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


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
