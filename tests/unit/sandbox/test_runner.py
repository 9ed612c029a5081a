"""What code sees and returns, and how it fails, under the real sandbox."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from tav.core.errors import NodeError
from tav.sandbox.config import SandboxConfig
from tav.sandbox.runner import SandboxRunner
from tests.unit.sandbox.conftest import LIMITS, Log, job, run


async def test_main_gets_its_input_and_sees_trigger_vars_and_nodes(runner):
    code = """
def main(input):
    return {"input": input, "trigger": trigger, "vars": vars, "prep": nodes["prep"]["output"],
            "ids": sorted(nodes), "missing": "gone" in nodes}
"""
    nodes = {"prep": {"output": [1, 2.5, "é", None, True]}, "other": {"output": {"big": 1}}}
    value = await run(runner, code, {"a": 1}, trigger={"t": "x"}, vars={"v": 2}, nodes=nodes)
    assert value == {
        "input": {"a": 1},
        "trigger": {"t": "x"},
        "vars": {"v": 2},
        "prep": [1, 2.5, "é", None, True],
        "ids": ["other", "prep"],
        "missing": False,
    }


class Counted(Mapping[str, Any]):
    """Node outputs that count which ones were read."""

    def __init__(self, outputs: dict[str, Any]) -> None:
        self.outputs = outputs
        self.read: list[str] = []

    def __getitem__(self, key: str) -> Any:
        self.read.append(key)
        return self.outputs[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.outputs)

    def __len__(self) -> int:
        return len(self.outputs)


async def test_only_the_node_outputs_the_code_reads_are_sent_once_each(runner):
    nodes = Counted({"a": {"output": 1}, "b": {"output": "x" * 100_000}})
    code = "def main(input):\n    return nodes['a']['output'] + nodes['a']['output']\n"
    assert await run(runner, code, nodes=nodes) == 2
    assert nodes.read == ["a"]


async def test_print_goes_to_the_log_in_order(runner):
    log = Log()
    code = (
        "import sys\n"
        "def main(input):\n"
        "    for i in range(3):\n"
        "        print('line', i)\n"
        "    print('to stderr', file=sys.stderr)\n"
        "    return 'done'\n"
    )
    assert await runner.run(job(code), log) == "done"
    assert log.text == "line 0\nline 1\nline 2\nto stderr\n"


async def test_an_exception_is_a_code_error_with_the_authors_line_and_message(runner):
    log = Log()
    code = "def helper(x):\n    return 1 / x\n\ndef main(input):\n    return helper(input)\n"
    with pytest.raises(NodeError) as caught:
        await runner.run(job(code, 0), log)
    assert caught.value.type == "code_error"
    assert caught.value.message == "line 2: ZeroDivisionError: division by zero"
    assert caught.value.retryable
    # The traceback in the log shows the author's frames, with their source, and nothing
    # of the sandbox's own.
    assert 'File "<code>", line 5, in main' in log.text
    assert "return 1 / x" in log.text
    assert "entry.py" not in log.text


@pytest.mark.parametrize(
    ("code", "kind", "message"),
    [
        ("def main(input):\n    return (\n", "code_syntax", "line 2: SyntaxError:"),
        ("x = 1\n", "code_invalid", "the code must define a function main(input)"),
        ("def main(input):\n    return {1, 2}\n", "result_invalid", "set is not JSON data"),
        ("def main(input):\n    return float('nan')\n", "result_invalid", "not JSON data"),
        ("import sys\ndef main(input):\n    sys.exit(3)\n", "code_error", "line 3: SystemExit: 3"),
        ("raise KeyError('k')\n", "code_error", "line 1: KeyError: 'k'"),
    ],
)
async def test_code_that_does_not_give_a_value_says_why(runner, code, kind, message):
    with pytest.raises(NodeError) as caught:
        await run(runner, code)
    assert caught.value.type == kind
    assert message in caught.value.message


async def test_an_async_main_is_awaited(runner):
    code = "import asyncio\nasync def main(input):\n    await asyncio.sleep(0)\n    return input\n"
    assert await run(runner, code, [1]) == [1]


async def test_a_lone_surrogate_comes_back_escaped_rather_than_breaking_the_channel(runner):
    assert await run(runner, "def main(input):\n    return '\\ud800'\n") == "\ud800"


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("import time\ndef main(input):\n    time.sleep(30)\n", "timeout"),
        ("def main(input):\n    while True:\n        pass\n", "cpu_limit"),
        ("def main(input):\n    return len(bytearray(1 << 30))\n", "memory_limit"),
        ("def main(input):\n    while True:\n        print('x' * 4096)\n", "output_limit"),
        ("def main(input):\n    return 'x' * (1 << 20)\n", "output_limit"),
    ],
)
async def test_a_run_past_a_limit_is_stopped_with_its_error(runner, code, kind):
    started = time.monotonic()
    with pytest.raises(NodeError) as caught:
        await run(runner, code)
    assert caught.value.type == kind, caught.value.message
    assert time.monotonic() - started < LIMITS.timeout_s + 5


async def test_the_wall_clock_limit_names_itself(config):
    runner = SandboxRunner(SandboxConfig(limits=LIMITS.__class__(timeout_s=0.5), warm=0))
    try:
        with pytest.raises(NodeError) as caught:
            await run(runner, "import time\ndef main(input):\n    time.sleep(30)\n")
    finally:
        await runner.aclose()
    assert caught.value.message == "the code did not finish within 0.5 s"


async def test_cancelling_a_run_ends_its_process_at_once(runner):
    marker = f"tav-cancelled-{uuid.uuid4().hex}"
    code = f"""
