"""Workflows: what the API returns, and the few bodies that are not a workflow document.

Create, update and import take the workflow document itself (format v1,
docs/reference/workflow-format.md) as the body, so there is no ``WorkflowCreate`` model:
the document is validated by the workflow parser and the node registry, which locate
every problem, rather than by a request model.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from tav.api.openapi import DOCUMENT_REF
from tav.core.roles import UserRef
from tav.core.states import ExecutionStatus

# In an allOf: Pydantic resolves a bare $ref that has siblings (a description) itself.
Document = Annotated[dict[str, Any], WithJsonSchema({"allOf": [DOCUMENT_REF]})]
"""A stored workflow document: given back as stored, described as ``WorkflowDocument``."""


class WorkflowSummary(BaseModel):
    """A stored workflow without its document, as lists show it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str
    active: bool = Field(description="Whether its triggers are live.")
    version: int = Field(description="The current version; every save adds one.")
    created_at: datetime
    updated_at: datetime


class WorkflowPublic(WorkflowSummary):
    document: Document = Field(description="The workflow document of this version.")


class LastExecutionPublic(BaseModel):
    """The latest execution of a workflow, by start time."""

    model_config = ConfigDict(from_attributes=True)

    execution_id: str
    status: ExecutionStatus
    started_at: datetime
    finished_at: datetime | None


class WorkflowListItem(WorkflowSummary):
    """A workflow in a list: its summary and how it last ran."""

    last_execution: LastExecutionPublic | None = Field(
        description="Its latest execution (any mode), or null if it never ran."
    )


class WorkflowPage(BaseModel):
    items: list[WorkflowListItem]
    total: int = Field(description="How many workflows match, on every page.")
    limit: int
    offset: int


class WorkflowUpdate(BaseModel):
    """Changes that are not a new version of the document."""

    model_config = ConfigDict(extra="forbid")

    active: bool = Field(description="Activate (true) or deactivate (false) its triggers.")


class VersionSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    name: str = Field(description="The workflow's name in this version.")
    created_at: datetime
    created_by: UserRef | None = Field(
        None, description="The member who saved it; null from the CLI."
    )


class VersionPublic(VersionSummary):
    document: Document


class ProblemPublic(BaseModel):
    """One problem of a workflow document, located by node id, edge index and field."""

    location: str = Field(description="Where, for people: \"node 'fetch', params.url\".")
    node: str | None = None
    edge: int | None = Field(None, description="Index into the document's edges.")
    field: str | None = Field(None, description="Dotted path in the node, edge or document.")
    message: str


class ValidationReport(BaseModel):
    valid: bool
    problems: list[ProblemPublic]
