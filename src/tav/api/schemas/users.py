"""The team: members, their roles, and invites. No response carries a password or a
token, but for the one answer to creating an invite."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from tav.api.schemas.auth import EMAIL
from tav.core.roles import Role


class MemberPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    role: Role
    created_at: datetime
    disabled: bool = Field(description="Disabled: cannot sign in, has no sessions or keys.")
    disabled_at: datetime | None


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role = Field(
        description="The new role. owner: the owner hands the role over and becomes admin."
    )


class InviteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = EMAIL
    role: Role = Field(description="admin, editor or viewer (nobody is invited as owner).")


class InvitePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    role: Role
    created_by: str | None = Field(description="The id of the user who invited.")
    created_at: datetime
    expires_at: datetime
    expired: bool


class InviteCreated(InvitePublic):
    token: str = Field(description="The one-time token: shown this once, never stored.")
    url: str = Field(description="The link to hand the invited person: the editor's accept page.")
