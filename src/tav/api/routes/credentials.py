"""Credentials: API keys, passwords and provider configs, encrypted at rest.

Secrets are write-only: every response gives the name, the kind and which fields are set,
never a value. Nodes get the decrypted data only while they run (``NodeContext.credential``).
"""

from __future__ import annotations

from fastapi import APIRouter

from tav.api.access import requires
from tav.api.deps import CredentialsDep
from tav.api.errors import ApiError
from tav.api.schemas.credentials import (
    CredentialCreate,
    CredentialKind,
    CredentialPublic,
    CredentialUpdate,
)
from tav.core.roles import Role
from tav.credentials import CredentialInvalid, kind_schemas
from tav.credentials.ports import CredentialRecord
from tav.storage.credentials import NameTaken

router = APIRouter(
    prefix="/credentials", tags=["credentials"], dependencies=[requires(Role.viewer, Role.editor)]
)


def _public(record: CredentialRecord) -> CredentialPublic:
    return CredentialPublic.model_validate(record, from_attributes=True)


def _invalid(exc: CredentialInvalid) -> ApiError:
    return ApiError(422, "request_invalid", str(exc), exc.problems)


def _taken(exc: NameTaken) -> ApiError:
    return ApiError(409, "conflict", str(exc))


@router.get("")
async def list_credentials(credentials: CredentialsDep) -> list[CredentialPublic]:
    """Every credential, by name (no values)."""
    return [_public(record) for record in await credentials.all()]


@router.get("/kinds")
async def list_kinds() -> list[CredentialKind]:
    """Every kind with its fields as JSON Schema; secret fields have ``"secret": true``."""
    return [CredentialKind.model_validate(kind) for kind in kind_schemas()]


@router.post("", status_code=201, responses={409: {"description": "The name is taken."}})
async def create_credential(
    body: CredentialCreate, credentials: CredentialsDep
) -> CredentialPublic:
    try:
        record = await credentials.create(body.name, body.kind, body.data)
    except CredentialInvalid as exc:
        raise _invalid(exc) from None
    except NameTaken as exc:
        raise _taken(exc) from None
    return _public(record)


@router.get("/{credential_id}")
async def get_credential(credential_id: str, credentials: CredentialsDep) -> CredentialPublic:
    return _public(await credentials.get(credential_id))


@router.put("/{credential_id}", responses={409: {"description": "The name is taken."}})
async def update_credential(
    credential_id: str, body: CredentialUpdate, credentials: CredentialsDep
) -> CredentialPublic:
    """Rename and/or change fields; fields left out of ``data`` keep their values."""
    try:
        record = await credentials.update(credential_id, name=body.name, data=body.data)
    except CredentialInvalid as exc:
        raise _invalid(exc) from None
    except NameTaken as exc:
        raise _taken(exc) from None
    return _public(record)


@router.delete("/{credential_id}", status_code=204)
async def delete_credential(credential_id: str, credentials: CredentialsDep) -> None:
    await credentials.delete(credential_id)
