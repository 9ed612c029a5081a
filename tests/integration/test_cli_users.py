"""``tav users`` and ``tav api-keys`` for a team, run as processes on a data dir; what they
make is then used over HTTP by a server on the same data dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tav.api.app import create_app
from tav.app.root import build
from tav.app.server import Server
from tav.settings import Settings
from tests.helpers import document, node

PASSWORD = "long enough"


def tav(cwd: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TAV_")}
    return subprocess.run(
        [sys.executable, "-m", "tav", *args],
        cwd=cwd,
        env=environment,
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture
def team_dir(tmp_path: Path) -> Path:
    """A data dir (``./.tav``) with an owner, an editor and a viewer made by the CLI."""
    ok(tav(tmp_path, "users", "create-owner", "--init", "--email", "o@example.com",
           "--password", PASSWORD))  # fmt: skip
    editor = ("users", "create", "--email", "Ed@Example.com", "--role", "editor")
    ok(tav(tmp_path, *editor, input=f"{PASSWORD}\n"))  # the password asked for, not shown
    ok(tav(tmp_path, "users", "create", "--email", "v@example.com", "--role", "viewer",
           "--password", PASSWORD))  # fmt: skip
    return tmp_path


async def as_key(data_dir: Path, key: str, method: str, path: str, **kwargs: object) -> int:
    """The status a server on ``data_dir`` answers the request made with ``key``."""
    settings = Settings(data_dir=data_dir, retention_max_age_days=None, retention_max_count=None)
    server = Server(build(settings))
    await server.start(prune=False)
    try:
        transport = httpx.ASGITransport(app=create_app(settings, server=server))
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://localhost", headers=headers
        ) as client:
            return (await client.request(method, path, **kwargs)).status_code  # type: ignore[arg-type]
    finally:
        await server.stop(timeout_s=0)


def test_users_create_and_list_the_team(team_dir: Path) -> None:
    listed = ok(tav(team_dir, "users", "list"))
    lines = listed.stdout.splitlines()
    assert [line.split()[1:] for line in lines] == [
        ["owner", "active", "o@example.com"],
        ["editor", "active", "ed@example.com"],
        ["viewer", "active", "v@example.com"],
    ]
    assert PASSWORD not in listed.stdout + listed.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--email", "x@example.com", "--role", "owner"), "--role must be one of"),
        (("--email", "x@example.com", "--role", "boss"), "--role must be one of"),
        (("--email", "v@example.com", "--role", "editor"), "already a user"),
        (("--email", "x@example.com", "--role", "viewer", "--password", "short"), "8 characters"),
    ],
)
def test_users_create_refuses_what_it_cannot_make(
    team_dir: Path, args: tuple[str, ...], message: str
) -> None:
    if "--password" not in args:
        args = (*args, "--password", PASSWORD)
    done = tav(team_dir, "users", "create", *args)
    assert done.returncode == 2
    assert message in done.stderr


def test_a_member_needs_the_owner_first(tmp_path: Path) -> None:
    ok(tav(tmp_path, "api-keys", "create", "--name", "k", "--init"))
    done = tav(tmp_path, "users", "create", "--email", "e@example.com", "--role", "editor",
               "--password", PASSWORD)  # fmt: skip
    assert done.returncode == 2
    assert "no owner account yet" in done.stderr


async def test_a_members_key_acts_with_their_role_until_they_are_disabled(team_dir: Path) -> None:
    data_dir = team_dir / ".tav"
    viewer_key = ok(
        tav(team_dir, "api-keys", "create", "--name", "dash", "--user", "v@example.com")
    )
    editor_key = ok(tav(team_dir, "api-keys", "create", "--name", "ci", "--user", "ed@example.com"))
    owner_key = ok(tav(team_dir, "api-keys", "create", "--name", "mine"))
    listed = ok(tav(team_dir, "api-keys", "list")).stdout
    assert "dash  last used: never  user: v@example.com (viewer)" in listed
    assert "ci  last used: never  user: ed@example.com (editor)" in listed
    assert "mine  last used: never  user: o@example.com (owner)" in listed

    flow = document(node("start", "trigger.manual"), name="made by a key")
    viewer, editor = viewer_key.stdout.strip(), editor_key.stdout.strip()
    assert await as_key(data_dir, viewer, "POST", "/api/v1/workflows", json=flow) == 403
    assert await as_key(data_dir, editor, "POST", "/api/v1/workflows", json=flow) == 201
    assert await as_key(data_dir, owner_key.stdout.strip(), "GET", "/api/v1/users") == 200

    disabled = ok(tav(team_dir, "users", "disable", "ED@example.com"))
    assert "disabled  ed@example.com" in disabled.stderr
    assert await as_key(data_dir, editor, "GET", "/api/v1/workflows") == 401
    assert "user: ed@example.com" not in ok(tav(team_dir, "api-keys", "list")).stdout
    assert "editor  disabled  ed@example.com" in ok(tav(team_dir, "users", "list")).stdout
    enabled = ok(tav(team_dir, "users", "enable", "ed@example.com"))
    assert "editor  active    ed@example.com" in enabled.stderr


def test_the_owner_cannot_be_disabled_nor_a_stranger(team_dir: Path) -> None:
    owner = tav(team_dir, "users", "disable", "o@example.com")
    assert owner.returncode == 2
    assert "the owner cannot be disabled" in owner.stderr
    stranger = tav(team_dir, "users", "disable", "who@example.com")
    assert stranger.returncode == 2
    assert "no member with the email or id 'who@example.com'" in stranger.stderr
    nobody = tav(team_dir, "api-keys", "create", "--name", "k", "--user", "who@example.com")
    assert nobody.returncode == 2
    assert nobody.stdout == ""


@pytest.mark.parametrize(
    "command",
    [("users", "list"), ("users", "disable", "a@example.com"),
     ("users", "create", "--email", "a@example.com", "--role", "viewer", "--password", PASSWORD)],
)  # fmt: skip
def test_users_commands_refuse_a_missing_data_dir(tmp_path: Path, command: tuple[str, ...]) -> None:
    done = tav(tmp_path, *command)
    assert done.returncode == 2
    assert f"no data dir at {tmp_path / '.tav'}" in done.stderr
    assert not (tmp_path / ".tav").exists()
