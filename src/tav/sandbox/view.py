"""What the sandbox sees of this machine's files, and the bubblewrap arguments for it.

Read-only, at the paths this host names them: the interpreter, its shared library, the
standard library (its ``site-packages`` hidden under an empty folder), the folders of the
shared libraries the interpreter and the standard library's extension modules load
(``tav.sandbox.elf``), the time zone database, and the symbolic links on the way to them
(``/lib`` → ``usr/lib`` on a merged-/usr system); the allowed packages under
``/opt/tav/site``; with the network, what name resolution and TLS read in ``/etc``. The
rest of the sandbox is bubblewrap's: an empty root made read-only, a private ``/proc``
and ``/dev``, and an empty ``/tmp`` of its own size.

Nothing else: not the data dir, the secret key file, the database, the working folder,
``/home``, ``/root``, ``/etc`` (but with the network, the files named above).
"""

from __future__ import annotations

import os
import ssl
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tav.sandbox.elf import libraries
from tav.sandbox.packages import package_paths

ENTRY = "/opt/tav/entry.py"
SITE = "/opt/tav/site"
_SYSTEM_LIBRARIES = ("/lib", "/lib64", "/usr/lib", "/usr/lib64")
"""Folders of the system's libraries: one a library is in is seen whole (programs load
more of them than they name: name resolution, ``ctypes.util``); elsewhere, a library
alone is (the interpreter's own, beside its installation)."""
_NETWORK_FILES = (
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/gai.conf",
    "/etc/host.conf",
    "/etc/ssl/certs",
    "/usr/share/ca-certificates",
    "/usr/lib/ssl",
)
_MAX_LINKS = 40


@dataclass(frozen=True, slots=True)
class View:
    """Read-only binds (source, destination) and symbolic links (target, link)."""

    interpreter: str
    binds: tuple[tuple[str, str], ...]
    links: tuple[tuple[str, str], ...]
    hidden: tuple[str, ...]
    """Folders inside the binds that show as empty."""

    def arguments(self) -> list[str]:
        # The folders on the way to each bind, made first, open to all: bubblewrap would
        # give them the mode of the host's (/root is 0700).
        args: list[str] = []
        for folder in sorted({p for _, d in self.binds for p in _parents(d)}):
            args += ["--perms", "0755", "--dir", folder]
        for source, destination in self.binds:
            args += ["--ro-bind", source, destination]
        for target, link in self.links:
            args += ["--symlink", target, link]
        for folder in self.hidden:
            args += ["--tmpfs", folder, "--remount-ro", folder]
        return args


def python_views(packages: Iterable[str] = ()) -> tuple[View, View]:
    """What the server's own interpreter needs to run ``entry.py`` and import ``packages``
    (``PackageMissing`` names one that is not installed): without the network, and with
    it (the files name resolution and TLS certificates read, too)."""
    files = _Files()
    interpreter = os.path.realpath(sys.executable)
    files.add(interpreter)
    stdlib = _standard_library()
    for folder in stdlib:
        files.add(folder)
    files.add(str(Path(__file__).resolve().with_name("entry.py")), ENTRY)
    extensions = [str(p) for folder in stdlib for p in Path(folder).glob("lib-dynload/*.so")]
    for name, path in package_paths(packages).items():
        files.add(str(path), f"{SITE}/{name}")
        extensions += [str(p) for p in path.rglob("*.so*")] if path.is_dir() else [str(path)]
    for library in libraries([interpreter, *extensions]):
        if any(_inside(library, folder) for folder in _SYSTEM_LIBRARIES):
            files.add(os.path.dirname(library), follow=library)
        else:
            files.add(library)
    if os.path.isdir("/usr/share/zoneinfo"):
        files.add("/usr/share/zoneinfo")
    hidden = [
        f"{folder}/{name}"
        for folder in stdlib
        for name in ("site-packages", "dist-packages")
        if os.path.isdir(f"{folder}/{name}")
    ]
    base = files.view(interpreter, hidden)
    verify = ssl.get_default_verify_paths()
    for needed in (*_NETWORK_FILES, verify.cafile, verify.capath):
        if needed and os.path.exists(needed):
            files.add(needed)
    return base, files.view(interpreter, hidden)


def _standard_library() -> list[str]:
    """The folders of the standard library and of its extension modules (a virtual
    environment's interpreter is the base installation's)."""
    folders = {os.path.dirname(os.path.realpath(os.__file__))}
    folders |= {os.path.realpath(p) for p in sys.path if p.endswith("lib-dynload")}
    return sorted(folders)


class _Files:
    """Collects binds, and the symbolic links on the way to them."""

    def __init__(self) -> None:
        self._binds: dict[str, str] = {}  # destination → source
        self._links: dict[str, str] = {}  # link → target

    def add(self, path: str, destination: str | None = None, *, follow: str | None = None) -> None:
        """Bind ``path`` (at ``destination``, or where it is) and mirror the links on the
        way; ``follow``: a file in it that may itself be a link to mirror."""
        real = self._walk(path) if destination is None else os.path.realpath(path)
        self._binds[destination or real] = real
        if follow is not None:
            self._walk(follow)

    def _walk(self, path: str, depth: int = 0) -> str:
        """The real path of ``path``; each link on the way is recorded, to be made in the
        sandbox too, and the path it points to walked in turn."""
        if depth > _MAX_LINKS:
            return os.path.realpath(path)
        current = "/"
        for part in Path(os.path.abspath(path)).parts[1:]:
            candidate = os.path.join(current, part)
            if os.path.islink(candidate):
                target = os.readlink(candidate)
                self._links[candidate] = target
                current = self._walk(os.path.normpath(os.path.join(current, target)), depth + 1)
            else:
                current = candidate
        return os.path.normpath(current)

    def view(self, interpreter: str, hidden: list[str]) -> View:
        destinations = sorted(self._binds, key=lambda d: (d.count("/"), d))
        kept: list[str] = []
        for destination in destinations:
            if not any(_inside(destination, parent) for parent in kept):
                kept.append(destination)
        links = [
            (target, link)
            for link, target in sorted(self._links.items())
            if not any(_inside(link, parent) for parent in kept)
        ]
        binds = tuple((self._binds[d], d) for d in kept)
        return View(interpreter, binds, tuple(links), tuple(hidden))


def _parents(path: str) -> list[str]:
    parts = path.strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")
