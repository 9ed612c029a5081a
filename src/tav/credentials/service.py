"""The credentials a user stores: validated by kind, encrypted, never shown again.

Reads give the kind, the name and which fields are set; the data itself leaves the service
only through ``data(id)``, for the node that uses the credential while it runs. Whatever
the vault reads or writes, it learns what to redact (``redaction.to_redact``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from tav.core.errors import NodeError, NotFound
from tav.credentials.errors import CredentialInvalid, CredentialKeyError
from tav.credentials.kinds import KINDS
from tav.credentials.ports import CredentialRecord, CredentialStore
from tav.credentials.redaction import to_redact
from tav.credentials.vault import Vault
from tav.nodes.context import Credential


class CredentialService:
    def __init__(self, store: CredentialStore, vault: Vault) -> None:
        self.store = store
        self.vault = vault

    async def create(self, name: str, kind: str, data: dict[str, Any]) -> CredentialRecord:
        clean = validate(kind, data)
        self.vault.remember(to_redact(kind, clean))
        return await self.store.create(name, kind, self.vault.encrypt(clean), sorted(clean))

    async def all(self) -> Sequence[CredentialRecord]:
        return await self.store.all()

    async def get(self, credential_id: str) -> CredentialRecord:
        record = await self.store.get(credential_id)
        if record is None:
            raise NotFound(f"no credential with id {credential_id!r}")
        return record

    async def update(
        self, credential_id: str, *, name: str | None = None, data: dict[str, Any] | None = None
    ) -> CredentialRecord:
        """Rename and/or change fields; fields ``data`` leaves out keep their values
        (``null`` clears an optional one)."""
        record = await self.get(credential_id)
        ciphertext, fields = record.ciphertext, record.fields
        if data is not None:
            clean = validate(record.kind, {**self.vault.decrypt(record.ciphertext), **data})
            self.vault.remember(to_redact(record.kind, clean))
            ciphertext, fields = self.vault.encrypt(clean), sorted(clean)
        updated = await self.store.update(
            credential_id, name=name or record.name, ciphertext=ciphertext, fields=fields
        )
        if updated is None:
            raise NotFound(f"no credential with id {credential_id!r}")
        return updated

    async def delete(self, credential_id: str) -> None:
        if not await self.store.delete(credential_id):
            raise NotFound(f"no credential with id {credential_id!r}")

    async def data(self, credential_id: str) -> dict[str, Any]:
        """The decrypted data, for a node while it runs (its secrets become redacted)."""
        record = await self.get(credential_id)
        data = self.vault.decrypt(record.ciphertext)
        self.vault.remember(to_redact(record.kind, data))
        return data

    async def reveal(self, credential_id: str) -> Credential:
        """``SecretProvider.reveal`` for the engine: the credential a node asked for."""
        record = await self.get(credential_id)
        try:
            data = self.vault.decrypt(record.ciphertext)
        except CredentialKeyError as exc:
            raise NodeError(str(exc), type="credential_key") from None
        self.vault.remember(to_redact(record.kind, data))
        return Credential(id=record.id, name=record.name, kind=record.kind, data=data)

    def redact(self, text: str) -> str:
        return self.vault.redact(text)

    async def remember_all(self) -> None:
        """Learn every stored secret, so that ``vault.redact`` knows them from the start."""
        for record in await self.store.all():
            self.vault.remember(to_redact(record.kind, self.vault.decrypt(record.ciphertext)))

    async def rotate(self, vault: Vault) -> int:
        """Re-encrypt every credential with ``vault``'s newest key; returns how many."""
        return await self.store.reencrypt(vault.rotate)


def validate(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` checked against ``kind``, without the fields left unset (``None``)."""
    model = KINDS.get(kind)
    if model is None:
        problem = {"location": "body.kind", "message": f"unknown kind {kind!r}", "type": "kind"}
        raise CredentialInvalid(f"unknown credential kind {kind!r}", [problem])
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        problems = [
            {
                "location": ".".join(["body", "data", *(str(p) for p in error["loc"])]),
                "message": error["msg"],
                "type": error["type"],
            }
            for error in exc.errors(include_input=False, include_url=False)
        ]
        raise CredentialInvalid(f"the data does not fit kind {kind!r}", problems) from None
    return parsed.model_dump(mode="json", exclude_none=True)
