"""Stored workflows and their versions. Every save keeps a version."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, func, select

from tav.core.events import utcnow
from tav.storage.db import Database
from tav.storage.models import WorkflowRow, WorkflowVersionRow


class StoredWorkflow(BaseModel):
    id: str
    name: str
    description: str
    active: bool
    version: int
    document: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class WorkflowVersion(BaseModel):
    version: int
    document: dict[str, Any]
    created_at: datetime


class VersionConflict(Exception):
    """The workflow changed since the version the caller based its update on."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the workflow is at version {current}")
        self.current = current


class WorkflowRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, document: dict[str, Any], *, active: bool = False) -> StoredWorkflow:
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
                WorkflowVersionRow(workflow_id=row.id, version=1, document=document, created_at=now)
            )
        return _stored(row)

    async def get(self, workflow_id: str) -> StoredWorkflow | None:
        async with self.db.session() as session:
            row = await session.get(WorkflowRow, workflow_id)
            return _stored(row) if row else None

    async def update(
        self,
        workflow_id: str,
        document: dict[str, Any],
        *,
        active: bool | None = None,
        base_version: int | None = None,
    ) -> StoredWorkflow | None:
        """Save a new version; ``base_version`` guards against overwriting someone
        else's save (raises ``VersionConflict``)."""
        async with self.db.transaction() as session:
            row = await session.get(WorkflowRow, workflow_id, with_for_update=True)
            if row is None:
                return None
            if base_version is not None and base_version != row.version:
                raise VersionConflict(row.version)
            now = utcnow()
            row.version += 1
            row.document = document
            row.name = document["name"]
            row.description = document.get("description", "")
            if active is not None:
                row.active = active
            row.updated_at = now
            session.add(
                WorkflowVersionRow(
                    workflow_id=row.id, version=row.version, document=document, created_at=now
                )
            )
        return _stored(row)

    async def set_active(self, workflow_id: str, active: bool) -> StoredWorkflow | None:
        async with self.db.transaction() as session:
            row = await session.get(WorkflowRow, workflow_id)
            if row is None:
                return None
            row.active = active
            row.updated_at = utcnow()
        return _stored(row)

    async def delete(self, workflow_id: str) -> bool:
        async with self.db.transaction() as session:
            result = await session.execute(delete(WorkflowRow).where(WorkflowRow.id == workflow_id))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def find(
        self, *, search: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[StoredWorkflow], int]:
        conditions = []
        if search:
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(WorkflowRow.name.ilike(f"%{escaped}%", escape="\\"))
        async with self.db.session() as session:
            total = await session.scalar(
                select(func.count()).select_from(WorkflowRow).where(*conditions)
            )
            rows = await session.scalars(
                select(WorkflowRow)
                .where(*conditions)
                .order_by(WorkflowRow.updated_at.desc(), WorkflowRow.id)
                .limit(limit)
                .offset(offset)
            )
            return [_stored(row) for row in rows], int(total or 0)

    async def versions(self, workflow_id: str) -> list[WorkflowVersion]:
        async with self.db.session() as session:
            rows = await session.scalars(
                select(WorkflowVersionRow)
                .where(WorkflowVersionRow.workflow_id == workflow_id)
                .order_by(WorkflowVersionRow.version.desc())
            )
            return [
                WorkflowVersion(version=r.version, document=r.document, created_at=r.created_at)
                for r in rows
            ]

    async def version(self, workflow_id: str, version: int) -> WorkflowVersion | None:
        async with self.db.session() as session:
            row = await session.get(WorkflowVersionRow, (workflow_id, version))
            if row is None:
                return None
            return WorkflowVersion(
                version=row.version, document=row.document, created_at=row.created_at
            )


def _version(row: WorkflowVersionRow) -> WorkflowVersion:
    return WorkflowVersion(version=row.version, document=row.document, created_at=row.created_at)


def _stored(row: WorkflowRow) -> StoredWorkflow:
    return StoredWorkflow(
        id=row.id,
        name=row.name,
        description=row.description,
        active=row.active,
        version=row.version,
        document=row.document,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
