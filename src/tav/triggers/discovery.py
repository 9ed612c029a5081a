"""Finding trigger kinds: built-ins, the ``tav.triggers`` entry-point group, and folders.

The same places node types come from (``tav.nodes.discovery``), so a plugin that adds a
trigger node can add the kind that arms it:

- an entry point in the ``tav.triggers`` group names a ``TriggerKindSpec``, a list of
  them, or a module (every ``TriggerKindSpec`` at its top level is taken);
- a ``*.py`` file on ``TAV_NODES_PATH`` may define ``TriggerKindSpec`` records at its top
  level, beside its node classes (the file is imported once for both).

As for nodes, a plugin that fails to load is collected in ``errors`` with where it came
from, and a name defined twice is an error naming both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from tav.nodes.discovery import import_file, installed_entry_points, plugin_files
from tav.nodes.modules import describe_error
from tav.triggers.kinds import BUILTIN_KINDS, TriggerKindSpec

ENTRY_POINT_GROUP = "tav.triggers"


@dataclass
class KindDiscovery:
    kinds: list[TriggerKindSpec] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _sources: dict[str, str] = field(default_factory=dict)

    def add(self, spec: TriggerKindSpec, source: str) -> None:
        if any(known is spec for known in self.kinds):
            return  # the same record, imported into a second file
        if spec.name in self._sources:
            self.errors.append(
                f"trigger kind {spec.name!r} is defined twice: by {self._sources[spec.name]} "
                f"and by {source}"
            )
            return
        self._sources[spec.name] = source
        self.kinds.append(spec)


def discover_kinds(
    paths: Sequence[Path] = (), *, entry_points: bool = True, builtins: bool = True
) -> KindDiscovery:
    """Every trigger kind this host can see, and every plugin that failed to load."""
    found = KindDiscovery()
    if builtins:
        for spec in BUILTIN_KINDS:
            found.add(spec, "tav.triggers.kinds")
    if entry_points:
        _from_entry_points(found)
    for folder in paths:
        _from_folder(Path(folder), found)
    return found


def default_trigger_kinds(paths: Sequence[Path] = ()) -> list[TriggerKindSpec]:
    """Every discoverable trigger kind; plugin errors raise (as ``default_registry``)."""
    found = discover_kinds(paths)
    if found.errors:
        raise ImportError("trigger kind plugins failed to load:\n" + "\n".join(found.errors))
    return found.kinds


def kinds_in(module: ModuleType) -> list[TriggerKindSpec]:
    """The ``TriggerKindSpec`` records at the top level of ``module``."""
    return [value for value in vars(module).values() if isinstance(value, TriggerKindSpec)]


def _from_entry_points(found: KindDiscovery) -> None:
    for entry_point in installed_entry_points(ENTRY_POINT_GROUP):
        source = f"entry point {entry_point.value!r}"
        try:
            specs = _as_kinds(entry_point.load())
        except Exception as exc:
            found.errors.append(f"{source}: {describe_error(exc)}")
            continue
        for spec in specs:
            found.add(spec, source)


def _as_kinds(loaded: object) -> list[TriggerKindSpec]:
    if isinstance(loaded, ModuleType):
        return kinds_in(loaded)
    if isinstance(loaded, TriggerKindSpec):
        return [loaded]
    if isinstance(loaded, Iterable) and not isinstance(loaded, str):
        items = list(loaded)
        if all(isinstance(item, TriggerKindSpec) for item in items):
            return items
    raise TypeError(f"expected a TriggerKindSpec, a list of them or a module, got {loaded!r}")


def _from_folder(folder: Path, found: KindDiscovery) -> None:
    if not folder.is_dir():
        found.errors.append(f"{folder}: TAV_NODES_PATH folder does not exist")
        return
    for file in plugin_files(folder):
        try:
            module = import_file(file)  # imported once, for its node types and its kinds
        except Exception as exc:
            found.errors.append(f"{file}: {describe_error(exc)}")
            continue
        for spec in kinds_in(module):
            found.add(spec, str(file))
