"""The one settings object: every ``TAV_*`` environment variable (docs/deployment/)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tav.core.model import Model
from tav.core.workflow import POOL_PATTERN, KeepSuccesses


class AIModelLink(Model):
    """One link of a model chain: a stored provider credential and a model name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    credential: str = Field(min_length=1, max_length=200, description="Credential id.")
    model: str = Field(min_length=1, max_length=200, description="Model name.")


class AICredentialLimits(Model):
    """Limits of one provider credential, shared by every execution of the process (in
    queue mode, of every worker)."""

    model_config = ConfigDict(extra="forbid")

    max_concurrent: int | None = Field(None, ge=1, le=10_000, description="Calls at once.")
    requests_per_minute: int | None = Field(None, ge=1, le=1_000_000)


AIChain = Annotated[list[AIModelLink], Field(max_length=16)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAV_", extra="ignore")

    data_dir: Path = Field(
        Path(".tav"), description="Where TAV Engine keeps its database and files."
    )
    nodes_path: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description=f"Folders of custom node files, separated by '{os.pathsep}'.",
    )
    pools: dict[str, int] = Field(
        default_factory=dict,
        description='Concurrency limits by pool, as JSON: {"http": 64, "llm": 8, "cpu": 2}.',
    )
    pool_default_limit: int = Field(16, ge=1, description="Limit of pools not named in pools.")
    vars: dict[str, Any] = Field(
        default_factory=dict, description="Global variables (vars.<name> in templates), JSON."
    )
    log_level: str = "WARNING"
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; default sqlite+aiosqlite:///<data_dir>/tav.db. "
        "PostgreSQL: postgresql+asyncpg://user:password@host:5432/db.",
    )
    database_pool_size: int = Field(
        10,
        ge=1,
        le=1000,
        description="PostgreSQL: connections a tav serve process keeps in its pool, at most "
        "(a tav worker's pool follows from its --concurrency; see docs/deployment/scaling.md).",
    )
    queue_url: str | None = Field(
        None,
        description="Queue mode's broker (redis://host:6379/0 or amqp://user:pw@host:5672//): "
        "tav serve enqueues executions and tav worker runs them; needs PostgreSQL. "
        "Empty: one process runs everything (docs/deployment/scaling.md).",
    )
    queue_publish_timeout_s: float = Field(
        2, gt=0, description="Longest a request waits on the broker; the sweeper publishes later."
    )
    queue_sweep_s: float = Field(
        2, gt=0, description="How often tav serve publishes what is committed but unpublished."
    )
    queue_republish_s: float = Field(
        60,
        gt=0,
        description="A queued execution no worker claimed this long after it was published "
        "is published again (a broker that restarted without its messages loses none).",
    )
    queue_lease_s: float = Field(
        15, gt=0, description="How long a worker's claim on an execution holds unrenewed."
    )
    retention_max_age_days: float | None = Field(
        14, gt=0, description="Executions older than this are pruned; empty keeps them."
    )
    retention_max_count: int | None = Field(
        10_000, gt=0, description="At most this many executions are kept; empty keeps all."
    )
    keep_successes: KeepSuccesses = Field(
        "all",
        description="What is stored of a successful execution of a workflow that does not "
        "say (settings.keep_successes): all, summary (its summary and input) or count "
        "(only the workflow's count of them). Failures are always stored in full.",
    )
    shutdown_timeout_s: float = Field(
        10, ge=0, description="On SIGTERM, how long running nodes may take to finish."
    )
    mcp_call_timeout_s: float = Field(
        300,
        gt=0,
        description="How long a tool call of the MCP server (/mcp) waits for its workflow's "
        "run; the run goes on after it.",
    )
    mcp_max_memory_mb: int = Field(
        2048,
        ge=16,
        description="Most memory (MiB) a stdio MCP server's credential may give each of its "
        "processes (memory_mb; 512 when it names none).",
    )
    mcp_max_cpu_s: int = Field(
        3600,
        ge=1,
        description="Most CPU seconds a stdio MCP server's credential may give each of its "
        "processes over its life (cpu_s; 600 when it names none).",
    )
    mcp_max_processes: int = Field(
        64,
        ge=1,
        description="Most processes and threads a stdio MCP server's credential may allow "
        "it at once (max_processes; 32 when it names none).",
    )
    stream_keepalive_s: float = Field(
        15, gt=0, description="Seconds of quiet after which a live event stream sends a comment."
    )
    max_body_bytes: int = Field(16 * 1024 * 1024, gt=0, description="Largest request body.")
    max_workflow_bytes: int = Field(
        4 * 1024 * 1024, gt=0, description="Largest workflow document (JSON or YAML) accepted."
    )
    collab_max_message_bytes: int = Field(
        8 * 1024 * 1024,
        gt=0,
        description="Largest message a live co-editing client may send (a whole draft, "
        "after a reconnection: about twice TAV_MAX_WORKFLOW_BYTES).",
    )
    collab_max_messages_per_s: float = Field(
        200, gt=0, description="Messages per second one live co-editing connection may send."
    )
    collab_max_bytes_per_s: int = Field(
        8 * 1024 * 1024,
        gt=0,
        description="Bytes per second one live co-editing connection may send.",
    )
    collab_max_peers: int = Field(50, ge=1, description="Connections to one workflow's room.")
    collab_max_rooms: int = Field(
        100, ge=1, description="Workflows being edited live in one server process at once."
    )
    collab_flush_s: float = Field(
        0.5,
        gt=0,
        le=10,
        description="How long a live draft's changes may wait before they are written: "
        "what a crash can lose.",
    )
    collab_idle_s: float = Field(30, ge=0, description="How long a room nobody is in stays loaded.")
    template_max_bytes: int = Field(
        16 * 1024 * 1024,
        gt=0,
        description="Text a node's templates may build in one render, output included.",
    )
    template_max_iterations: int = Field(
        1_000_000, gt=0, description="Loop iterations of one render of a node's templates."
    )
    template_timeout_s: float = Field(
        1.0, gt=0, description="How long one render of a node's templates may take."
    )
    workflow_max_templates: int = Field(
        2_000, gt=0, description="Templates one workflow document may hold."
    )
    workflow_max_template_bytes: int = Field(
        1024 * 1024, gt=0, description="Characters of template text in one workflow document."
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Key(s) encrypting stored credentials, newest first, comma-separated; "
        "default: a key file generated in <data_dir>/secret.key.",
    )
    session_ttl_hours: float = Field(24 * 14, gt=0, description="Browser session lifetime.")
    trigger_sync_s: float = Field(
        5,
        gt=0,
        description="How often the server reads the workflows' active flags, to arm or "
        "disarm triggers (de)activated by `tav workflows` or another server.",
    )
    trigger_leader_check_s: float = Field(
        1,
        gt=0,
        description="On PostgreSQL, how often an API process that does not lead the "
        "background triggers tries to, and the leader checks that it still does.",
    )
    trigger_leader_timeout_s: float = Field(
        10,
        ge=1,
        description="A trigger leader whose database connection is silent this long (a "
        "frozen process, a network cut) loses the lead to another API process.",
    )
    schedule_late_s: float = Field(
        30,
        ge=0,
        description="Schedule slots that passed at most this long ago fire late, each once "
        "(a takeover by another trigger leader, a quick restart); older ones are missed.",
    )
    secure_cookies: bool | None = Field(
        None, description="Mark the session cookie Secure; default: when served over HTTPS."
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host names the server answers besides localhost, 127.0.0.1 and [::1], "
        "comma-separated; '*.example.com' matches its subdomains, '*' any host.",
    )
    public_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins (scheme://host[:port]) browsers reach the editor at, when a "
        "proxy changes the Host or the scheme, comma-separated; their hosts are allowed too.",
    )
    local_setup: bool = Field(
        True,
        description="A browser on this machine (loopback address, localhost Host, no proxy "
        "headers) creates the owner without the setup token; false: always ask for it.",
    )
    login_max_failures: int = Field(
        5, ge=1, description="Wrong passwords for one account before it is locked a while."
    )
    login_max_failures_per_address: int = Field(
        20, ge=1, description="Failed logins from one client address before it is locked."
    )
    login_lockout_s: float = Field(
        900, gt=0, description="How long a lockout lasts, and the window failures count in."
    )
    password_hash_concurrency: int = Field(
        2, ge=1, description="Password hashes (scrypt, 16 MiB each) computed at once."
    )

    ai_default_models: AIChain = Field(
        default_factory=list,
        description="Model chain of AI nodes that name none, as JSON: "
        '[{"credential": "<id>", "model": "gpt-4o-mini"}, ...]; tried in order.',
    )
    ai_default_embedding_models: AIChain = Field(
        default_factory=list,
        description="Embedding model chain of AI nodes that name none, as JSON: "
        '[{"credential": "<id>", "model": "text-embedding-3-small"}, ...].',
    )
    ai_timeout_s: float = Field(60, gt=0, description="Timeout of one model call (per link).")
    ai_max_concurrent: int = Field(
        8, ge=1, description="Model calls at once per provider credential."
    )
    ai_requests_per_minute: int | None = Field(
        None, ge=1, description="Model calls per minute per provider credential; empty: no cap."
    )
    ai_limits: dict[str, AICredentialLimits] = Field(
        default_factory=dict,
        description='Limits of single credentials, as JSON: {"<id>": {"max_concurrent": 2, '
        '"requests_per_minute": 60}}.',
    )
    ai_breaker_failures: int = Field(
        5, ge=1, description="Consecutive failures after which a model is skipped a while."
    )
    ai_breaker_cooldown_s: float = Field(30, ge=0, description="How long it is skipped.")
    ai_cache_max_age_days: float | None = Field(
        30,
        gt=0,
        description="Cached model answers older than this are not reused and are pruned; "
        "empty keeps them.",
    )

    pdf_font: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Font files (TTF, OTF, TTC) PDF exports write text in, the first for the "
        f"body, the others for characters it lacks, separated by '{os.pathsep}'.",
    )
    max_upload_bytes: int = Field(
        100 * 1024 * 1024, gt=0, description="Largest file POST /api/v1/files accepts."
    )
    slack_api_url: str = Field("https://slack.com/api", description="Slack Web API base URL.")
    discord_api_url: str = Field(
        "https://discord.com/api/v10", description="Discord API base URL (bot tokens)."
    )
    telegram_api_url: str = Field(
        "https://api.telegram.org", description="Telegram Bot API base URL."
    )
    service_timeout_s: float = Field(
        30, gt=0, description="Timeout of one call of a service node (mail, chat, webhook)."
    )

    host: str = Field(
        "127.0.0.1",
        description="Interface `tav serve` binds (its --host option overrides); 0.0.0.0 "
        "exposes it. Requests from workflows to it are refused.",
    )
    port: int = Field(
        8000, ge=1, le=65535, description="TCP port `tav serve` listens on (--port overrides)."
    )
    outbound_allow_private: bool = Field(
        True,
        description="Requests from workflows may reach loopback and private addresses "
        "(10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7, ...); false for a server "
        "exposed to people who must not reach the network around it.",
    )
    outbound_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Private destinations allowed anyway, comma-separated: host names "
        "('*.lan' for those under lan), IP addresses, CIDR ranges, each with an optional "
        ":port ('127.0.0.1:11434', '[::1]:8123').",
    )
    outbound_max_response_bytes: int = Field(
        50 * 1024 * 1024,
        gt=0,
        description="Largest response a request from a workflow may read (as sent, and "
        "once decompressed).",
    )
    outbound_max_redirects: int = Field(
        10, ge=0, le=100, description="Redirects a request from a workflow follows at most."
    )

    code_unsafe_no_sandbox: bool = Field(
        False,
        description="UNSAFE: run code.python nodes without bubblewrap, as the server's user: "
        "their code can read the data dir, the secret key and the database and reach the "
        "network. Only where bubblewrap cannot run and only trusted people edit workflows.",
    )
    code_bwrap: str = Field(
        "bwrap", description="The bubblewrap program code.python runs code under (PATH or path)."
    )
    code_packages: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Packages code may import besides the standard library, comma-separated "
        "import names (pandas,numpy), with what they need; installed beside the server.",
    )
    code_allow_network: bool = Field(
        False, description="Code of a code.python node whose network param is on may connect."
    )
    code_timeout_s: float = Field(
        30, gt=0, description="Longest one run of code may take (wall clock)."
    )
    code_cpu_s: int = Field(10, ge=1, description="CPU seconds one run of code may use.")
    code_memory_mb: int = Field(
        512, ge=64, description="Memory (address space) one run of code may use, in MiB."
    )
    code_max_processes: int = Field(
        16, ge=1, description="Processes and threads one run of code may have at once."
    )
    code_max_open_files: int = Field(64, ge=16, description="Files one run may have open.")
    code_max_log_bytes: int = Field(
        1024 * 1024, gt=0, description="What one run of code may print, in bytes."
    )
    code_max_result_bytes: int = Field(
        16 * 1024 * 1024, gt=0, description="Largest value (as JSON) main may return."
    )
    code_tmp_bytes: int = Field(
        64 * 1024 * 1024, gt=0, description="Size of the private /tmp of one run of code."
    )
    code_warm: int = Field(
        2, ge=0, le=64, description="Sandboxed interpreters kept started, waiting for code."
    )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'tav.db').resolve()}"

    @field_validator("nodes_path", "pdf_font", mode="before")
    @classmethod
    def _split_paths(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [Path(part) for part in value.split(os.pathsep) if part.strip()]
        return value

    @field_validator("outbound_allow", mode="before")
    @classmethod
    def _split_allow(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("allowed_hosts", "public_origins", "code_packages", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("outbound_allow")
    @classmethod
    def _parse_allow(cls, value: list[str]) -> list[str]:
        if value:  # (the parser comes with httpx: imported only when there is a rule)
            from tav.nodes.outbound.policy import parse_rules

            parse_rules(value)  # a ValueError names the entry that does not parse
        return value

    @field_validator(
        "retention_max_age_days",
        "retention_max_count",
        "secure_cookies",
        "ai_requests_per_minute",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        """``TAV_RETENTION_MAX_COUNT=`` (empty) means no limit, not a parse error."""
        if isinstance(value, str) and value.strip().lower() in ("", "none"):
            return None
        return value


PoolName = Annotated[str, Field(pattern=POOL_PATTERN)]
PoolLimit = Annotated[int, Field(ge=1, le=100_000)]


class RuntimeSettings(Model):
    """The settings users may change while the server runs (``/api/v1/settings``).

    Kept in the database, they override the environment's ``TAV_*`` values. Only the
    fields set mean anything (``model_fields_set``): ``pools`` sets the limits of the pools
    it names, the others keep theirs; a retention of ``None`` keeps everything.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    pools: dict[PoolName, PoolLimit] = Field(
        default_factory=dict, max_length=256, description="Concurrency limits by pool."
    )
    pool_default_limit: PoolLimit = Field(16, description="Limit of pools not named in pools.")
    retention_max_age_days: float | None = Field(
        None, gt=0, le=36_500, description="Executions older than this are pruned; null keeps them."
    )
    retention_max_count: int | None = Field(
        None, gt=0, le=1_000_000_000, description="At most this many executions are kept."
    )
    keep_successes: KeepSuccesses = Field(
        "all",
        description="What is stored of a successful execution of a workflow whose settings "
        "do not say: all of it, its summary and input, or only a count.",
    )
    ai_default_models: AIChain = Field(
        default_factory=list,
        description="Model chain of AI nodes that name none: credential ids and models, "
        "tried in order.",
    )
    ai_default_embedding_models: AIChain = Field(
        default_factory=list,
        description="Embedding model chain of AI nodes that name none (ai.embed, "
        "ai.vector_upsert, ai.vector_search, ai.rag_answer).",
    )
    ai_limits: dict[Annotated[str, Field(min_length=1, max_length=200)], AICredentialLimits] = (
        Field(
            default_factory=dict,
            max_length=1024,
            description="Limits of single provider credentials (over TAV_AI_MAX_CONCURRENT "
            "and TAV_AI_REQUESTS_PER_MINUTE), by credential id.",
        )
    )
