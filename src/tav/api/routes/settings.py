"""Runtime settings (pools, retention, the AI default chain and limits), changed while the
server runs.

Changes are stored (they outlive restarts and override TAV_* values) and applied at once:
pool limits to the slots taken from now on, retention from the next prune
(``tav.app.settings.RuntimeConfig``).
"""

from __future__ import annotations

from fastapi import APIRouter

from tav.api.access import requires
from tav.api.deps import RuntimeConfigDep
from tav.api.schemas.settings import SettingsPublic, SettingsUpdate
from tav.core.roles import Role

router = APIRouter(
    prefix="/settings", tags=["settings"], dependencies=[requires(Role.viewer, Role.admin)]
)


@router.get("")
async def get_settings(config: RuntimeConfigDep) -> SettingsPublic:
    """The runtime settings in force."""
    return SettingsPublic.model_validate(config.in_force(), from_attributes=True)


@router.put("")
async def update_settings(body: SettingsUpdate, config: RuntimeConfigDep) -> SettingsPublic:
    """Change the fields given (422 for unknown fields or values out of range, or a
    default model chain naming a credential that does not exist or is no chat provider)."""
    in_force = await config.change(body)
    return SettingsPublic.model_validate(in_force, from_attributes=True)
