"""Stored workflows and their versions. Every save keeps a version.

Every run reads its workflow, so ``WorkflowRepository.get`` keeps what it read for
``WORKFLOWS_CACHE_TTL_S`` seconds; updating, (de)activating or deleting a workflow through
the repository drops it at once. The time to live bounds how long a change made by another
process (a second server on the same database) goes unseen here."""

from __future__ import annotations

import re
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ScalarSelect, delete, func, select, update
from sqlalchemy.orm import defer

from tav.core.errors import Conflict
from tav.core.events import utcnow
from tav.core.model import Model
from tav.core.roles import UserRef
from tav.core.states import ExecutionStatus
from tav.storage.cache import TTLCache
from tav.storage.db import Database
from tav.storage.models import ExecutionRow, UserRow, WorkflowRow, WorkflowVersionRow

WORKFLOWS_CACHE_TTL_S = 5.0
VERSIONS_KEPT = 256
STORED_ID = re.compile(r"^[0-9a-f]{32}$")
"""What the id of a stored workflow looks like (``uuid4().hex``)."""


class WorkflowInfo(Model):
    """A stored workflow without its document (what lists show)."""

    id: str
    name: str
    description: str
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime


class StoredWorkflow(WorkflowInfo):
    document: dict[str, Any]


class LastExecution(Model):
    """A workflow's latest execution (by start time), as its list entry shows it."""

    execution_id: str
    status: ExecutionStatus
    started_at: datetime
    finished_at: datetime | None


class ListedWorkflow(WorkflowInfo):
    """A workflow as a list shows it: with its latest execution, if it ever ran."""

    last_execution: LastExecution | None


class VersionInfo(Model):
    """One saved version without its document."""

    version: int
    name: str
    created_at: datetime
    created_by: UserRef | None = None
    """Who saved it (none from the CLI or a key made before any account)."""


class WorkflowVersion(VersionInfo):
    document: dict[str, Any]


