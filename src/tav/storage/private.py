"""The data dir is for the user running TAV Engine only.

It holds the database (every workflow, execution result and encrypted credential), the
key that decrypts those credentials and the stored files. So folders are made with mode
0700 and files with 0600, whatever the umask; and at start the database files and
``files/`` that an earlier version (or a copy) left open to other users are closed to
them, with a warning. The data dir itself is only warned about: it may be a folder the
administrator chose and shares on purpose (and what TAV keeps in it is closed anyway).

Rejected: setting the process's umask, which is process-wide and would change the modes
of whatever libraries and nodes write elsewhere.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

logger = logging.getLogger("tav.storage")
OPEN_TO_OTHERS = 0o077
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def make_private_dirs(path: Path) -> None:
    """Make ``path`` and its missing parents, each with mode 0700."""
    missing: list[Path] = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)


def private_database(path: Path) -> None:
    """Before SQLite opens ``path``: a new database file is made empty with mode 0600
    (SQLite gives its ``-wal`` and ``-shm`` files the database file's mode); existing
    ones are closed to other users."""
    make_private_dirs(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        for suffix in SQLITE_SUFFIXES:
            close_to_others(path.with_name(path.name + suffix))


def secure_data_dir(data_dir: Path) -> None:
    """At start: ``files/`` closed to other users; a warning when the data dir is open."""
    close_to_others(data_dir / "files")
    try:
        mode = stat.S_IMODE(data_dir.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & OPEN_TO_OTHERS:
        logger.warning(
            "the data dir %s can be opened by other users (mode %03o); what TAV Engine "
            "keeps in it is not, but `chmod 700 %s` closes it to them",
            data_dir,
            mode,
            data_dir,
        )


def close_to_others(path: Path) -> bool:
    """Take the group's and other users' access to ``path`` away (logged); False when it
    had none, or does not exist. A symbolic link is left alone."""
    try:
        status = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    mode = stat.S_IMODE(status.st_mode)
    if not mode & OPEN_TO_OTHERS or stat.S_ISLNK(status.st_mode):
        return False
    os.chmod(path, mode & ~OPEN_TO_OTHERS)
    logger.warning(
        "%s was open to other users (mode %03o); it is now %03o",
        path,
        mode,
        mode & ~OPEN_TO_OTHERS,
    )
    return True
