"""ORM tables. Rows never leave ``tav.storage``: repositories turn them into domain data.

Executions keep their node results and events in two *hot* tables while they run, so that
every settled node and every event is durable at once. When an execution finishes, its
node results and events are folded into one compressed ``execution_data.result`` blob and
the hot rows are deleted: a finished execution costs one small ``executions`` row plus one
blob, listing stays fast, and large outputs never bloat the tables that are scanned.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tav.core.modes import ExecutionMode

ID = String(32)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, Any: JSON}


class WorkflowRow(Base):
    __tablename__ = "workflows"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    successes_not_kept: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """Successful executions not stored, as the workflow keeps only their count
    (``keep_successes: count``); the writer adds to it (added by a later migration)."""
    last_success_not_kept_at: Mapped[datetime | None]
    """When the last of them ended."""


class WorkflowVersionRow(Base):
    __tablename__ = "workflow_versions"

    workflow_id: Mapped[str] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(ID)
    """The user who saved it (none when it came from the CLI or an ownerless API key);
    no foreign key: users are disabled, never deleted (added by a later migration)."""


class ExecutionRow(Base):
    __tablename__ = "executions"
    __table_args__ = (
        Index("ix_executions_workflow_started", "workflow_id", "started_at"),
        Index("ix_executions_status_started", "status", "started_at"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    workflow_id: Mapped[str | None] = mapped_column(ForeignKey("workflows.id", ondelete="SET NULL"))
    workflow_version: Mapped[int | None]
    workflow_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16), default=ExecutionMode.API.value)
    parent_id: Mapped[str | None] = mapped_column(ID, index=True)
    error: Mapped[dict[str, Any] | None]
    started_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime | None]
    duration_ms: Mapped[float | None] = mapped_column(Float)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    retry_of: Mapped[str | None] = mapped_column(ID)
    """For a retry: the execution it runs again (added by a later migration)."""
    owner: Mapped[str | None] = mapped_column(String(300))
    """For ``tav run``: the process running it (``tav.storage.owners``; added by a later
    migration)."""
    started_by: Mapped[str | None] = mapped_column(ID)
    """The user who started it, by hand or through one of their API keys; none when a
    trigger, a parent execution or the CLI did (added by a later migration)."""
    published_at: Mapped[datetime | None]
    """Queue mode: when its task was published to the broker; empty while it is committed
    but not published (the sweeper publishes it). Added by a later migration, as are the
    three below."""
    worker: Mapped[str | None] = mapped_column(String(200))
    """Queue mode: the worker that ran it last."""
    skip: Mapped[list[str] | None] = mapped_column(JSON)
    """Queue mode: the trigger nodes the worker settles as skipped without running."""
    lease_token: Mapped[str | None] = mapped_column(ID)
    """Queue mode: the claim of the worker running it now (``tav.storage.leases``)."""
    lease_expires_at: Mapped[datetime | None]
    cancel_requested_at: Mapped[datetime | None]
    """Queue mode: when someone asked to cancel it; its worker stops it (added by a later
    migration, as is ``ExecutionDataRow.reuse``)."""


class ExecutionDataRow(Base):
    """The bulky part of an execution, compressed, outside the table that lists scan."""

    __tablename__ = "execution_data"

    execution_id: Mapped[str] = mapped_column(
        ForeignKey("executions.id", ondelete="CASCADE"), primary_key=True
    )
    input: Mapped[bytes | None] = mapped_column(LargeBinary)
    document: Mapped[bytes | None] = mapped_column(LargeBinary)
    result: Mapped[bytes | None] = mapped_column(LargeBinary)
    reuse: Mapped[bytes | None] = mapped_column(LargeBinary)
    """Queue mode: the earlier execution's node results a retry or a run from a node takes
    over, for the worker that runs it."""


class NodeRunRow(Base):
    """A settled node of a running execution (folded into ``execution_data`` at the end)."""

    __tablename__ = "node_runs"

    execution_id: Mapped[str] = mapped_column(
        ForeignKey("executions.id", ondelete="CASCADE"), primary_key=True
    )
    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class EventRow(Base):
    """An event of a running execution (folded into ``execution_data`` at the end)."""

    __tablename__ = "execution_events"

    execution_id: Mapped[str] = mapped_column(
        ForeignKey("executions.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[str] = mapped_column(Text)


class SettingRow(Base):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any]


class VariableRow(Base):
    __tablename__ = "variables"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any]
    updated_at: Mapped[datetime]


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="owner")
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    """When the user was disabled: they cannot sign in, and have no sessions or keys."""


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    """Whose key it is: it acts with their role. None for a key made before any account
    existed (``tav api-keys create`` on a new data dir): it acts as the owner, and becomes
    the owner's when the owner account is created."""


class SessionRow(Base):
    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class InviteRow(Base):
    """A one-time invitation to join with a role; only the hash of its token is kept."""

    __tablename__ = "invites"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]


