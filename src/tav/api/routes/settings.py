"""Runtime settings: pool limits and execution retention, changed while the server runs.

Changes are stored (they outlive restarts and override TAV_* values) and applied at once:
pool limits to the slots taken from now on, retention from the next prune.
"""

from __future__ import annotations

from fastapi import APIRouter

from tav.api.deps import ServerDep
from tav.api.schemas.settings import SettingsPublic, SettingsUpdate
from tav.server import Server

router = APIRouter(prefix="/settings", tags=["settings"])


def _in_force(server: Server) -> SettingsPublic:
    pools = server.executor.pools
    return SettingsPublic(
        pools=dict(pools.limits),
        pool_default_limit=pools.default_limit,
        retention_max_age_days=server.settings.retention_max_age_days,
        retention_max_count=server.settings.retention_max_count,
    )


@router.get("")
async def get_settings(server: ServerDep) -> SettingsPublic:
    """The runtime settings in force."""
    return _in_force(server)


@router.put("")
async def update_settings(body: SettingsUpdate, server: ServerDep) -> SettingsPublic:
    """Change the fields given (422 for unknown fields or values out of range)."""
    await server.stored_settings.put_many(body.model_dump(exclude_unset=True))
    server.apply_settings(await server.stored_settings.all())
    return _in_force(server)
