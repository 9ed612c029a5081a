"""Commands name the data dir they work on (its absolute path), and those that manage what
is in it refuse to start a new one unless ``--init`` asks; ``tav run`` makes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello.json"


def tav(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``tav`` run from ``cwd`` as a user runs it: the data dir is the default ``./.tav``
    unless ``env`` says otherwise."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TAV_")}
    return subprocess.run(
        [sys.executable, "-m", "tav", *args],
        cwd=cwd,
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "command",
    [
        ("api-keys", "create", "--name", "k"),
        ("api-keys", "list"),
        ("api-keys", "delete", "0" * 32),
        ("users", "create-owner", "--email", "a@example.com", "--password", "long enough"),
        ("workflows", "list"),
        ("workflows", "activate", "0" * 32),
        ("credentials", "rotate-key"),
    ],
)
def test_a_command_refuses_to_start_a_new_data_dir(tmp_path: Path, command: tuple[str, ...]):
    done = tav(tmp_path, *command)
    assert done.returncode == 2, done.stderr
    assert f"no data dir at {tmp_path / '.tav'}" in done.stderr
    assert "TAV_DATA_DIR" in done.stderr
    assert done.stdout == ""
    assert not (tmp_path / ".tav").exists()


def test_init_creates_it_and_every_command_names_it(tmp_path: Path):
    created = tav(tmp_path, "api-keys", "create", "--name", "k", "--init")
    assert created.returncode == 0, created.stderr
    data_dir = tmp_path / ".tav"
    assert f"data dir: {data_dir} (new)" in created.stderr
    assert (data_dir / "tav.db").is_file()
    assert created.stdout.strip()  # the key, alone on stdout
    assert len(created.stdout.split()) == 1

    listed = tav(tmp_path, "api-keys", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr.splitlines()[0] == f"data dir: {data_dir}"
    assert "k  last used: never" in listed.stdout
    assert tav(tmp_path, "workflows", "list").stderr.startswith(f"data dir: {data_dir}\n")


def test_tav_data_dir_is_named_absolute(tmp_path: Path):
    (tmp_path / "elsewhere").mkdir()
    assert (
        tav(tmp_path, "api-keys", "create", "--name", "k", "--init", TAV_DATA_DIR="d").returncode
        == 0
    )
    from_elsewhere = tav(tmp_path / "elsewhere", "api-keys", "list", TAV_DATA_DIR="d")
    assert from_elsewhere.returncode == 2
    assert f"no data dir at {tmp_path / 'elsewhere' / 'd'}" in from_elsewhere.stderr
    here = tav(tmp_path, "api-keys", "list", TAV_DATA_DIR="d")
    assert here.returncode == 0, here.stderr
    assert f"data dir: {tmp_path / 'd'}" in here.stderr


def test_tav_run_creates_the_data_dir_and_says_which(tmp_path: Path):
    first = tav(tmp_path, "run", str(EXAMPLE), "--input", '{"name": "Ada"}')
    assert first.returncode == 0, first.stderr
    data_dir = tmp_path / ".tav"
    assert (data_dir / "tav.db").is_file()
    assert f"in {data_dir} (a new data dir)" in first.stderr
    again = tav(tmp_path, "run", str(EXAMPLE), "--input", '{"name": "Ada"}', "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["status"] == "succeeded"
    assert "new data dir" not in again.stderr
    summary = tav(tmp_path, "run", str(EXAMPLE), "--input", '{"name": "Ada"}')
    assert f"in {data_dir}\n" in summary.stderr
