"""Credential kinds: one Pydantic model each; secret fields carry ``"secret": true``.

The models of the LLM providers' kinds are in their records (``tav.ai.providers``); the
others are here. Secret fields are plain ``str`` marked in their JSON Schema
(``tav.core.credentials``). The API never returns any value of a credential, secret or
not, so the mark only tells editors which inputs to hide and the vault which values to
redact: every value of a secret field, its secret parts and their encodings
(``tav.credentials.redaction``). A field that holds a secret must be declared with
``secret(...)``; a unit test checks that fields named like one (password, token, key,
secret, headers, webhook URL) are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from tav.ai.providers import BY_KIND, PROVIDERS
from tav.core.credentials import SECRET, Kind, secret

__all__ = [
    "KINDS",
    "SECRET",
    "Kind",
    "KindName",
    "kind_schemas",
    "runs_a_command",
    "secret",
    "secret_fields",
    "secret_values",
]


class ApiKey(Kind):
    """A bare API key."""

    api_key: str = secret("The key.")


class Basic(Kind):
    """HTTP basic authentication."""

    username: str = Field(min_length=1)
    password: str = secret("The password.")


class Bearer(Kind):
    """A bearer token (``Authorization: Bearer <token>``)."""

    token: str = secret("The token.")


class Smtp(Kind):
    """An SMTP server to send mail through (``email.send``)."""

    host: str = Field(min_length=1)
    port: int = Field(587, ge=1, le=65535, description="Usually 587 (starttls), 465 (tls).")
    username: str | None = None
    password: str | None = secret("The password.", required=False)
    security: Literal["none", "starttls", "tls"] = Field(
        "starttls",
        description="none: plain; starttls: upgrade after connecting; tls: TLS from the start.",
    )

    @model_validator(mode="before")
    @classmethod
    def _starttls(cls, data: Any) -> Any:
        """Data written before ``security`` has ``starttls: true|false``."""
        if isinstance(data, dict) and "starttls" in data:
            data = dict(data)
            starttls = data.pop("starttls")
            data.setdefault("security", "starttls" if starttls in (True, "true") else "none")
        return data


class Slack(Kind):
    """A Slack bot token (``slack.post_message``)."""

    token: str = secret("The bot token (xoxb-...).")


class Discord(Kind):
    """Discord: a channel's webhook URL, or a bot token (``discord.send_message``)."""

    webhook_url: str | None = secret("A channel webhook URL.", required=False)
    bot_token: str | None = secret("A bot token.", required=False)

    @model_validator(mode="after")
    def _one(self) -> Discord:
        if (self.webhook_url is None) == (self.bot_token is None):
            raise ValueError("set either webhook_url or bot_token")
        return self


class Telegram(Kind):
    """A Telegram bot (``telegram.send_message``)."""

    bot_token: str = secret("The token @BotFather gave.")


class Hmac(Kind):
    """A shared secret that signs requests (``webhook.send``)."""

    secret: str = secret("The shared secret.")


class Imap(Kind):
    """An IMAP mailbox to read mail from (``trigger.email``)."""

    host: str = Field(min_length=1)
    port: int | None = Field(None, ge=1, le=65535, description="Default: 993 (ssl), else 143.")
    username: str = Field(min_length=1)
    password: str = secret("The password.")
    security: Literal["ssl", "starttls", "none"] = "ssl"


