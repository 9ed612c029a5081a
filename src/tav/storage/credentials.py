"""Stored credentials: rows of ciphertext. Encryption and kinds live in ``tav.credentials``
(which this module does not import: the two are siblings, wired by the composition root)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from tav.core.events import utcnow
from tav.storage.db import Database
from tav.storage.models import CredentialRow


class NameTaken(Exception):
    """Another credential has this name."""


@dataclass(frozen=True)
class StoredCredential:
    id: str
    name: str
    kind: str
    ciphertext: bytes
    fields: list[str]
    created_at: datetime
    updated_at: datetime


def _record(row: CredentialRow) -> StoredCredential:
    return StoredCredential(
        id=row.id,
        name=row.name,
        kind=row.kind,
        ciphertext=row.ciphertext,
        fields=list(row.fields_set),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class CredentialRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self, name: str, kind: str, ciphertext: bytes, fields: list[str]
    ) -> StoredCredential:
        now = utcnow()
        row = CredentialRow(
            id=uuid.uuid4().hex,
            name=name,
            kind=kind,
            ciphertext=ciphertext,
            fields_set=fields,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self.db.transaction() as session:
                session.add(row)
        except IntegrityError:
            raise NameTaken(f"a credential named {name!r} exists") from None
        return _record(row)

    async def get(self, credential_id: str) -> StoredCredential | None:
        async with self.db.session() as session:
            row = await session.get(CredentialRow, credential_id)
            return _record(row) if row else None

    async def all(self) -> list[StoredCredential]:
        async with self.db.session() as session:
            rows = await session.scalars(select(CredentialRow).order_by(CredentialRow.name))
            return [_record(row) for row in rows]

    async def update(
        self, credential_id: str, *, name: str, ciphertext: bytes, fields: list[str]
    ) -> StoredCredential | None:
        try:
            async with self.db.transaction() as session:
                row = await session.get(CredentialRow, credential_id)
                if row is None:
                    return None
                row.name, row.ciphertext, row.fields_set = name, ciphertext, fields
                row.updated_at = utcnow()
        except IntegrityError:
            raise NameTaken(f"a credential named {name!r} exists") from None
        return _record(row)

    async def delete(self, credential_id: str) -> bool:
        async with self.db.transaction() as session:
            statement = delete(CredentialRow).where(CredentialRow.id == credential_id)
            result = await session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def reencrypt(self, transform: Callable[[bytes], bytes]) -> int:
        """Replace every ciphertext by ``transform(ciphertext)``, in one transaction."""
        async with self.db.transaction() as session:
            rows = (await session.scalars(select(CredentialRow))).all()
            for row in rows:
                row.ciphertext = transform(row.ciphertext)
        return len(rows)
