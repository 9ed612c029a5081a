"""The shared libraries a program or an extension module loads, read from its ELF file.

What ``ldd`` says, without running the dynamic loader once per file (``ldd`` on the
standard library's seventy extension modules takes a second): each file's ``DT_NEEDED``
names, looked up in its ``DT_RPATH``/``DT_RUNPATH`` (``$ORIGIN`` expanded), then in the
system's library folders (``/etc/ld.so.conf`` and the usual ones), recursively; and the
program's dynamic loader (``PT_INTERP``).
"""

from __future__ import annotations

import glob
import os
import struct
from collections.abc import Iterable

_PT_INTERP = 3
_PT_DYNAMIC = 2
_PT_LOAD = 1
_DT_NEEDED = 1
_DT_STRTAB = 5
_DT_RPATH = 15
_DT_RUNPATH = 29
_DEFAULT_FOLDERS = ("/lib64", "/usr/lib64", "/lib", "/usr/lib")


class _Elf:
    """The dynamic section of one ELF file: needed names, search paths, loader."""

    def __init__(self, path: str) -> None:
        with open(path, "rb") as file:
            data = file.read()
        if data[:4] != b"\x7fELF":
            raise ValueError("not an ELF file")
        wide = data[4] == 2
        order = "<" if data[5] == 1 else ">"
        head = struct.unpack_from(order + ("QQQIHHHHHH" if wide else "IIIIHHHHHH"), data, 24)
        phoff, phentsize, phnum = head[1], head[5], head[6]
        segment = order + ("IIQQQQQQ" if wide else "IIIIIIII")
        loads: list[tuple[int, int, int]] = []
        dynamic = None
        self.interpreter: str | None = None
        for index in range(phnum):
            fields = struct.unpack_from(segment, data, phoff + index * phentsize)
            if wide:
                kind, _, offset, vaddr, _, filesz, _, _ = fields
            else:
                kind, offset, vaddr, _, filesz, _, _, _ = fields
            if kind == _PT_LOAD:
                loads.append((vaddr, offset, filesz))
            elif kind == _PT_DYNAMIC:
                dynamic = (offset, filesz)
            elif kind == _PT_INTERP:
                self.interpreter = data[offset : offset + filesz].rstrip(b"\0").decode()
        self.needed: list[str] = []
        self.paths: list[str] = []
        if dynamic is None:
            return
        entry = order + ("qQ" if wide else "iI")
        size = struct.calcsize(entry)
        tags: list[tuple[int, int]] = []
        for at in range(dynamic[0], dynamic[0] + dynamic[1], size):
            tag, value = struct.unpack_from(entry, data, at)
            if tag == 0:
                break
            tags.append((tag, value))
        strtab = next((v for t, v in tags if t == _DT_STRTAB), None)
        if strtab is None:
            return
        base = next((off + strtab - va for va, off, sz in loads if va <= strtab < va + sz), strtab)

        def text(offset: int) -> str:
            return data[base + offset : data.index(b"\0", base + offset)].decode()

        origin = os.path.dirname(os.path.realpath(path))
        for tag, value in tags:
            if tag == _DT_NEEDED:
                self.needed.append(text(value))
            elif tag in (_DT_RPATH, _DT_RUNPATH):
                for part in text(value).split(":"):
                    folder = part.replace("$ORIGIN", origin).replace("${ORIGIN}", origin)
                    self.paths.append(folder)


def libraries(files: Iterable[str]) -> list[str]:
    """The shared libraries ``files`` load (each as the loader would find it) and their
    dynamic loaders; files that are not ELF, or libraries not found, are left out."""
    system = system_folders()
    found: dict[str, None] = {}
    todo = list(files)
    seen: set[str] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        try:
            elf = _Elf(path)
        except (OSError, ValueError, struct.error, IndexError, UnicodeDecodeError):
            continue
        if elf.interpreter and os.path.exists(elf.interpreter):
            found[elf.interpreter] = None
        for name in elf.needed:
            library = _find(name, [*elf.paths, *system])
            if library is not None and library not in found:
                found[library] = None
                todo.append(library)
    return list(found)


def system_folders() -> list[str]:
    """Where the dynamic loader looks for libraries: ``/etc/ld.so.conf``'s folders, then
    the defaults."""
    folders = _conf("/etc/ld.so.conf", 0)
    return [f for f in dict.fromkeys([*folders, *_DEFAULT_FOLDERS]) if os.path.isdir(f)]


def _conf(path: str, depth: int) -> list[str]:
    try:
        with open(path) as file:
            lines = file.read().splitlines()
    except OSError:
        return []
    folders: list[str] = []
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if line.startswith("include") and depth < 8:
            for included in sorted(glob.glob(line.split(None, 1)[1].strip())):
                folders += _conf(included, depth + 1)
        elif line.startswith("/"):
            folders.append(line)
    return folders


def _find(name: str, folders: list[str]) -> str | None:
    if "/" in name:
        return name if os.path.exists(name) else None
    for folder in folders:
        candidate = os.path.join(folder, name)
        if os.path.exists(candidate):
            return candidate
    return None
