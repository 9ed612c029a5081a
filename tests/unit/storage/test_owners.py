"""Owners of ``tav run`` executions: which process, and whether it is gone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from tav.storage import owners


def _ended_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_this_process_is_alive():
    me = owners.this_process()
    assert me.startswith(f"{socket.gethostname()}/{os.getpid()}/")
    assert not owners.is_gone(me)


def test_a_process_of_this_host_that_ended_is_gone():
    pid = _ended_pid()
    assert owners.is_gone(f"{socket.gethostname()}/{pid}/123")
    assert owners.is_gone(f"{socket.gethostname()}/{pid}/")


def test_a_reused_process_id_is_told_apart_by_its_start_time():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        started = owners._start_time(child.pid)
        assert started is not None
        assert not owners.is_gone(f"{socket.gethostname()}/{child.pid}/{started}")
        assert owners.is_gone(f"{socket.gethostname()}/{child.pid}/{int(started) - 1}")
    finally:
        child.kill()
        child.wait()


def test_another_host_or_no_owner_counts_as_alive():
    assert not owners.is_gone(f"elsewhere.example/{_ended_pid()}/1")
    assert not owners.is_gone(None)
    assert not owners.is_gone("")
    assert not owners.is_gone("no-slashes")
    assert not owners.is_gone(f"{socket.gethostname()}/not-a-pid/1")
