"""Runtime settings (pools, retention, the AI default chain and limits), changed while the
server runs.

Changes are stored (they outlive restarts and override TAV_* values) and applied at once:
pool limits to the slots taken from now on, retention from the next prune.
"""

from __future__ import annotations

from fastapi import APIRouter

from tav.ai.providers import CHAT_KINDS, EMBEDDING_KINDS
from tav.api.deps import ServerDep
from tav.api.schemas.settings import SettingsPublic, SettingsUpdate
from tav.core.errors import InputInvalid, NotFound
from tav.server import Server

router = APIRouter(prefix="/settings", tags=["settings"])


def _in_force(server: Server) -> SettingsPublic:
    pools = server.executor.pools
    return SettingsPublic(
        pools=dict(pools.limits),
        pool_default_limit=pools.default_limit,
        retention_max_age_days=server.settings.retention_max_age_days,
        retention_max_count=server.settings.retention_max_count,
        ai_default_models=server.settings.ai_default_models,
        ai_default_embedding_models=server.settings.ai_default_embedding_models,
        ai_limits=server.settings.ai_limits,
    )


@router.get("")
async def get_settings(server: ServerDep) -> SettingsPublic:
    """The runtime settings in force."""
    return _in_force(server)


@router.put("")
async def update_settings(body: SettingsUpdate, server: ServerDep) -> SettingsPublic:
    """Change the fields given (422 for unknown fields or values out of range, or a
    default model chain naming a credential that does not exist or is no chat provider)."""
    await _check_chain(server, body)
    await server.stored_settings.put_many(body.model_dump(exclude_unset=True))
    server.apply_settings(await server.stored_settings.all())
    return _in_force(server)


async def _check_chain(server: Server, body: SettingsUpdate) -> None:
    chains = (
        ("ai_default_models", body.ai_default_models, CHAT_KINDS, "a chat provider"),
        (
            "ai_default_embedding_models",
            body.ai_default_embedding_models,
            EMBEDDING_KINDS,
            "an embeddings provider",
        ),
    )
    for field, chain, kinds, what in chains:
        for index, link in enumerate(chain):
            try:
                credential = await server.credentials.get(link.credential)
            except NotFound:
                raise InputInvalid(
                    f"{field}[{index}]: no credential with id {link.credential!r}"
                ) from None
            if credential.kind not in kinds:
                raise InputInvalid(
                    f"{field}[{index}]: credential {link.credential!r} is of kind "
                    f"{credential.kind!r}, not {what} ({', '.join(kinds)})"
                )
