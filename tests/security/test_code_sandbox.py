"""``code.python`` under attack: code written to break out, through a real server's port.

Each test stores a workflow whose ``code.python`` node does one thing an attacker would
try — reach the server or anything else on 127.0.0.1, read the data dir, the secret key,
``/etc/shadow`` or another process's environment, write outside ``/tmp``, fork, allocate,
loop or print without end, call the C library through ``ctypes``, run a shell, leave a
process behind, leave state for the next run — runs it over HTTP, and checks that the
attempt failed with an error that says what stopped it, and that the server carries on:
it answers, and the next code node runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tav.app.server import Server
from tav.settings import Settings
from tests.api.triggers import http_server
from tests.helpers import document, node

MARK = "tav-left-behind"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        retention_max_age_days=None,
        retention_max_count=None,
        code_timeout_s=15,  # (CPU seconds come slowly on a busy machine: 2 of them well within)
        code_cpu_s=2,
        code_memory_mb=128,
        code_max_processes=16,
        code_max_log_bytes=64 * 1024,
        code_warm=1,
    )


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the server on a real port of 127.0.0.1, with an API key."""
    _, secret = await server.parts.auth.create_api_key("attacker")
    async with http_server(server) as url:
        headers = {"Authorization": f"Bearer {secret}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
            yield client


async def attack(http: httpx.AsyncClient, code: str, input: Any = None) -> dict[str, Any]:
    """Run ``code`` as a workflow's ``code.python`` node over HTTP; its node result."""
    doc = document(
        node("start", "trigger.manual"),
        node("code", "code.python", params={"code": textwrap.dedent(code)}),
        links=("start -> code",),
        name=f"attack {uuid.uuid4().hex[:8]}",
    )
    created = await http.post("/api/v1/workflows", json=doc)
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]
    ran = await http.post(f"/api/v1/workflows/{workflow_id}/run?wait=true", json={"input": input})
    assert ran.status_code == 200, ran.text
    return dict(ran.json()["nodes"]["code"])


def failed(result: dict[str, Any], kind: str, *says: str) -> str:
    assert result["status"] == "failed", result
    error = result["error"]
    assert error["type"] == kind, error
    for words in says:
        assert words in error["message"], error
    return str(error["message"])


async def carries_on(http: httpx.AsyncClient) -> None:
    """The server answers and runs code as before."""
    assert (await http.get("/api/v1/workflows")).status_code == 200
    result = await attack(http, "def main(input):\n    return input * 2\n", 21)
    assert result["status"] == "succeeded", result
    assert result["outputs"] == {"output": 42}


def port_of(http: httpx.AsyncClient) -> int:
    port = http.base_url.port
    assert port is not None
    return port


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("server", "ConnectionRefusedError"),
        (5432, "ConnectionRefusedError"),  # PostgreSQL on this machine
        (6379, "ConnectionRefusedError"),  # Redis
        ("outside", "Network is unreachable"),
    ],
)
async def test_code_reaches_neither_the_server_nor_anything_else(http, target, says):
    host, port = ("1.1.1.1", 53) if target == "outside" else ("127.0.0.1", target)
    if target == "server":
        port = port_of(http)
    code = f"""
    import socket
    def main(input):
        socket.create_connection(("{host}", {port}), timeout=3)
        return "connected"
    """
    failed(await attack(http, code), "code_error", "line 4: ", says)
    await carries_on(http)


async def test_code_reads_neither_the_data_dir_nor_the_secret_key(http, server, settings):
    server.parts.keys.keys()  # (made on first use)
    secret = (settings.data_dir / "secret.key").resolve()
    database = (settings.data_dir / "tav.db").resolve()
    assert secret.exists()
    assert database.exists()
    for path in (secret, database, settings.data_dir.resolve()):
        read = "os.listdir" if path.is_dir() else "open"
        code = f"import os\ndef main(input):\n    return {read}({str(path)!r})\n"
        failed(await attack(http, code), "code_error", "FileNotFoundError", str(path))
    await carries_on(http)


@pytest.mark.parametrize("path", ["/etc/shadow", "/etc/passwd", "/root/.bash_history"])
async def test_code_reads_none_of_the_machines_files(http, path):
    code = f"def main(input):\n    return open({path!r}).read()\n"
    failed(await attack(http, code), "code_error", "FileNotFoundError", path)
    await carries_on(http)


