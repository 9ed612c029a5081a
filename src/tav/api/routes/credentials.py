"""Credentials: API keys, passwords and provider configs, encrypted at rest.

Secrets are write-only: every response gives the name, the kind and which fields are set,
never a value. Nodes get the decrypted data only while they run (``NodeContext.credential``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request

from tav.api.access import requires
from tav.api.deps import CredentialsDep, CurrentPrincipal, SettingsDep, parts_of
from tav.api.errors import ApiError
from tav.api.schemas.credentials import (
    CredentialCreate,
    CredentialKind,
    CredentialPublic,
    CredentialUpdate,
    McpToolPublic,
)
from tav.core.errors import NodeError
from tav.core.roles import Role
from tav.credentials import CredentialInvalid, kind_schemas
from tav.credentials.kinds import runs_a_command
from tav.credentials.ports import CredentialRecord
from tav.settings import Settings
from tav.storage.credentials import NameTaken

router = APIRouter(
    prefix="/credentials", tags=["credentials"], dependencies=[requires(Role.viewer, Role.editor)]
)
tools = APIRouter(prefix="/credentials", tags=["credentials"], dependencies=[requires(Role.editor)])
"""What reaches a credential's server (listing an MCP server's tools may start it): editors
and up, reading included."""


def _public(record: CredentialRecord) -> CredentialPublic:
    return CredentialPublic.model_validate(record, from_attributes=True)


def _invalid(exc: CredentialInvalid) -> ApiError:
    return ApiError(422, "request_invalid", str(exc), exc.problems)


def _taken(exc: NameTaken) -> ApiError:
    return ApiError(409, "conflict", str(exc))


def _may_run_commands(principal: CurrentPrincipal) -> None:
    """A credential that makes this machine run a command (an MCP server over stdio) is
    the owners' and admins' to write: it runs as the server does, sandboxed or not."""
    if not principal.role.at_least(Role.admin):
        raise ApiError(
            403,
            "forbidden",
            "only owners and admins may create or change an MCP server that runs a command "
            f"on this machine (transport stdio); your role is {principal.role}",
            {"required_role": Role.admin.value, "role": principal.role.value},
        )


def _within_maxima(kind: str, data: dict[str, Any] | None, settings: Settings) -> None:
    """A stdio MCP server's limits go up to this host's maxima (checked again as it
    starts: a maximum may be lowered later)."""
    if kind != "mcp_server" or not data:
        return
    maxima = {
        "memory_mb": ("TAV_MCP_MAX_MEMORY_MB", settings.mcp_max_memory_mb),
        "cpu_s": ("TAV_MCP_MAX_CPU_S", settings.mcp_max_cpu_s),
        "max_processes": ("TAV_MCP_MAX_PROCESSES", settings.mcp_max_processes),
    }
    problems = [
        {
            "location": f"body.data.{field}",
            "message": f"{data[field]} is more than this server allows ({name}={most})",
            "type": "limit",
        }
        for field, (name, most) in maxima.items()
        if isinstance(data.get(field), int) and data[field] > most
    ]
    if problems:
        first = problems[0]
        message = f"{first['location'].removeprefix('body.')}: {first['message']}"
        raise ApiError(422, "request_invalid", message, problems)


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
    body: CredentialCreate,
    credentials: CredentialsDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> CredentialPublic:
    if runs_a_command(body.kind, body.data):
        _may_run_commands(principal)
    _within_maxima(body.kind, body.data, settings)
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
    credential_id: str,
    body: CredentialUpdate,
    credentials: CredentialsDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> CredentialPublic:
    """Rename and/or change fields; fields left out of ``data`` keep their values."""
    stored = await credentials.get(credential_id)
    if body.data is not None and runs_a_command(stored.kind, body.data, stored.fields):
        _may_run_commands(principal)
    _within_maxima(stored.kind, body.data, settings)
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


@tools.get(
    "/{credential_id}/mcp-tools",
    responses={502: {"description": "The server could not be reached or answered wrongly."}},
)
async def list_mcp_tools(
    credential_id: str, credentials: CredentialsDep, request: Request
) -> list[McpToolPublic]:
    """The tools of an ``mcp_server`` credential's server, with their schemas (what the
    editor offers in an ``mcp.call_tool`` node); cached briefly."""
    credential = await credentials.reveal(credential_id)
    if credential.kind != "mcp_server":
        raise ApiError(
            422,
            "credential_kind",
            f"credential {credential.name!r} is a {credential.kind!r} credential, not an "
            "MCP server",
        )
    try:
        found = await parts_of(request).mcp.list_tools(credential)
    except NodeError as exc:
        raise ApiError(502, exc.type, credentials.redact(exc.message)) from None
    return [McpToolPublic.model_validate(asdict(tool)) for tool in found]