import subprocess, sys, time
def main(input):
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "{marker}"])
    print("started")
    time.sleep(60)
"""
    log = Log()
    task = asyncio.create_task(runner.run(job(code), log))
    async with asyncio.timeout(10):
        while True:
            if "started" in log.text:
                break
            await asyncio.sleep(0.01)
    assert running(marker)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await until_gone(marker)


async def test_each_run_starts_from_a_fresh_interpreter_and_an_empty_tmp(runner):
    first = """
import builtins, os
def main(input):
    open("/tmp/left", "w").write("x")
    builtins.LEFT = 1
    os.environ["LEFT"] = "1"
    return sorted(os.listdir("/tmp"))
"""
    second = """
import builtins, os
def main(input):
    return [sorted(os.listdir("/tmp")), hasattr(builtins, "LEFT"), "LEFT" in os.environ]
"""
    assert await run(runner, first) == ["left"]
    assert await run(runner, second) == [[], False, False]


async def test_runs_at_once_each_get_their_own_sandbox(runner):
    code = "import os\ndef main(input):\n    return os.getpid(), sorted(os.listdir('/proc'))[:3]\n"
    values = await asyncio.gather(*(run(runner, code) for _ in range(4)))
    assert all(pid == values[0][0] for pid, _ in values)  # each the second process of its own
    assert all(proc[:2] == ["1", "2"] for _, proc in values)  # PID namespace: only itself


async def test_the_network_needs_the_servers_leave(runner):
    with pytest.raises(NodeError) as caught:
        await run(runner, "def main(input):\n    return 1\n", network=True)
    assert caught.value.type == "network_not_allowed"


async def test_with_the_servers_leave_and_the_nodes_the_code_connects(unused_tcp_port_factory):
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    runner = SandboxRunner(SandboxConfig(limits=LIMITS, allow_network=True, warm=0))
    code = f"""
import socket
def main(input):
    with socket.create_connection(("127.0.0.1", {port}), timeout=5):
        return "connected"
"""
    try:
        assert await run(runner, code, network=True) == "connected"
        with pytest.raises(NodeError) as caught:  # the node must ask for it too
            await run(runner, code)
        assert "ConnectionRefusedError" in caught.value.message
    finally:
        listener.close()
        await runner.aclose()


async def test_without_bubblewrap_the_node_refuses_to_run_and_says_so():
    runner = SandboxRunner(SandboxConfig(bwrap="/nonexistent/bwrap", warm=0))
    with pytest.raises(NodeError) as caught:
        await run(runner, "def main(input):\n    return 1\n")
    await runner.aclose()
    assert caught.value.type == "sandbox_unavailable"
    assert "bubblewrap (/nonexistent/bwrap) is not installed" in caught.value.message
    assert "TAV_CODE_UNSAFE_NO_SANDBOX" in caught.value.message


async def test_a_bubblewrap_that_cannot_start_a_sandbox_is_reported_in_its_words(tmp_path):
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    runner = SandboxRunner(SandboxConfig(bwrap=str(fake), warm=0))
    with pytest.raises(NodeError) as caught:
        await run(runner, "def main(input):\n    return 1\n")
    await runner.aclose()
    assert caught.value.type == "sandbox_unavailable"
    assert "No permissions to create new namespace" in caught.value.message


async def test_unsafe_no_sandbox_runs_the_code_in_a_plain_process():
    config = SandboxConfig(limits=LIMITS, bwrap="/nonexistent/bwrap", unsafe_no_sandbox=True)
    runner = SandboxRunner(config)
    code = "import os\ndef main(input):\n    return os.path.exists('/etc/passwd')\n"
    try:
        assert await run(runner, code) is True  # the machine's files: no sandbox
    finally:
        await runner.aclose()


async def test_allowed_packages_import_with_what_they_need_and_no_others():
    runner = SandboxRunner(SandboxConfig(limits=LIMITS, packages=("croniter",), warm=0))
    code = """