async def test_code_sees_neither_the_servers_process_nor_its_environment(http):
    code = f"""
    def main(input):
        return open("/proc/{os.getpid()}/environ").read()
    """
    failed(await attack(http, code), "code_error", "FileNotFoundError", f"/proc/{os.getpid()}")
    code = """
    import os
    def main(input):
        found = {}
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    found[pid] = open(f"/proc/{pid}/environ").read()
                except OSError as exc:
                    found[pid] = type(exc).__name__
        return {"environ": dict(os.environ), "processes": found}
    """
    result = await attack(http, code)
    value = result["outputs"]["output"]
    assert value["environ"] == {
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "PWD": "/tmp",
        **dict.fromkeys(
            ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"),
            "1",
        ),
    }
    # Only the sandbox's own processes: bubblewrap's init (not readable), the code.
    assert set(value["processes"]) <= {"1", "2", "3"}
    assert all("PATH=" not in text for text in value["processes"].values())
    await carries_on(http)


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/x", "Read-only file system"),
        ("/opt/tav/entry.py", "Read-only file system"),
        (os.path.dirname(os.__file__) + "/os.py", "Read-only file system"),
        ("/usr/lib/x", "Read-only file system"),
        ("/dev/shm/x", "Errno"),
        ("/proc/sys/kernel/hostname", "Errno"),
    ],
)
async def test_code_writes_nowhere_but_tmp(http, path, says):
    code = f"def main(input):\n    open({path!r}, 'w').write('x')\n"
    failed(await attack(http, code), "code_error", "line 2: ", says)
    ok = await attack(http, "def main(input):\n    open('/tmp/x', 'w').write('x')\n    return 1\n")
    assert ok["outputs"] == {"output": 1}
    await carries_on(http)


async def test_a_fork_bomb_stops_at_the_process_limit(http):
    code = """
    import os
    def main(input):
        while True:
            os.fork()
    """
    failed(await attack(http, code), "code_error", "BlockingIOError", "Resource temporarily")
    await carries_on(http)


async def test_processes_past_the_limit_fail_and_none_is_left_behind(http):
    mark = f"{MARK}-{uuid.uuid4().hex}"
    code = f"""
    import subprocess, sys
    def main(input):
        while True:
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "{mark}"])
    """
    failed(await attack(http, code), "code_error", "Resource temporarily unavailable")
    await gone(mark)
    await carries_on(http)


async def test_a_memory_bomb_hits_the_memory_limit(http):
    code = """
    def main(input):
        hoard = []
        while True:
            hoard.append(bytearray(10 ** 7))
    """
    failed(await attack(http, code), "memory_limit", "line 5: ", "128 MiB")
    await carries_on(http)


async def test_an_endless_loop_hits_the_cpu_limit(http):
    code = "def main(input):\n    while True:\n        pass\n"
    failed(await attack(http, code), "cpu_limit", "2 s of CPU")
    await carries_on(http)


async def test_code_that_sleeps_forever_hits_the_time_limit(http):
    code = "import time\ndef main(input):\n    time.sleep(3600)\n"
    failed(await attack(http, code), "timeout", "15 s")
    await carries_on(http)


async def test_a_gigabyte_of_print_is_cut_at_the_output_limit(http):
    code = """
    def main(input):
        for _ in range(1024):
            print("x" * (1 << 20))
    """
    started = asyncio.get_running_loop().time()
    result = await attack(http, code)
    failed(result, "output_limit", "64 KiB")
    assert asyncio.get_running_loop().time() - started < 10
    await carries_on(http)


@pytest.mark.parametrize(
    "call",
    [
        "libc.unshare(0x10000000)",  # a user namespace of its own
        "libc.unshare(0x40000000)",  # a network namespace
        "libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)",
        "libc.syscall(101, 16, 1, 0, 0)",  # ptrace(PTRACE_ATTACH, 1): bubblewrap's init
    ],
)
async def test_ctypes_reaches_nothing_the_sandbox_refuses(http, call):
    code = f"""
    import ctypes
    def main(input):
        libc = ctypes.CDLL(None, use_errno=True)
        if {call} != 0:
            raise OSError(ctypes.get_errno(), "refused")
        return "done"
    """
    failed(await attack(http, code), "code_error", "line 6: PermissionError: [Errno 1] refused")
    await carries_on(http)


async def test_there_is_no_shell_to_run(http):
    code = "import subprocess\ndef main(input):\n    subprocess.run(['sh', '-c', 'id'])\n"
    failed(await attack(http, code), "code_error", "FileNotFoundError", "'sh'")
    code = "import os\ndef main(input):\n    return os.waitstatus_to_exitcode(os.system('id'))\n"
    result = await attack(http, code)
    assert result["outputs"] == {"output": 127}  # the shell itself is not there
    await carries_on(http)


async def test_no_process_is_left_behind_after_the_node_ends(http):
    mark = f"{MARK}-{uuid.uuid4().hex}"
    code = f"""
    import os, subprocess, sys
    def main(input):
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "{mark}"],
                         start_new_session=True)
        if os.fork() == 0:  # a daemon, twice forked
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)",
                                          "{mark}"])
            os._exit(0)
        return "left"
    """
    result = await attack(http, code)
    assert result["outputs"] == {"output": "left"}
    await gone(mark)
    await carries_on(http)


