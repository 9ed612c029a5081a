"""Which process runs an execution of ``tav run``, and whether that process still lives.

An execution started by ``tav run`` is recorded with its owner: the host name, the process
id and the process's start time. A later start on the same data dir (``tav serve``, or
another ``tav run``) can then tell an execution whose process was killed — to be settled
as failed, and retried if wanted — from one still running in another process, which it
leaves alone. The start time tells a reused process id apart (read from ``/proc`` on Linux;
elsewhere the id alone is checked). Only the owner's own host can tell: a process of
another host counts as alive.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

PROC = Path("/proc")


def this_process() -> str:
    """The owner to record for executions this process runs: ``host/pid/start``."""
    pid = os.getpid()
    return f"{socket.gethostname()}/{pid}/{_start_time(pid) or ''}"


def is_gone(owner: str | None) -> bool:
    """True when ``owner`` is a process of this host that has ended."""
    if not owner or owner.count("/") < 2:
        return False
    host, pid_text, started = owner.rsplit("/", 2)
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    if PROC.is_dir():
        now = _start_time(pid)
        return now is None or (bool(started) and now != started)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, and someone else's
        return False
    return False


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of ``/proc/PID/stat``),
    or None without ``/proc`` or such a process."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or parentheses.
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None
