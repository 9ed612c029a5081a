"""Credentials: secrets are write-only, so no response schema has a field for a value."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tav.credentials.kinds import KindName

CREDENTIAL_NAME = r"^[^\x00-\x1f\x7f]+$"


def _name(description: str, **default: Any) -> Any:
    return Field(
        **default, min_length=1, max_length=200, pattern=CREDENTIAL_NAME, description=description
    )


class CredentialCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = _name("Unique; what workflows and people call it.")
    kind: KindName = Field(description="One of GET /credentials/kinds.")
    data: dict[str, Any] = Field(description="The kind's fields; secrets are never shown again.")


class CredentialUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = _name("A new name.", default=None)
    data: dict[str, Any] | None = Field(
        None,
        description="Fields to change; the ones left out keep their stored values, null "
        "clears an optional one.",
    )


class CredentialPublic(BaseModel):
    id: str
    name: str
    kind: str
    fields: list[str] = Field(description="The names of the fields that are set (no values).")
    created_at: datetime
    updated_at: datetime


class ProviderInfo(BaseModel):
    """What a credential of an LLM provider's kind offers (``tav.ai.providers``)."""

    title: str = Field(description="The provider's name, for people: OpenAI.")
    api: str = Field(description="The HTTP API it speaks: openai, anthropic, google, ollama.")
    chat: bool = Field(description="It can be a link of a chat model chain.")
    embeddings: bool = Field(description="It can be a link of an embeddings chain.")
    default_base_url: str | None = Field(
        description="Used when the credential gives no base_url (null: it must give one)."
    )


class CredentialKind(BaseModel):
    kind: str
    description: str
    secret_fields: list[str]
    schema_: dict[str, Any] = Field(alias="schema", description="The fields as JSON Schema.")
    provider: ProviderInfo | None = Field(
        description="For the kind of an LLM provider: what it offers; null for the others."
    )

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class McpToolPublic(BaseModel):
    """One tool of an MCP server, as the server lists it."""

    name: str
    title: str | None = None
    description: str = ""
    input_schema: dict[str, Any] = Field(description="JSON Schema of its arguments.")
    output_schema: dict[str, Any] | None = Field(
        None, description="JSON Schema of its structured content, when it declares one."
    )