async def test_nothing_one_run_leaves_is_seen_by_the_next(http):
    first = """
    import builtins, os, sys
    def main(input):
        open("/tmp/left", "w").write("secret of the first run")
        builtins.LEFT = "x"
        sys.modules["json"] = "poisoned"
        os.environ["LEFT"] = "x"
        return sorted(os.listdir("/tmp"))
    """
    second = """
    import builtins, os, sys
    def main(input):
        return [os.listdir("/tmp"), hasattr(builtins, "LEFT"), "LEFT" in os.environ,
                type(sys.modules.get("json")).__name__]
    """
    assert (await attack(http, first))["outputs"] == {"output": ["left"]}
    assert (await attack(http, second))["outputs"] == {"output": [[], False, False, "NoneType"]}
    await carries_on(http)


def test_a_server_killed_while_code_runs_leaves_no_code_running(tmp_path):
    mark = f"{MARK}-{uuid.uuid4().hex}"
    script = tmp_path / "host.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import asyncio
            from tav.nodes.code import CodeJob
            from tav.sandbox.config import SandboxConfig
            from tav.sandbox.runner import SandboxRunner
            CODE = '''
            import subprocess, sys, time
            def main(input):
                subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "{mark}"])
                print("started", flush=True)
                time.sleep(60)
            '''
            async def main():
                runner = SandboxRunner(SandboxConfig(warm=2))
                job = CodeJob(code=CODE, input=None, trigger=None, vars={{}}, nodes={{}})
                await runner.run(job, lambda text: print(text, end="", flush=True))
            asyncio.run(main())
            """
        )
    )
    host = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert host.stdout is not None
        assert host.stdout.readline() == "started\n"
        assert running(mark)
    finally:
        host.send_signal(signal.SIGKILL)
        host.wait()
        if host.stdout is not None:
            host.stdout.close()
    deadline = time.monotonic() + 5
    while running(mark):
        assert time.monotonic() < deadline, "code still running after its server was killed"
        time.sleep(0.05)


def running(mark: str) -> bool:
    """Whether a process of this machine has ``mark`` in its command line."""
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as file:
                    if mark.encode() in file.read():
                        return True
            except OSError:
                continue
    return False


async def gone(mark: str, within_s: float = 5) -> None:
    async with asyncio.timeout(within_s):
        while True:
            if not running(mark):
                return
            await asyncio.sleep(0.05)


UNPRIVILEGED_HOST = '''
import asyncio, json
from tav.nodes.code import CodeJob
from tav.sandbox.config import SandboxConfig
from tav.sandbox.runner import SandboxRunner
CODE = """
import ctypes, os
def main(input):
    wrote = {}
    for path in ["/x", "/dev/x", "/dev/shm/x", "/opt/x", "/tmp/x"]:
        try:
            open(path, "w").write("1")
            wrote[path] = True
        except OSError:
            wrote[path] = False
    libc = ctypes.CDLL(None, use_errno=True)
    children = 0
    try:
        while children < 40:
            if os.fork() == 0:
                import time; time.sleep(5); os._exit(0)
            children += 1
    except OSError:
        pass
    return {"uid": os.getuid(), "wrote": wrote, "unshare": libc.unshare(0x10000000),
            "children": children}
"""
async def main():
    runner = SandboxRunner(SandboxConfig(warm=0))
    job = CodeJob(code=CODE, input=None, trigger=None, vars={}, nodes={})
    print(json.dumps(await runner.run(job, lambda text: None)))
    await runner.aclose()
asyncio.run(main())
'''


@pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/usr/bin/setpriv"),
    reason="switches to an unprivileged user to host the sandbox (needs root and setpriv)",
)
def test_a_server_of_an_unprivileged_user_gets_the_same_sandbox():
    # The checkout's interpreter may sit where nobody can read it (/root): the system's
    # Python 3 of the same version runs the server's code instead.
    system = "/usr/bin/python3"
    version = subprocess.run(
        [system, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
    )
    if version.stdout.strip() != str(sys.version_info[:2]):
        pytest.skip("needs the system's Python 3 of this version")
    site = next(p for p in sys.path if p.endswith("site-packages"))
    source = str(Path(__file__).resolve().parents[2] / "src")
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env", "-i",
         "PATH=/usr/bin:/bin", f"PYTHONPATH={source}:{site}", system, "-c", UNPRIVILEGED_HOST],
        capture_output=True, text=True, timeout=120, cwd="/",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    value = json.loads(done.stdout)
    assert value["uid"] == 65534
    assert value["wrote"] == {
        "/x": False, "/dev/x": False, "/dev/shm/x": False, "/opt/x": False, "/tmp/x": True
    }  # fmt: skip
    assert value["unshare"] == -1
    assert value["children"] < 16  # the process limit holds