class VersionConflict(Conflict):
    """The workflow changed since the version the caller based its update on."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the workflow is at version {current}", {"current_version": current})
        self.current = current


class WorkflowRepository:
    def __init__(self, db: Database, *, cache_ttl_s: float = WORKFLOWS_CACHE_TTL_S) -> None:
        self.db = db
        self._cache: TTLCache[str, StoredWorkflow] = TTLCache(cache_ttl_s, max_size=256)
        self._documents: OrderedDict[tuple[str, int], dict[str, Any]] = OrderedDict()
        """Documents of saved versions read (``version_document``), the newest used last."""

    async def create(
        self, document: dict[str, Any], *, active: bool = False, created_by: str | None = None
    ) -> StoredWorkflow:
        """Store a new workflow as version 1, saved by the user ``created_by``."""
        now = utcnow()
        row = WorkflowRow(
            id=uuid.uuid4().hex,
            name=document["name"],
            description=document.get("description", ""),
            active=active,
            version=1,
            document=document,
            created_at=now,
            updated_at=now,
        )
        async with self.db.transaction() as session:
            session.add(row)
            await session.flush()
            session.add(
                WorkflowVersionRow(
                    workflow_id=row.id,
                    version=1,
                    document=document,
                    created_at=now,
                    created_by=created_by,
                )
            )
        return _stored(row)

    async def get(self, workflow_id: str) -> StoredWorkflow | None:
        """The workflow at its current version. Callers must not change what they get: it
        may be the cached copy others get too."""
        cached = self._cache.get(workflow_id)
        if cached is not None:
            return cached
        generation = self._cache.generation()
        async with self.db.session() as session:
            row = await session.get(WorkflowRow, workflow_id)
            found = _stored(row) if row else None
        if found is not None:
            self._cache.put(workflow_id, found, generation)
        return found

    async def update(
        self,
        workflow_id: str,
        document: dict[str, Any],
        *,
        active: bool | None = None,
        base_version: int | None = None,
        created_by: str | None = None,
    ) -> StoredWorkflow | None:
        """Save a new version (saved by the user ``created_by``); ``base_version`` guards
        against overwriting someone else's save (raises ``VersionConflict``).

        The version is bumped by one conditional UPDATE, not read first: concurrent saves
        then queue on the row lock (SQLite: the write lock) instead of both reading the
        same version, and a stale ``base_version`` matches no row.
        """
        now = utcnow()
        values: dict[str, Any] = {
            "version": WorkflowRow.version + 1,
            "document": document,
            "name": document["name"],
            "description": document.get("description", ""),
            "updated_at": now,
        }
        if active is not None:
            values["active"] = active
        conditions = [WorkflowRow.id == workflow_id]
        if base_version is not None:
            conditions.append(WorkflowRow.version == base_version)
        statement = update(WorkflowRow).where(*conditions).values(values).returning(WorkflowRow)
        async with self.db.transaction() as session:
            row = await session.scalar(statement)
            if row is None:
                current = await session.scalar(
                    select(WorkflowRow.version).where(WorkflowRow.id == workflow_id)
                )
                if current is None:
                    return None
                raise VersionConflict(current)
            session.add(
                WorkflowVersionRow(
                    workflow_id=row.id,
                    version=row.version,
                    document=document,
                    created_at=now,
                    created_by=created_by,
                )
            )
        self._cache.invalidate(workflow_id)
        return _stored(row)

    async def set_active(self, workflow_id: str, active: bool) -> StoredWorkflow | None:
        """Activate or deactivate; no new version (the document does not change)."""
        statement = (
            update(WorkflowRow)
            .where(WorkflowRow.id == workflow_id)
            .values(active=active, updated_at=utcnow())
            .returning(WorkflowRow)
        )
        async with self.db.transaction() as session:
            row = await session.scalar(statement)
        self._cache.invalidate(workflow_id)
        return _stored(row) if row else None

    async def delete(self, workflow_id: str) -> bool:
        async with self.db.transaction() as session:
            result = await session.execute(delete(WorkflowRow).where(WorkflowRow.id == workflow_id))
        self._cache.invalidate(workflow_id)
        for key in [key for key in self._documents if key[0] == workflow_id]:
            del self._documents[key]
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def active_versions(self) -> dict[str, int]:
        """The id and version of every active workflow (what the trigger manager polls)."""
        async with self.db.session() as session:
            rows = await session.execute(
                select(WorkflowRow.id, WorkflowRow.version).where(WorkflowRow.active.is_(True))
            )
            return dict(rows.all())

    async def active_workflows(self, ids: Sequence[str] | None = None) -> list[StoredWorkflow]:
        """The active workflows (of ``ids``), read from the database, not the cache."""
        statement = select(WorkflowRow).where(WorkflowRow.active.is_(True))
        if ids is not None:
            statement = statement.where(WorkflowRow.id.in_(list(ids)))
        async with self.db.session() as session:
            return [_stored(row) for row in await session.scalars(statement)]

    async def offered_tools(self) -> list[StoredWorkflow]:
        """The workflows whose document offers them as an MCP tool (``mcp.name``), oldest
        first, read from the database (not the cache): a filter on the document's JSON,
        which SQLite and PostgreSQL both evaluate."""
        statement = (
            select(WorkflowRow)
            .where(WorkflowRow.document["mcp"]["name"].as_string().is_not(None))
            .order_by(WorkflowRow.created_at, WorkflowRow.id)
        )
        async with self.db.session() as session:
            return [_stored(row) for row in await session.scalars(statement)]

    async def find(
        self, *, search: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[ListedWorkflow], int]:
        """A page of workflows, most recently saved first, each with its latest execution,
        and how many match in all. ``search`` matches names case-insensitively.

        The page and the latest executions are one query: a correlated subquery per row
        that the ``(workflow_id, started_at)`` index answers with one seek, rather than a
        query per workflow, or a window over every execution of every workflow."""
        conditions = []
        if search:
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(WorkflowRow.name.ilike(f"%{escaped}%", escape="\\"))
        async with self.db.session() as session:
            total = await session.scalar(
                select(func.count()).select_from(WorkflowRow).where(*conditions)
            )
            rows = await session.execute(
                select(WorkflowRow, *_LAST_EXECUTION_COLUMNS)
                .outerjoin(ExecutionRow, ExecutionRow.id == _latest_execution_id())
                .options(defer(WorkflowRow.document))
                .where(*conditions)
                .order_by(WorkflowRow.updated_at.desc(), WorkflowRow.id)
                .limit(limit)
                .offset(offset)
            )
            return [_listed(*found) for found in rows], int(total or 0)

    async def versions(self, workflow_id: str) -> list[VersionInfo]:
        """Every saved version, newest first (none for an unknown workflow)."""
        name = WorkflowVersionRow.document["name"].as_string()
        async with self.db.session() as session:
            rows = await session.execute(
                select(
                    WorkflowVersionRow.version,
                    name,
                    WorkflowVersionRow.created_at,
                    WorkflowVersionRow.created_by,
                    UserRow.email,
                )
                .outerjoin(UserRow, UserRow.id == WorkflowVersionRow.created_by)
                .where(WorkflowVersionRow.workflow_id == workflow_id)
                .order_by(WorkflowVersionRow.version.desc())
            )
            return [
                VersionInfo(
                    version=version,
                    name=name or "",
                    created_at=created_at,
                    created_by=user_ref(user_id, email),
                )
                for version, name, created_at, user_id, email in rows
            ]

    async def version_document(self, workflow_id: str, version: int) -> dict[str, Any] | None:
        """The document of a saved version. A version never changes once saved (a save
        makes the next one), so the documents read are kept (the last ``VERSIONS_KEPT``
        used): an execution of a workflow run again and again reads it once. Callers
        must not change it. Whether the workflow is still stored is ``get``'s to say."""
        key = (workflow_id, version)
        document = self._documents.get(key)
        if document is not None:
            self._documents.move_to_end(key)
            return document
        query = select(WorkflowVersionRow.document).where(
            WorkflowVersionRow.workflow_id == workflow_id, WorkflowVersionRow.version == version
        )
        async with self.db.session() as session:
            document = await session.scalar(query)
        if document is not None:
            self._documents[key] = document
            if len(self._documents) > VERSIONS_KEPT:
                self._documents.popitem(last=False)
        return document

    async def version(self, workflow_id: str, version: int) -> WorkflowVersion | None:
        query = (
            select(WorkflowVersionRow, UserRow.email)
            .outerjoin(UserRow, UserRow.id == WorkflowVersionRow.created_by)
            .where(
                WorkflowVersionRow.workflow_id == workflow_id,
                WorkflowVersionRow.version == version,
            )
        )
        async with self.db.session() as session:
            found = (await session.execute(query)).first()
            return _version(*found) if found else None


