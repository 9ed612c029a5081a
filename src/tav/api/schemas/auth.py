from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class Credentials(BaseModel):
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    password: str = Field(min_length=8, max_length=1024)


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
    role: str


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


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="The secret: shown once, never stored.")
