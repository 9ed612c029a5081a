"""The data dir is for the user running TAV Engine only: the data dir and ``files/``'s
folders mode 0700; the database with its WAL and shared-memory files, the secret key and
stored files mode 0600 — whatever the umask; loose modes left by earlier versions are
tightened at start, with a warning."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tav.app.root import build
from tav.app.server import Server
from tav.settings import Settings
from tests.helpers import document, node


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """The usual umask (022), which leaves new files readable by everyone."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


async def test_a_new_data_dir_is_private(
    client: httpx.AsyncClient, server: Server, settings: Settings
) -> None:
    server.parts.keys.texts()  # the key file, made on first use
    uploaded = await client.post("/api/v1/files", files={"file": ("a.txt", b"private")})
    assert uploaded.status_code == 201, uploaded.text
    await server.parts.workflows.create(document(node("start", "trigger.manual")))
    data = settings.data_dir

    assert mode(data) == 0o700
    database = ["tav.db", "tav.db-wal", "tav.db-shm"]
    assert {name: mode(data / name) for name in database} == dict.fromkeys(database, 0o600)
    assert mode(data / "secret.key") == 0o600
    files = data / "files"
    folders = [files, *(p for p in files.rglob("*") if p.is_dir())]
    assert {mode(p) for p in folders} == {0o700}
    assert mode(files / "uploads" / uploaded.json()["id"]) == 0o600


def test_tav_run_makes_a_private_data_dir(tmp_path: Path) -> None:
    flow = tmp_path / "flow.json"
    flow.write_text('{"schema": 1, "name": "x", "nodes": [{"id": "s", "type": "trigger.manual"}]}')
    data = tmp_path / "deep" / "data"

    proc = subprocess.run(
        [sys.executable, "-m", "tav", "run", str(flow)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TAV_DATA_DIR": str(data)},
        check=False,
    )

    assert proc.returncode == 0, proc.stderr
    assert (mode(tmp_path / "deep"), mode(data), mode(data / "tav.db")) == (0o700, 0o700, 0o600)


async def test_loose_modes_are_tightened_at_start_with_a_warning(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    first = Server(build(settings))
    await first.start(prune=False)
    first.parts.keys.texts()
    await first.parts.files.add(b"x", name="a.txt", kind="upload")
    await first.stop(timeout_s=0)
    data = settings.data_dir
    for path in (data, data / "files"):
        path.chmod(0o755)
    for path in (data / "tav.db", data / "secret.key"):
        path.chmod(0o644)

    with caplog.at_level(logging.WARNING):
        second = Server(build(settings))
        await second.start(prune=False)
        second.parts.keys.texts()
        await second.stop(timeout_s=0)

    assert mode(data / "tav.db") == 0o600
    assert mode(data / "secret.key") == 0o600
    assert mode(data / "files") == 0o700
    assert mode(data) == 0o755  # the administrator's folder: warned about, left alone
    warned = caplog.text
    for name in ("tav.db was open", "secret.key was open", "files was open", "chmod 700"):
        assert name in warned, warned
