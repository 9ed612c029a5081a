"""``tav users`` and ``tav api-keys``: work on the data dir, server running or not.

Each names the data dir it opens, and refuses a missing one (``tav.cli.datadir``): the
create commands make one on ``--init``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from tav.cli.datadir import INIT_HELP
from tav.cli.output import fail

if TYPE_CHECKING:  # SQLAlchemy is imported when a command runs, not when the CLI starts
    from tav.storage.auth import AuthRepository

T = TypeVar("T")
users = typer.Typer(help="Manage the owner account.", no_args_is_help=True)
api_keys = typer.Typer(help="Manage API keys for scripts.", no_args_is_help=True)


def _with_auth(action: Callable[[AuthRepository], Awaitable[T]], *, init: bool | None = None) -> T:
    """``action`` on the data dir's accounts; ``init`` (``None``: no such option) makes a
    missing data dir."""
    from tav.cli.datadir import open_data_dir
    from tav.settings import Settings
    from tav.storage.auth import SETUP_TOKEN_FILE, AuthRepository, SetupToken
    from tav.storage.db import Database

    settings = Settings()
    open_data_dir(settings, init=bool(init), can_init=init is not None)

    async def run() -> T:
        db = Database(settings.resolved_database_url())
        token = SetupToken(settings.data_dir / SETUP_TOKEN_FILE)
        try:
            await db.migrate()
            return await action(AuthRepository(db, setup_token=token))
        finally:
            await db.close()

    return asyncio.run(run())


@users.command("create-owner")
def create_owner(
    email: Annotated[str, typer.Option(help="The owner's email, used to sign in.")],
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, help="At least 8 characters.")
    ],
    init: Annotated[bool, typer.Option("--init", help=INIT_HELP)] = False,
) -> None:
    """Create the owner account (there is one per installation)."""
    if len(password) < 8:
        fail("the password needs at least 8 characters")
    try:
        user = _with_auth(lambda auth: auth.create_owner(email, password), init=init)
    except ValueError as exc:
        fail(str(exc))
    typer.echo(f"owner {user.email} created", err=True)


@api_keys.command("create")
def create_key(
    name: Annotated[str, typer.Option(help="What the key is for.")],
    init: Annotated[bool, typer.Option("--init", help=INIT_HELP)] = False,
) -> None:
    """Create an API key and print it once on stdout (only its hash is stored)."""
    _, secret = _with_auth(lambda auth: auth.create_api_key(name), init=init)
    typer.echo(secret)


@api_keys.command("list")
def list_keys() -> None:
    """List API keys (names and prefixes; the secrets are not stored)."""
    for key in _with_auth(lambda auth: auth.api_keys()):
        used = key.last_used_at.isoformat() if key.last_used_at else "never"
        typer.echo(f"{key.id}  {key.prefix}…  {key.name}  last used: {used}")


@api_keys.command("delete")
def delete_key(key_id: str) -> None:
    """Revoke an API key."""
    if not _with_auth(lambda auth: auth.delete_api_key(key_id)):
        fail(f"no API key with id {key_id!r}")
