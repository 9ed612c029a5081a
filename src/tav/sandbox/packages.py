"""The packages code may import besides the standard library (``TAV_CODE_PACKAGES``).

An allowed import name brings its distribution and, recursively, the distributions it
requires (extras left out) that are installed: ``pandas`` brings numpy, python-dateutil,
pytz, tzdata and six. What the sandbox then sees of each is its entries at the top of
its site-packages folder (the package, its ``.libs`` folder of vendored libraries, its
``.dist-info``), as listed in the distribution's RECORD; nothing else of site-packages.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from collections.abc import Iterable
from pathlib import Path

_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class PackageMissing(LookupError):
    """An allowed name that no installed package provides."""


def package_paths(names: Iterable[str]) -> dict[str, Path]:
    """What importing ``names`` needs: top-level entry name → its path on this host."""
    found: dict[str, Path] = {}
    providers = importlib.metadata.packages_distributions()
    seen: set[str] = set()
    for name in names:
        dists = providers.get(name)
        if dists:
            for dist in dists:
                _add_distribution(dist, found, seen)
        else:
            found.update(_module_paths(name))
    return found


def _add_distribution(name: str, found: dict[str, Path], seen: set[str]) -> None:
    key = _canonical(name)
    if key in seen:
        return
    seen.add(key)
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return  # a requirement that is not installed (optional, or for another platform)
    for file in dist.files or ():
        top = file.parts[0] if file.parts else ""
        if not top or top == ".." or top in found or top == "__pycache__":
            continue
        found[top] = Path(str(dist.locate_file(top)))
    for requirement in dist.requires or ():
        spec, _, marker = requirement.partition(";")
        match = _NAME.match(spec)
        if match and "extra" not in marker:
            _add_distribution(match.group(1), found, seen)


def _module_paths(name: str) -> dict[str, Path]:
    """A module or package without distribution metadata, found on ``sys.path``."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin in (None, "built-in", "frozen"):
        if spec is not None and spec.origin in ("built-in", "frozen"):
            return {}  # part of the interpreter: there already
        raise PackageMissing(f"no package {name!r} is installed beside the server")
    origin = Path(spec.origin)
    path = origin.parent if spec.submodule_search_locations else origin
    return {path.name: path}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
