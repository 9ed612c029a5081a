"""Where the encryption keys come from: ``TAV_SECRET_KEY`` or ``<data_dir>/secret.key``.

Either holds one key or several (comma-separated in the variable, one a line in the file),
newest first: the first encrypts, all of them decrypt (``MultiFernet``). Rotation relies on
that: it writes the new key *in front of* the old one, re-encrypts, and only then drops
the old key, so a crash at any step leaves every credential readable.

The key file is created on first use with mode 0600 (``O_EXCL``, so two processes starting
at once agree on one key), in a data dir made with mode 0700, and re-read when it changes,
so a server picks up a rotation made by ``tav credentials rotate-key`` without a restart.
A key file found open to other users is closed to them when it is read, with a warning.

A ``TAV_SECRET_KEY`` that is not a Fernet key (32 url-safe base64 bytes) is taken as a
passphrase and stretched with SHA-256; a generated Fernet key is better.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import stat
from pathlib import Path

logger = logging.getLogger("tav.credentials")
KEY_FILE = "secret.key"


def generate_key() -> str:
    """A new Fernet key: 32 random bytes, url-safe base64 (what ``Fernet.generate_key``
    makes; not importing ``cryptography`` for it keeps it out of a server's start)."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def to_fernet_key(text: str) -> bytes:
    """A Fernet key as is; anything else (a passphrase) through SHA-256."""
    raw = text.strip().encode()
    try:
        if len(base64.urlsafe_b64decode(raw)) == 32:
            return raw
    except (binascii.Error, ValueError):
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest())


def parse_keys(text: str, separator: str) -> list[str]:
    return [part.strip() for part in text.split(separator) if part.strip()]


def write_key_file(path: Path, keys: list[str]) -> None:
    """Replace the key file atomically (temporary file, fsync, rename), mode 0600."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write("".join(f"{key}\n" for key in keys))
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_key_file(path: Path) -> None:
    """Create the key file with a new key unless it exists (mode 0600)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as file:
        file.write(f"{generate_key()}\n")
        file.flush()
        os.fsync(file.fileno())


class KeySource:
    """The keys, newest first: from ``secret_key`` (``TAV_SECRET_KEY``) when it is set,
    else from the key file in ``data_dir`` (created on first use)."""

    def __init__(self, data_dir: Path, secret_key: str | None = None) -> None:
        self.path = data_dir / KEY_FILE
        self.env_keys = parse_keys(secret_key, ",") if secret_key else None
        self._cached: tuple[int, list[str]] | None = None

    @property
    def from_env(self) -> bool:
        return self.env_keys is not None

    def keys(self) -> list[bytes]:
        return [to_fernet_key(key) for key in self.texts()]

    def texts(self) -> list[str]:
        if self.env_keys is not None:
            return list(self.env_keys)
        if not self.path.exists():
            create_key_file(self.path)
        stamp = self.path.stat().st_mtime_ns
        if self._cached is None or self._cached[0] != stamp:
            _close_to_others(self.path)
            keys = parse_keys(self.path.read_text(), "\n")
            if not keys:
                raise ValueError(f"the key file {self.path} holds no key")
            self._cached = (stamp, keys)
        return list(self._cached[1])


def _close_to_others(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        path.chmod(mode & 0o700)
        logger.warning(
            "the key file %s was open to other users (mode %03o); now %03o",
            path,
            mode,
            mode & 0o700,
        )
