"""Which data dir a command works on, said on stderr; a missing one is made only on request.

The data dir defaults to ``./.tav`` in the current directory, so a command run from
another directory than the server's would quietly make a second, empty one there (and
print, say, an API key that the running server does not know). ``tav serve`` and
``tav run`` make it when it is missing, and say so; the commands that manage what is in
it (``tav users``, ``tav api-keys``, ``tav credentials``, ``tav workflows``) name it and
refuse to start a new one unless ``--init`` asks them to.

With ``TAV_DATABASE_URL`` the database is elsewhere and is taken as given; the data dir
then holds only files and the key file.
"""

from __future__ import annotations

from pathlib import Path

import typer

from tav.cli.output import fail
from tav.settings import Settings

DATABASE_FILE = "tav.db"
INIT_HELP = "Create the data dir (TAV_DATA_DIR, default ./.tav) if there is none yet."


def exists(settings: Settings) -> bool:
    """Whether the data dir holds an installation (its database, with the default one)."""
    if settings.database_url is not None:
        return settings.data_dir.is_dir()
    return (settings.data_dir / DATABASE_FILE).is_file()


def open_data_dir(settings: Settings, *, init: bool = False, can_init: bool = True) -> Path:
    """The data dir's absolute path, named on stderr; a missing one ends the command with
    an explanation unless ``init``."""
    where = settings.data_dir.resolve()
    if exists(settings):
        typer.echo(f"data dir: {where}", err=True)
    elif init:
        typer.echo(f"data dir: {where} (new)", err=True)
    else:
        hint = "; or pass --init to create one there" if can_init else ""
        fail(
            f"no data dir at {where}: run the command where the server runs, or set "
            f"TAV_DATA_DIR to the server's data dir{hint}"
        )
    return where
