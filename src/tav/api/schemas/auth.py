from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from tav.core.roles import Role

PASSWORD = Field(min_length=8, max_length=1024)
INVITE_TOKEN = Field(min_length=20, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")


EMAIL = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")


class Credentials(BaseModel):
    email: str = EMAIL
    password: str = PASSWORD


class OwnerSetup(Credentials):
    setup_token: str | None = Field(
        None,
        max_length=200,
        description="The token `tav serve` printed at start (also in <data dir>/setup-token); "
        "needed unless the request comes from this machine.",
    )


class UserPublic(BaseModel):
    id: str
    email: str
    role: Role


class ApiKeyRef(BaseModel):
    id: str
    name: str


class Me(BaseModel):
    """The caller, as the editor shows them and decides what to offer."""

    user: UserPublic | None = Field(
        description="The signed-in user, or the API key's user (null only for a key made "
        "before any account existed, which acts as the owner)."
    )
    role: Role
    via: Literal["session", "api_key"]
    api_key: ApiKeyRef | None = Field(None, description="The key the request came with.")
    can_edit: bool = Field(description="May build, save and run workflows (editor and above).")
    manages_users: bool = Field(description="May invite and manage users (admin and above).")


class InviteLookup(BaseModel):
    token: str = INVITE_TOKEN


class InviteAccept(BaseModel):
    token: str = INVITE_TOKEN
    password: str = PASSWORD


class InviteInfo(BaseModel):
    """What an invite link offers, for the person who opened it."""

    email: str
    role: Role
    expires_at: datetime


class AuthStatus(BaseModel):
    setup_required: bool
    setup_token_required: bool = Field(
        False, description="Whether creating the owner from here needs the setup token."
    )
    setup_token_file: str | None = Field(
        None, description="Where the setup token is stored, while it is needed."
    )
    user: UserPublic | None = None


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class ApiKeyPublic(BaseModel):
    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    role: Role = Field(description="The role it acts with: its user's.")


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="The secret: shown once, never stored.")
