"""The program a sandboxed interpreter runs: one job, then it exits.

It runs inside the sandbox (``python -I -S -B entry.py``), so it imports the standard
library only, never ``tav``. Started ahead of need, it makes itself ready (drops to the
unprivileged user where it starts as the namespace's root, imports what every job needs)
and says so; then it reads one job from stdin, sets the job's limits, runs the author's
``main(input)`` and writes the outcome to fd 3, and exits at once (``os._exit``: no
``atexit`` handler or thread of the author's code runs after it).

Frames, both ways: a 4-byte big-endian length, then that many bytes: JSON to the host
(which never trusts them), ``marshal`` from it (the host's own data).

- to the host (``--fd``): ``{"ready": true}``; ``{"log": text}``; ``{"node": id}`` (asks
  for a node's outputs); ``{"result": value, "cpu_s": s}``; ``{"error": {"kind", "type",
  "message", "line"}}``.
- from the host (stdin): the job ``{"code", "input", "trigger", "vars", "node_ids",
  "limits"}``; ``{"value": outputs}`` or ``{"missing": true}`` answering a ``node`` frame.

What ``print`` writes (``sys.stdout``, ``sys.stderr``) goes to the host as ``{"log": text}``
frames, the node's log; what is written to file descriptors 1 and 2 goes there too, through
a pipe.

Its imports are what an interpreter has loaded anyway or close to it: ``json`` (which
imports ``re``) and ``typing`` would double the CPU a sandbox takes to start.
"""

from __future__ import annotations

import _json
import builtins
import io
import marshal
import os
import resource
import sys
import time
from _collections_abc import Mapping  # (collections.abc would import collections)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, NoReturn

SOURCE = "<code>"
"""The file name the author's code is compiled under: its frames in a traceback."""
SITE = "/opt/tav/site"
"""Where the packages the server allows are, inside the sandbox."""

_IN = 0
_OUT = int(sys.argv[sys.argv.index("--fd") + 1]) if "--fd" in sys.argv else 3
"""The channel to the host (``--fd``): results, errors and requests."""


def _read_exact(fd: int, size: int) -> bytes:
    parts = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            raise EOFError
        parts.append(chunk)
        size -= len(chunk)
    return b"".join(parts)


def read_frame(fd: int = _IN) -> Any:
    size = int.from_bytes(_read_exact(fd, 4), "big")
    return marshal.loads(_read_exact(fd, size))


