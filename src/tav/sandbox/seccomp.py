"""A seccomp filter for the sandbox: system calls code has no use for, refused (``EPERM``).

bubblewrap loads it (``--seccomp``) before it starts the interpreter. It refuses what
would let code make namespaces of its own (``unshare``, ``setns``, ``clone`` with a
namespace flag; ``clone3``, whose flags a filter cannot read, answers ``ENOSYS`` and the C
library falls back to ``clone``), mount anything, or reach the kernel's least travelled
paths (``bpf``, ``io_uring``, ``userfaultfd``, ``perf_event_open``, keyrings, modules,
``ptrace``, ...), and any call through another ABI (x32, i386 on x86-64). The list follows
Docker's default profile where it refuses a call outright.

A namespace of the code's own would matter: in it, the code could mount a tmpfs of any
size, past its memory limit. Without user namespaces to make, the rest of the list only
narrows what the kernel offers to code that is already confined.

Machines other than x86-64 and AArch64 get no filter (``program`` returns ``None``).
"""

from __future__ import annotations

import errno
import platform
import struct
import sys

_BLOCKED = (
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "quotactl_fd",
    "syslog",
    "lookup_dcookie",
    "open_by_handle_at",
    "name_to_handle_at",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "iopl",
    "ioperm",
    "uselib",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "vhangup",
    "nfsservctl",
    "personality",
    "fanotify_init",
)

# System call numbers: linux/arch/x86/entry/syscalls/syscall_64.tbl and
# include/uapi/asm-generic/unistd.h (AArch64).
_NUMBERS: dict[str, dict[str, int]] = {
    "x86_64": {
        "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155,
        "chroot": 161, "move_mount": 429, "open_tree": 428, "fsopen": 430, "fsconfig": 431,
        "fsmount": 432, "fspick": 433, "mount_setattr": 442, "keyctl": 250, "add_key": 248,
        "request_key": 249, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
        "kexec_load": 246, "kexec_file_load": 320, "init_module": 175, "finit_module": 313,
        "delete_module": 176, "reboot": 169, "swapon": 167, "swapoff": 168, "acct": 163,
        "quotactl": 179, "quotactl_fd": 443, "syslog": 103, "lookup_dcookie": 212,
        "open_by_handle_at": 304, "name_to_handle_at": 303, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "iopl": 172, "ioperm": 173,
        "uselib": 134, "settimeofday": 164, "clock_settime": 227, "clock_adjtime": 305,
        "adjtimex": 159, "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311,
        "vhangup": 153, "nfsservctl": 180, "personality": 135, "fanotify_init": 300,
        "clone": 56, "clone3": 435,
    },
    "aarch64": {
        "unshare": 97, "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41,
        "chroot": 51, "move_mount": 429, "open_tree": 428, "fsopen": 430, "fsconfig": 431,
        "fsmount": 432, "fspick": 433, "mount_setattr": 442, "keyctl": 219, "add_key": 217,
        "request_key": 218, "bpf": 280, "perf_event_open": 241, "userfaultfd": 282,
        "kexec_load": 104, "kexec_file_load": 294, "init_module": 105, "finit_module": 273,
        "delete_module": 106, "reboot": 142, "swapon": 224, "swapoff": 225, "acct": 89,
        "quotactl": 60, "quotactl_fd": 443, "syslog": 116, "lookup_dcookie": 18,
        "open_by_handle_at": 265, "name_to_handle_at": 264, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "settimeofday": 170,
        "clock_settime": 112, "clock_adjtime": 266, "adjtimex": 171, "ptrace": 117,
        "process_vm_readv": 270, "process_vm_writev": 271, "vhangup": 58, "nfsservctl": 42,
        "personality": 92, "fanotify_init": 262, "clone": 220, "clone3": 435,
    },
}  # fmt: skip
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_X32_BIT = 0x40000000
_NAMESPACE_FLAGS = 0x7E020000
"""CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET."""

_LD_W_ABS = 0x20
_JEQ = 0x15
_JGE = 0x35
_JSET = 0x45
_RET = 0x06
_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000


def program(machine: str | None = None) -> bytes | None:
    """The filter (an array of ``struct sock_filter``) for ``machine`` (default: this
    one's), or ``None`` for a machine without a table."""
    machine = machine or platform.machine()
    numbers = _NUMBERS.get(machine)
    if numbers is None:
        return None
    arg0 = 16 if sys.byteorder == "little" else 20  # seccomp_data.args[0], low half
    code: list[tuple[int, str | int, str | int, int]] = [
        (_LD_W_ABS, 0, 0, 4),  # the ABI of the call
        (_JEQ, 0, "deny", _AUDIT_ARCH[machine]),
        (_LD_W_ABS, 0, 0, 0),  # its number
    ]
    if machine == "x86_64":
        code.append((_JGE, "deny", 0, _X32_BIT))
    code += [(_JEQ, "deny", 0, numbers[name]) for name in _BLOCKED if name in numbers]
    code += [
        (_JEQ, "no_clone3", 0, numbers["clone3"]),
        (_JEQ, 0, "allow", numbers["clone"]),
        (_LD_W_ABS, 0, 0, arg0),
        (_JSET, "deny", "allow", _NAMESPACE_FLAGS),
    ]
    labels = {"allow": len(code), "deny": len(code) + 1, "no_clone3": len(code) + 2}
    code += [
        (_RET, 0, 0, _ALLOW),
        (_RET, 0, 0, _ERRNO | errno.EPERM),
        (_RET, 0, 0, _ERRNO | errno.ENOSYS),
    ]
    out = bytearray()
    for index, (op, true, false, k) in enumerate(code):
        jt = labels[true] - index - 1 if isinstance(true, str) else true
        jf = labels[false] - index - 1 if isinstance(false, str) else false
        out += struct.pack("=HBBI", op, jt, jf, k)
    return bytes(out)
