"""The base of typed credential kinds: a Pydantic model whose secret fields are marked.

Here, below every package that defines a kind: ``tav.credentials.kinds`` (the vault's
kinds) and ``tav.ai.providers`` (each LLM provider's credential, in its record).

Secret fields are plain ``str`` marked in their JSON Schema rather than ``SecretStr``:
the vault needs the real values to encrypt them, and ``SecretStr`` masks them on dump.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field
from pydantic.config import JsonDict

from tav.core.model import Model

SECRET: JsonDict = {"secret": True, "writeOnly": True}


def secret(description: str, *, required: bool = True) -> Any:
    """A secret field: never shown again once written, redacted from logs and events."""
    if required:
        return Field(min_length=1, description=description, json_schema_extra=SECRET)
    return Field(None, min_length=1, description=description, json_schema_extra=SECRET)


class Kind(Model):
    """One kind of credential: its fields, unknown ones refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)
