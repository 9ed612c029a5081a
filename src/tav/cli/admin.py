"""``tav users`` and ``tav api-keys``: work on the data dir, server running or not.

Each names the data dir it opens, and refuses a missing one (``tav.cli.datadir``):
``create-owner`` and ``api-keys create`` make one on ``--init`` (a member other than the
owner needs the owner first, so ``users create`` does not).

They act as this machine's administrator: whoever can run them on the data dir may do
anything the owner may, but break the team's rules (``tav.app.users``). A member disabled
here while a server runs cannot sign in at once and their sessions end at once; an API key
the server verified in the last 5 seconds works until then (``API_KEY_CACHE_TTL_S``), and
the server's open editor connections are not told: disable through the editor or the API
to end those at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from tav.cli.datadir import INIT_HELP
from tav.cli.output import fail

if TYPE_CHECKING:  # SQLAlchemy is imported when a command runs, not when the CLI starts
    from tav.app.users import Users
    from tav.storage.auth import AuthRepository, User

T = TypeVar("T")
MEMBER_ROLES = ("admin", "editor", "viewer")
users = typer.Typer(help="Manage the team: the owner and members.", no_args_is_help=True)
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


def _with_users(action: Callable[[Users], Awaitable[T]]) -> T:
    """``action`` on the data dir's team (``tav.app.users.Users``, as the server has it)."""
    from tav.app.users import Users
    from tav.storage.invites import InviteRepository
    from tav.storage.users import UserRepository

    def team(auth: AuthRepository) -> Awaitable[T]:
        return action(Users(UserRepository(auth.db, auth), InviteRepository(auth.db), auth))

    return _with_auth(team)


def _run(action: Callable[[Users], Awaitable[T]]) -> T:
    """``_with_users``, with the team's refusals said on stderr (exit status 1)."""
    from tav.core.errors import UserError

    try:
        return _with_users(action)
    except UserError as exc:
        fail(str(exc))


@users.command("create")
def create_member(
    email: Annotated[str, typer.Option(help="The member's email, used to sign in.")],
    role: Annotated[
        str, typer.Option(help="admin, editor or viewer (docs/guide/team.md says what each may).")
    ],
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, help="At least 8 characters.")
    ],
) -> None:
    """Create a member of the team with a password (the owner must exist)."""
    from tav.core.roles import Role

    if role not in MEMBER_ROLES:
        fail(f"--role must be one of {', '.join(MEMBER_ROLES)}, not {role!r}")
    user = _run(lambda team: team.create(email, password, Role(role)))
    typer.echo(f"{user.role} {user.email} created", err=True)


@users.command("list")
def list_members() -> None:
    """List the team: id, role, state and email of each member."""
    for user in _with_users(lambda team: team.all()):
        typer.echo(_member_line(user))


@users.command("disable")
def disable_member(
    user: Annotated[str, typer.Argument(help="The member's email or id.")],
) -> None:
    """Disable a member: they cannot sign in, and their sessions and API keys end."""

    async def disable(team: Users) -> User:
        return await team.disable((await _find(team, user)).id)

    typer.echo(_member_line(_run(disable)), err=True)


@users.command("enable")
def enable_member(
    user: Annotated[str, typer.Argument(help="The member's email or id.")],
) -> None:
    """Let a disabled member sign in again (their old sessions and keys stay revoked)."""

    async def enable(team: Users) -> User:
        return await team.enable((await _find(team, user)).id)

    typer.echo(_member_line(_run(enable)), err=True)


async def _find(team: Users, email_or_id: str) -> User:
    from tav.core.errors import NotFound

    wanted = email_or_id.strip().lower()
    for user in await team.all():
        if wanted in (user.id, user.email):
            return user
    raise NotFound(f"no member with the email or id {email_or_id!r}")


def _member_line(user: User) -> str:
    state = "disabled" if user.disabled else "active  "
    return f"{user.id}  {user.role:<6}  {state}  {user.email}"


@api_keys.command("create")
def create_key(
    name: Annotated[str, typer.Option(help="What the key is for.")],
    user: Annotated[
        str | None,
        typer.Option(help="The member (email or id) whose key it is, acting with their role."),
    ] = None,
    init: Annotated[bool, typer.Option("--init", help=INIT_HELP)] = False,
) -> None:
    """Create an API key (the owner's, unless --user names another member) and print it
    once on stdout (only its hash is stored)."""

    async def create(auth: AuthRepository) -> str:
        from tav.storage.users import UserRepository

        user_id = None
        if user is not None:
            found = await UserRepository(auth.db, auth).by_email(user)
            found = found or await UserRepository(auth.db, auth).get(user)
            if found is None:
                fail(f"no member with the email or id {user!r}")
            user_id = found.id
        try:
            _, secret = await auth.create_api_key(name, user_id)
        except ValueError as exc:
            fail(str(exc))
        return secret

    typer.echo(_with_auth(create, init=init))


@api_keys.command("list")
def list_keys() -> None:
    """List API keys (names and prefixes; the secrets are not stored) and whose they are."""
    for key in _with_auth(lambda auth: auth.api_keys()):
        used = key.last_used_at.isoformat() if key.last_used_at else "never"
        whose = f"{key.user_email} ({key.role})" if key.user_email else f"nobody yet ({key.role})"
        typer.echo(f"{key.id}  {key.prefix}…  {key.name}  last used: {used}  user: {whose}")


@api_keys.command("delete")
def delete_key(key_id: str) -> None:
    """Revoke an API key."""
    if not _with_auth(lambda auth: auth.delete_api_key(key_id)):
        fail(f"no API key with id {key_id!r}")
