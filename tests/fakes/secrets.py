"""An in-memory ``SecretProvider``: credentials for tests that run nodes without a vault."""

from __future__ import annotations

from typing import Any

from tav.core.errors import NotFound
from tav.nodes.context import Credential

SECRET_FIELDS = ("api_key", "token", "password", "headers")


class MemorySecrets:
    """Credentials by id; revealing one makes its secret values redacted (``***``)."""

    def __init__(self) -> None:
        self.credentials: dict[str, Credential] = {}
        self.revealed: set[str] = set()

    def add(self, credential_id: str, kind: str, **data: Any) -> str:
        self.credentials[credential_id] = Credential(
            id=credential_id, name=credential_id, kind=kind, data=data
        )
        return credential_id

    async def reveal(self, credential_id: str) -> Credential:
        credential = self.credentials.get(credential_id)
        if credential is None:
            raise NotFound(f"no credential with id {credential_id!r}")
        for name in SECRET_FIELDS:
            value = credential.data.get(name)
            values = value.values() if isinstance(value, dict) else [value]
            self.revealed.update(v for v in values if isinstance(v, str) and v)
        return credential

    def redact(self, text: str) -> str:
        for secret in self.revealed:
            text = text.replace(secret, "***")
        return text