def _not_json(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON data")


def to_json(value: Any) -> str:
    """``json.dumps(value, allow_nan=False)``, by the C encoder ``json`` uses: ASCII, so
    that a lone surrogate travels as ``\\udXXX`` (and the host refuses to store it)."""
    encode = _json.make_encoder(
        {}, _not_json, _json.encode_basestring_ascii, None, ":", ",", False, False, False
    )
    return "".join(encode(value, 0))


def write_frame(message: Any, fd: int = _OUT) -> None:
    data = to_json(message).encode("ascii")
    data = len(data).to_bytes(4, "big") + data
    while data:
        data = data[os.write(fd, data) :]


class Nodes(Mapping):  # type: ignore[type-arg]
    """``nodes``: the outputs of the execution's settled nodes by id, as templates see
    them; each is asked of the host the first time it is read."""

    def __init__(self, ids: list[str]) -> None:
        self._ids = list(ids)
        self._known: dict[str, Any] = {}

    def __getitem__(self, node_id: str) -> Any:
        if node_id in self._known:
            return self._known[node_id]
        if node_id not in self._ids:
            raise KeyError(node_id)
        write_frame({"node": node_id})
        answer = read_frame()
        if "value" not in answer:
            raise KeyError(node_id)
        self._known[node_id] = answer["value"]
        return answer["value"]

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __repr__(self) -> str:
        return f"<nodes {self._ids!r}>"


class Printed(io.TextIOBase):
    """``sys.stdout`` and ``sys.stderr``: what the code prints, to the host as ``log``
    frames, in order with the result that follows: a line as it ends, but lines that
    follow within ``COALESCE_S`` together (or 8 KiB at a time), so that a loop of prints
    does not send a frame each. (What is written to file descriptors 1 and 2 themselves,
    by a child process say, goes through a pipe of its own.)"""

    COALESCE_S = 0.02

    encoding = "utf-8"
    errors = "strict"

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[str] = []
        self._size = 0
        self._sent = 0.0
        self.buffer = io.FileIO(1, "w", closefd=False)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return 1

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._parts.append(text)
        self._size += len(text)
        if self._size >= 8192 or (
            "\n" in text and time.monotonic() - self._sent >= self.COALESCE_S
        ):
            self.flush()
        return len(text)

    def flush(self) -> None:
        if self._parts:
            text = "".join(self._parts)
            self._parts, self._size, self._sent = [], 0, time.monotonic()
            for start in range(0, len(text), 65536):
                write_frame({"log": text[start : start + 65536]})


def drop_privileges(uid: int) -> None:
    """Become ``uid`` for good, losing every capability, when started as the user
    namespace's root (a server running as root maps root and ``uid`` only)."""
    if os.getuid() != 0:
        return
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def set_limits(limits: Mapping[str, int]) -> None:
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = int(used.ru_utime + used.ru_stime) + 1 + int(limits["cpu_s"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["tmp_bytes"], limits["tmp_bytes"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def fail(kind: str, exc: BaseException | None, message: str, line: int | None = None) -> NoReturn:
    error = {"kind": kind, "message": message, "line": line}
    if exc is not None:
        error["type"] = type(exc).__name__
    finish({"error": error})


def finish(message: dict[str, Any]) -> NoReturn:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or broken by the author's code
            continue
    used = resource.getrusage(resource.RUSAGE_SELF)
    message["cpu_s"] = round(used.ru_utime + used.ru_stime, 3)
    try:
        write_frame(message)
    except (TypeError, ValueError, RecursionError) as exc:
        problem = f"main returned a value that is not JSON data: {exc}"
        write_frame({"error": {"kind": "result", "message": problem, "line": None}})
    except MemoryError:
        problem = "the code ran out of memory"
        write_frame({"error": {"kind": "memory", "message": problem, "line": None}})
    os._exit(0)


def author_line(exc: BaseException) -> int | None:
    """The line of the author's code the exception was raised from (the innermost)."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == SOURCE:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def print_traceback(exc: BaseException, source: str) -> None:
    """The traceback of the author's frames only, to the node's log."""
    import linecache
    import traceback

    lines = source.splitlines(keepends=True)
    linecache.cache[SOURCE] = (len(source), None, lines, SOURCE)
    summary = traceback.extract_tb(exc.__traceback__)
    own = traceback.StackSummary.from_list([f for f in summary if f.filename == SOURCE])
    text = "Traceback (most recent call last):\n" + "".join(own.format())
    text += "".join(traceback.format_exception_only(type(exc), exc))
    sys.stderr.write(text)


def run(job: dict[str, Any]) -> NoReturn:
    source = job["code"]
    try:
        code = compile(source, SOURCE, "exec", dont_inherit=True)
    except SyntaxError as exc:
        fail("syntax", exc, f"{exc.msg}", exc.lineno)
    except (ValueError, MemoryError) as exc:
        fail("syntax", exc, str(exc))
    scope: dict[str, Any] = {
        "__name__": "tav_code",
        "__builtins__": builtins,
        "trigger": job["trigger"],
        "vars": job["vars"],
        "nodes": Nodes(job["node_ids"]),
    }
    try:
        exec(code, scope)
        main = scope.get("main")
        if not callable(main):
            fail("invalid", None, "the code must define a function main(input)")
        result = main(job["input"])
        if hasattr(result, "__await__"):
            import asyncio

            result = asyncio.run(_awaited(result))
    except MemoryError as exc:
        fail("memory", exc, "the code ran out of memory", author_line(exc))
    except BaseException as exc:
        print_traceback(exc, source)
        fail("exception", exc, _describe(exc), author_line(exc))
    finish({"result": result})


async def _awaited(value: Any) -> Any:
    return await value


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _warm_up() -> None:
    """Use once what every job uses, so that its first use is not on a job's path: the
    compiler, the JSON codec, ``getrusage``."""
    scope: dict[str, Any] = {}
    exec(compile("def main(input):\n    return input\n", SOURCE, "exec"), scope)
    to_json(scope["main"]({"a": [1, 2.5, "b", None, True]}))
    resource.getrusage(resource.RUSAGE_SELF)


def main() -> None:
    drop_to = int(sys.argv[sys.argv.index("--drop") + 1]) if "--drop" in sys.argv else None
    if drop_to is not None:
        drop_privileges(drop_to)
    if os.path.isdir(SITE):
        sys.path.append(SITE)
    sys.stdout = sys.stderr = Printed()
    _warm_up()
    write_frame({"ready": True})
    try:
        job = read_frame()
    except EOFError:
        os._exit(0)  # the host closed the sandbox without a job
    set_limits(job["limits"])
    run(job)


if __name__ == "__main__":
    main()
