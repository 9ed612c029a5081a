"""``tav credentials``: key rotation, on the data dir (best while the server is stopped).

Rotation never leaves a credential without a key that opens it: with the key file, the new
key is first written in front of the old one (both decrypt), then every credential is
re-encrypted in one transaction, and only then is the old key dropped. With
``TAV_SECRET_KEY`` the command cannot change the variable: it re-encrypts with
``--new-key`` and tells the user to set it; until they do, setting
``TAV_SECRET_KEY=<new>,<old>`` reads both.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from tav.cli.output import fail

app = typer.Typer(help="Manage stored credentials.", no_args_is_help=True)


@app.command("rotate-key")
def rotate_key(
    new_key: Annotated[
        str | None,
        typer.Option(help="The new key (needed when TAV_SECRET_KEY is set); default: generated."),
    ] = None,
) -> None:
    """Generate a new encryption key and re-encrypt every credential with it."""
    from tav.cli.datadir import open_data_dir
    from tav.credentials import CredentialKeyError, CredentialService, KeySource, Vault
    from tav.credentials.keys import generate_key, to_fernet_key, write_key_file
    from tav.settings import Settings
    from tav.storage.credentials import CredentialRepository
    from tav.storage.db import Database

    settings = Settings()
    open_data_dir(settings, can_init=False)  # a new one would have nothing to rotate
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    source = KeySource(settings.data_dir, secret)
    if source.from_env and not new_key:
        fail(f"TAV_SECRET_KEY is set: pass the new key, e.g. --new-key {generate_key()}")
    new = new_key or generate_key()
    old = source.texts()
    if not source.from_env:
        write_key_file(source.path, [new, *old])  # both decrypt from here on

    async def reencrypt() -> int:
        db = Database(settings.resolved_database_url())
        try:
            await db.migrate()
            vault = Vault([to_fernet_key(key) for key in [new, *old]])
            return await CredentialService(CredentialRepository(db), vault).rotate(vault)
        finally:
            await db.close()

    try:
        count = asyncio.run(reencrypt())
    except CredentialKeyError as exc:
        fail(str(exc))
    if source.from_env:
        typer.echo(f"re-encrypted {count} credential(s); now set TAV_SECRET_KEY={new}", err=True)
        return
    write_key_file(source.path, [new])
    typer.echo(f"re-encrypted {count} credential(s); new key in {source.path}", err=True)