class CredentialRow(Base):
    """A stored credential: only its ciphertext (``tav.credentials`` encrypts it)."""

    __tablename__ = "credentials"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    fields_set: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AICacheRow(Base):
    """A stored chat answer, by a hash of provider, model, messages and options."""

    __tablename__ = "ai_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(200))
    response: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class VectorCollectionRow(Base):
    """A named vector collection; its dimension is fixed by the first record."""

    __tablename__ = "vector_collections"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    dimension: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


class VectorDocumentRow(Base):
    """A text with its metadata and its embedding (float32 little-endian, sqlite-vec's
    format), searched with sqlite-vec on SQLite."""

    __tablename__ = "vector_documents"
    __table_args__ = (UniqueConstraint("collection", "doc_id"),)

    rowid: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    collection: Mapped[str] = mapped_column(
        String(200), ForeignKey("vector_collections.name", ondelete="CASCADE")
    )
    doc_id: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)


class TriggerStateRow(Base):
    """What an active trigger remembers across restarts: a schedule's last fired slot, a
    mailbox's UIDVALIDITY and last seen UID. ``value`` is JSON text, compared as text
    (``TriggerStateRepository.swap``), which both databases can do."""

    __tablename__ = "trigger_state"

    workflow_id: Mapped[str] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), primary_key=True
    )
    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class FileRow(Base):
    """A stored file: its content is on disk under the data dir's ``files/`` (the folder
    follows from ``kind``), never in the database."""

    __tablename__ = "files"
    __table_args__ = (
        Index("ix_files_created", "created_at"),
        Index("ix_files_execution", "execution_id"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    mime_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    """``upload``, ``export``, ``execution`` or ``email``."""
    execution_id: Mapped[str | None] = mapped_column(ID)
    """The execution that made it (no foreign key: a node's file may be stored before its
    execution's record is committed, and exports outlive their execution)."""
    created_at: Mapped[datetime]


class CollabDraftRow(Base):
    """The live draft of a workflow (``tav.collab``): a snapshot of its Yjs document, and
    the saved version it last took in. The updates made since are ``collab_updates``."""

    __tablename__ = "collab_drafts"

    workflow_id: Mapped[str] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), primary_key=True
    )
    base_version: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime]


class CollabUpdateRow(Base):
    """Updates of a live draft written since its snapshot, in the order of ``id``."""

    __tablename__ = "collab_updates"
    __table_args__ = (Index("ix_collab_updates_workflow", "workflow_id", "id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    workflow_id: Mapped[str] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class LimitHoldRow(Base):
    """A place taken in a limit that the processes of queue mode share
    (``tav.storage.limits``): a pool's or a credential's slot while a node or a model call
    holds it (its holder renews ``expires_at`` until it gives the slot back), the start of
    a call within a requests-per-minute window, or a Retry-After hold-off. Each is gone
    at ``expires_at``."""

    __tablename__ = "limit_holds"
    __table_args__ = (Index("ix_limit_holds_key", "key", "expires_at"),)

    token: Mapped[str] = mapped_column(ID, primary_key=True)
    key: Mapped[str] = mapped_column(String(300))
    holder: Mapped[str | None] = mapped_column(String(200))
    """The process renewing it (``host:pid``); none for a window's start or a hold-off."""
    expires_at: Mapped[datetime]


class WaitRow(Base):
    """A wait node an execution reached (``tav.storage.waits``): ``open`` until it is
    decided (by people, a resume call, its timer or its timeout) or its execution is
    cancelled. Only the SHA-256 of its link's token is kept; ``due_at`` (a timer, an
    approval's timeout) is emptied once it is no longer open, so the index holds only
    what the timer loop may still have to fire."""

    __tablename__ = "waits"
    __table_args__ = (Index("ix_waits_due", "due_at"),)

    execution_id: Mapped[str] = mapped_column(
        ForeignKey("executions.id", ondelete="CASCADE"), primary_key=True
    )
    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    """``timer``, ``webhook`` or ``approval``."""
    status: Mapped[str] = mapped_column(String(16))
    """``open``, ``decided`` or ``cancelled``."""
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    spec: Mapped[dict[str, Any]]
    """What it waits for, as the node rendered it (``tav.core.waits.WaitRequest``)."""
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decisions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    """The approvals taken so far, while more are needed."""
    outcome: Mapped[dict[str, Any] | None]
    """Once decided: what the node settles with (``tav.core.waits.WaitOutcome``)."""
    state: Mapped[dict[str, Any] | None] = mapped_column(JSON, deferred=True)
    """What a node that runs again once its wait is decided parked with
    (``WaitRequest.state``); read only when its execution resumes."""


class SpentWaitLinkRow(Base):
    """The token (its SHA-256) of a node's wait that the node's next wait replaced: its
    link answers that the wait is over (410), not that no wait has it (404)."""

    __tablename__ = "spent_wait_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    execution_id: Mapped[str] = mapped_column(
        ForeignKey("executions.id", ondelete="CASCADE"), index=True
    )
    node_id: Mapped[str] = mapped_column(String(64))
