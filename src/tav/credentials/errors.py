"""Errors of the credentials layer (user errors: the API answers 422 or 500)."""

from __future__ import annotations

from typing import Any

from tav.core.errors import TavError, UserError


class CredentialInvalid(UserError):
    """The kind is unknown or the data does not fit it; ``problems`` name the fields.

    Problems never carry the rejected values: they may be secrets."""

    def __init__(self, message: str, problems: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.problems = problems


class CredentialKeyError(TavError):
    """The stored credentials cannot be decrypted with the configured key(s)."""
