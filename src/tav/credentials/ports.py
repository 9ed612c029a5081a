"""What the credentials service needs from storage (``tav.storage.credentials``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol


class CredentialRecord(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def ciphertext(self) -> bytes: ...
    @property
    def fields(self) -> list[str]: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


class CredentialStore(Protocol):
    """Rows of ciphertext; raises its own error for a name taken (the API maps it)."""

    async def create(
        self, name: str, kind: str, ciphertext: bytes, fields: list[str]
    ) -> CredentialRecord: ...

    async def get(self, credential_id: str) -> CredentialRecord | None: ...

    async def all(self) -> Sequence[CredentialRecord]: ...

    async def update(
        self, credential_id: str, *, name: str, ciphertext: bytes, fields: list[str]
    ) -> CredentialRecord | None: ...

    async def delete(self, credential_id: str) -> bool: ...

    async def reencrypt(self, transform: Callable[[bytes], bytes]) -> int: ...
