"""What the sandbox sees of the machine's files, and the filter of its system calls."""

from __future__ import annotations

import os
import struct
import sys
import sysconfig

from tav.sandbox import elf, seccomp
from tav.sandbox.view import ENTRY, View, python_views


def test_the_view_holds_the_interpreter_its_libraries_and_the_standard_library_only():
    base, network = python_views()
    destinations = [d for _, d in base.binds]
    interpreter = os.path.realpath(sys.executable)
    assert base.interpreter == interpreter
    assert interpreter in destinations or any(interpreter.startswith(d + "/") for d in destinations)
    stdlib = os.path.dirname(os.path.realpath(os.__file__))
    assert stdlib in destinations
    assert ENTRY in destinations
    assert f"{stdlib}/site-packages" in base.hidden
    # Not the server's own installation, its working folder, /etc or /home.
    site = os.path.realpath(sysconfig.get_path("purelib"))
    for source, destination in base.binds:
        if destination != ENTRY:  # (the one file of the server's it needs)
            assert not source.startswith((site, os.getcwd() + "/", "/etc", "/home", "/var"))
    # With the network, what name resolution needs is there too.
    if os.path.exists("/etc/resolv.conf"):
        assert any(d == "/etc/resolv.conf" for _, d in network.binds)
    assert not any(d.startswith("/etc") for _, d in base.binds)


def test_links_on_the_way_are_made_and_parent_folders_open_to_all():
    view = View("/x/bin/python", (("/srv/lib/a", "/srv/lib/a"),), (("usr/lib", "/lib"),), ())
    args = view.arguments()
    assert args[:6] == ["--perms", "0755", "--dir", "/srv", "--perms", "0755"]
    assert args[8:11] == ["--ro-bind", "/srv/lib/a", "/srv/lib/a"]
    assert args[-3:] == ["--symlink", "usr/lib", "/lib"]


def test_the_libraries_of_the_interpreter_are_found_as_the_loader_would():
    found = elf.libraries([os.path.realpath(sys.executable)])
    assert any(os.path.basename(path).startswith("libc.so") for path in found)
    assert any("ld-linux" in path or "ld-musl" in path for path in found)  # the loader
    assert elf.libraries([__file__]) == []  # not an ELF file


def test_the_filter_is_one_program_per_machine_it_knows():
    for machine in ("x86_64", "aarch64"):
        program = seccomp.program(machine)
        assert program is not None
        assert len(program) % 8 == 0
        first = struct.unpack_from("=HBBI", program, 0)
        assert first == (0x20, 0, 0, 4)  # it starts by loading the call's ABI
        last = struct.unpack_from("=HBBI", program, len(program) - 8)
        assert last[0] == 0x06  # ...and ends returning
    assert seccomp.program("riscv64") is None