import importlib
def main(input):
    found = {}
    for name in ("croniter", "dateutil", "httpx", "tav"):
        try:
            importlib.import_module(name)
            found[name] = True
        except ImportError:
            found[name] = False
    return found
"""
    try:
        value = await run(runner, code)
    finally:
        await runner.aclose()
    assert value == {"croniter": True, "dateutil": True, "httpx": False, "tav": False}


async def test_a_package_that_is_not_installed_is_named():
    runner = SandboxRunner(SandboxConfig(packages=("no_such_package_here",), warm=0))
    with pytest.raises(NodeError) as caught:
        await run(runner, "def main(input):\n    return 1\n")
    await runner.aclose()
    assert caught.value.type == "sandbox_unavailable"
    assert "'no_such_package_here'" in caught.value.message


def running(marker: str) -> bool:
    """Whether a process of this machine has ``marker`` in its command line."""
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as file:
                    if marker.encode() in file.read():
                        return True
            except OSError:
                continue
    return False


async def until_gone(marker: str, within_s: float = 5) -> None:
    async with asyncio.timeout(within_s):
        while True:
            if not running(marker):
                return
            await asyncio.sleep(0.02)


async def test_frames_forged_by_the_code_cost_it_its_output_limit(runner):
    code = """
import sys
def main(input):
    channel = sys.modules["__main__"]
    while True:
        channel.write_frame({"log": ""})
"""
    with pytest.raises(NodeError) as caught:
        await run(runner, code)
    assert caught.value.type == "output_limit"


async def test_a_nodes_outputs_are_sent_once_however_often_the_code_asks(runner):
    nodes = Counted({"big": {"output": "x" * 1000}})
    code = """
import sys
def main(input):
    channel = sys.modules["__main__"]
    answers = []
    for _ in range(3):
        channel.write_frame({"node": "big"})
        answers.append(sorted(channel.read_frame()))
    return answers
"""
    assert await run(runner, code, nodes=nodes) == [["value"], ["missing"], ["missing"]]
    assert nodes.read == ["big"]


@pytest.mark.parametrize(
    "write",
    [
        "os.write(channel._OUT, bytes([0, 0, 0, 5]) + b'hello')",  # not JSON
        "channel.write_frame([1, 2])",  # not a message
    ],
)
async def test_bytes_that_are_not_a_message_end_the_run(runner, write):
    code = f"""
import os, sys, time
def main(input):
    channel = sys.modules["__main__"]
    {write}
    time.sleep(30)
"""
    started = time.monotonic()
    with pytest.raises(NodeError) as caught:
        await run(runner, code)
    assert caught.value.type == "code_crashed"
    assert time.monotonic() - started < 5


async def test_a_start_cancelled_at_any_moment_leaves_no_process_behind():
    import shutil

    from tav.sandbox import seccomp
    from tav.sandbox.process import Command, Sandbox, reaped
    from tav.sandbox.runner import bwrap_options
    from tav.sandbox.view import ENTRY, python_views

    marker = f"tav-start-{uuid.uuid4().hex}"
    view, _ = python_views()
    bwrap = shutil.which("bwrap")
    assert bwrap is not None
    options = bwrap_options(bwrap, view, LIMITS, network=False)
    command = Command(
        [view.interpreter, "-I", "-S", "-B", ENTRY, marker], options, seccomp.program()
    )
    for delay in (0, 0.001, 0.002, 0.003, 0.005, 0.008, 0.013, 0.021) * 3:
        start = asyncio.create_task(Sandbox.start(command))
        await asyncio.sleep(delay)
        start.cancel()
        try:
            started = await start
        except asyncio.CancelledError:
            continue
        await started.aclose()  # it was ready before the cancel came
    await reaped()
    await until_gone(marker)
