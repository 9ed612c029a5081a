"""``tav credentials rotate-key`` as a user runs it: a separate process on a tmp data dir."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from pathlib import Path

from tav.app.root import build
from tav.app.server import Server
from tav.credentials.keys import generate_key
from tav.settings import Settings

DATA = {"api_key": "sk-rotate-me-123456"}


def _tav(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "TAV_SECRET_KEY"}
    environment.update(TAV_DATA_DIR=str(data_dir), **env)
    return subprocess.run(
        [sys.executable, "-m", "tav", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def _store(settings: Settings) -> str:
    server = Server(build(settings))
    await server.start(resume=False, prune=False)
    try:
        return (await server.parts.credentials.create("main", "openai", DATA)).id
    finally:
        await server.stop(timeout_s=0)


async def _read(settings: Settings, credential_id: str) -> dict:
    server = Server(build(settings))
    await server.start(resume=False, prune=False)
    try:
        return await server.parts.credentials.data(credential_id)
    finally:
        await server.stop(timeout_s=0)


def test_rotate_key_with_the_key_file(tmp_path: Path):
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir, secret_key=None)
    credential_id = asyncio.run(_store(settings))
    key_file = data_dir / "secret.key"
    old = key_file.read_text()
    done = _tav(data_dir, "credentials", "rotate-key")
    assert done.returncode == 0, done.stderr
    assert "re-encrypted 1 credential" in done.stderr
    new = key_file.read_text()
    assert new != old
    assert len(new.split()) == 1
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert asyncio.run(_read(settings, credential_id)) == DATA


def test_rotate_key_with_tav_secret_key(tmp_path: Path):
    data_dir = tmp_path / "data"
    old, new = generate_key(), generate_key()
    credential_id = asyncio.run(_store(Settings(data_dir=data_dir, secret_key=old)))
    refused = _tav(data_dir, "credentials", "rotate-key", TAV_SECRET_KEY=old)
    assert refused.returncode != 0
    assert "--new-key" in refused.stderr
    done = _tav(data_dir, "credentials", "rotate-key", "--new-key", new, TAV_SECRET_KEY=old)
    assert done.returncode == 0, done.stderr
    assert f"TAV_SECRET_KEY={new}" in done.stderr
    assert not (data_dir / "secret.key").exists()
    assert asyncio.run(_read(Settings(data_dir=data_dir, secret_key=new), credential_id)) == DATA
