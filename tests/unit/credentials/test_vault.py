"""Encryption, keys, rotation and redaction of credentials."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tav.credentials import CredentialKeyError, KeySource, Vault
from tav.credentials.keys import generate_key, to_fernet_key, write_key_file
from tav.credentials.kinds import secret_fields, secret_values


def test_encrypt_then_decrypt():
    vault = Vault([to_fernet_key(generate_key())])
    token = vault.encrypt({"api_key": "sk-123456"})
    assert b"sk-123456" not in token
    assert vault.decrypt(token) == {"api_key": "sk-123456"}


def test_a_wrong_key_cannot_decrypt():
    token = Vault([to_fernet_key(generate_key())]).encrypt({"a": "b"})
    with pytest.raises(CredentialKeyError):
        Vault([to_fernet_key(generate_key())]).decrypt(token)


def test_rotation_reencrypts_with_the_newest_key():
    old, new = to_fernet_key(generate_key()), to_fernet_key(generate_key())
    token = Vault([old]).encrypt({"token": "t0ken"})
    rotated = Vault([new, old]).rotate(token)
    assert Vault([new]).decrypt(rotated) == {"token": "t0ken"}
    with pytest.raises(CredentialKeyError):
        Vault([old]).decrypt(rotated)


def test_the_key_file_is_created_once_with_mode_0600(tmp_path: Path):
    source = KeySource(tmp_path / "data")
    keys = source.keys()
    assert len(keys) == 1
    assert stat.S_IMODE(source.path.stat().st_mode) == 0o600
    assert KeySource(tmp_path / "data").keys() == keys


def test_a_rewritten_key_file_is_picked_up(tmp_path: Path):
    source = KeySource(tmp_path)
    vault = Vault(source.keys)
    token = vault.encrypt({"x": "secret-value"})
    new = generate_key()
    write_key_file(source.path, [new, *source.texts()])
    assert stat.S_IMODE(source.path.stat().st_mode) == 0o600
    assert source.texts()[0] == new
    assert Vault([to_fernet_key(new)]).decrypt(vault.rotate(token)) == {"x": "secret-value"}


def test_secret_key_from_the_environment_wins(tmp_path: Path):
    key = generate_key()
    source = KeySource(tmp_path, f"{key}, {generate_key()}")
    assert source.from_env
    assert len(source.keys()) == 2
    assert source.keys()[0] == key.encode()
    assert not source.path.exists()
    assert len(KeySource(tmp_path, "a passphrase, not a key").keys()[0]) == 44


def test_redact_replaces_known_secrets():
    vault = Vault([to_fernet_key(generate_key())])
    assert vault.redact("nothing known") == "nothing known"
    vault.remember(["sk-abcdef", "sk-abcdef-longer", "ab"])
    assert vault.redact("a sk-abcdef-longer b sk-abcdef c ab") == "a *** b *** c ab"


def test_secret_values_of_a_kind():
    assert secret_fields("smtp") == {"password"}
    data = {"base_url": "http://x", "headers": {"Authorization": "Bearer zzz-1"}}
    assert secret_values("ollama", data) == ["Bearer zzz-1"]