class McpServer(Kind):
    """An MCP server whose tools workflows call (``mcp.call_tool``, ``ai.agent``): a
    streamable HTTP URL, or a command this machine runs (``stdio``, owners and admins
    only), in the code sandbox."""

    transport: Literal["http", "stdio"] = Field(
        description="http: a streamable HTTP endpoint; stdio: a command run on this machine."
    )
    url: str | None = Field(
        None, pattern=r"^https?://", description="http: the endpoint (https://host/mcp)."
    )
    headers: dict[str, str] | None = secret(
        "http: headers sent with every request (Authorization, X-Api-Key, ...).",
        required=False,
    )
    access_token: str | None = secret(
        "http: a bearer or OAuth access token (sent as Authorization: Bearer).", required=False
    )
    command: str | None = Field(
        None, min_length=1, description="stdio: the program (a path, or a name on PATH)."
    )
    args: list[str] = Field(default_factory=list, description="stdio: its arguments.")
    env: dict[str, str] | None = secret(
        "stdio: environment variables the server gets (API keys, ...).", required=False
    )
    network: bool = Field(
        False, description="stdio: the server may use the network (else it has none)."
    )
    paths: list[str] = Field(
        default_factory=list,
        description="stdio: folders of this machine the server sees, read-only, besides the "
        "system's programs and libraries (its own installation, say).",
    )
    call_timeout_s: float = Field(
        60, gt=0, le=3600, description="How long a tool call may take before it fails."
    )
    memory_mb: int | None = Field(
        None,
        ge=16,
        description="stdio: memory each of the server's processes may use, in MiB (default "
        "512, at most TAV_MCP_MAX_MEMORY_MB).",
    )
    cpu_s: int | None = Field(
        None,
        ge=1,
        description="stdio: CPU seconds each of its processes may use over its life; past it "
        "the server is stopped, and starts again on the next call (default 600, at most "
        "TAV_MCP_MAX_CPU_S).",
    )
    max_processes: int | None = Field(
        None,
        ge=1,
        description="stdio: processes and threads it may have at once (default 32, at most "
        "TAV_MCP_MAX_PROCESSES).",
    )

    @model_validator(mode="after")
    def _transport(self) -> McpServer:
        http = ("url", "headers", "access_token")
        stdio = ("command", "env")
        if self.transport == "http" and not self.url:
            raise ValueError("an http server needs its url")
        if self.transport == "stdio" and not self.command:
            raise ValueError("a stdio server needs its command")
        wrong = stdio if self.transport == "http" else http
        extra = [name for name in wrong if getattr(self, name)]
        extra += [
            name
            for name in ("args", "paths", "network", "memory_mb", "cpu_s", "max_processes")
            if self.transport == "http" and getattr(self, name)
        ]
        if extra:
            raise ValueError(f"{', '.join(extra)}: not for a {self.transport} server")
        if any(not path.startswith("/") for path in self.paths):
            raise ValueError("paths must be absolute")
        return self


def runs_a_command(kind: str, data: dict[str, Any] | None, fields: Sequence[str] = ()) -> bool:
    """Whether a credential (its ``data`` as written, or the ``fields`` it has stored)
    makes this machine run a command: only owners and admins may write one."""
    if kind != "mcp_server":
        return False
    return (data or {}).get("transport") == "stdio" or "command" in fields


KINDS: dict[str, type[Kind]] = {
    "api_key": ApiKey,
    "basic": Basic,
    "bearer": Bearer,
    "smtp": Smtp,
    "imap": Imap,
    "slack": Slack,
    "discord": Discord,
    "telegram": Telegram,
    "hmac": Hmac,
    "mcp_server": McpServer,
    **{provider.kind: provider.credential for provider in PROVIDERS},
}
"""Every kind by name: those of the service nodes and triggers, then one per LLM provider
(its record in ``tav.ai.providers`` holds its model)."""

if TYPE_CHECKING:
    KindName = str
else:  # the kinds as a Literal: the API validates a kind and lists them in its schema
    KindName = Literal[tuple(KINDS)]


def secret_fields(kind: str) -> frozenset[str]:
    model = KINDS[kind]
    return frozenset(
        name
        for name, field in model.model_fields.items()
        if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("secret")
    )


def secret_values(kind: str, data: dict[str, Any]) -> list[str]:
    """The strings of ``data`` that are secrets (values of secret fields, recursively)."""
    found: list[str] = []
    for name in secret_fields(kind):
        _strings(data.get(name), found)
    return found


def _strings(value: Any, found: list[str]) -> None:
    if isinstance(value, str):
        found.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _strings(item, found)
    elif isinstance(value, list):
        for item in value:
            _strings(item, found)


def kind_schemas() -> list[dict[str, Any]]:
    """Every kind with its fields as JSON Schema (secret fields marked); a provider's kind
    with what its record says of it (``provider``), the others with ``None``."""
    return [
        {
            "kind": name,
            "description": (model.__doc__ or "").strip(),
            "secret_fields": sorted(secret_fields(name)),
            "schema": model.model_json_schema(),
            "provider": _provider(name),
        }
        for name, model in KINDS.items()
    ]


def _provider(kind: str) -> dict[str, Any] | None:
    provider = BY_KIND.get(kind)
    if provider is None:
        return None
    return {
        "title": provider.title,
        "api": provider.api,
        "chat": True,
        "embeddings": provider.embeddings is not None,
        "default_base_url": provider.default_base_url,
    }