def user_ref(user_id: str | None, email: str | None) -> UserRef | None:
    """The user a record names, if it names one that exists."""
    return UserRef(id=user_id, email=email) if user_id and email else None


def _version(row: WorkflowVersionRow, email: str | None) -> WorkflowVersion:
    return WorkflowVersion(
        version=row.version,
        name=row.document.get("name", ""),
        document=row.document,
        created_at=row.created_at,
        created_by=user_ref(row.created_by, email),
    )


def _info(row: WorkflowRow) -> WorkflowInfo:
    return WorkflowInfo(
        id=row.id,
        name=row.name,
        description=row.description,
        active=row.active,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


_LAST_EXECUTION_COLUMNS = (
    ExecutionRow.id,
    ExecutionRow.status,
    ExecutionRow.started_at,
    ExecutionRow.finished_at,
)


def _latest_execution_id() -> ScalarSelect[str]:
    """The id of the latest execution of the workflow of the outer query's row."""
    return (
        select(ExecutionRow.id)
        .where(ExecutionRow.workflow_id == WorkflowRow.id)
        .order_by(ExecutionRow.started_at.desc(), ExecutionRow.id.desc())
        .limit(1)
        .correlate(WorkflowRow)
        .scalar_subquery()
    )


def _listed(
    row: WorkflowRow,
    execution_id: str | None,
    status: str | None,
    started_at: datetime | None,
    finished_at: datetime | None,
) -> ListedWorkflow:
    last = None
    if execution_id is not None and status is not None and started_at is not None:
        last = LastExecution(
            execution_id=execution_id,
            status=ExecutionStatus(status),
            started_at=started_at,
            finished_at=finished_at,
        )
    return ListedWorkflow(**_info(row).model_dump(), last_execution=last)


def _stored(row: WorkflowRow) -> StoredWorkflow:
    return StoredWorkflow(**_info(row).model_dump(), document=row.document)
