"""The live draft of a workflow, as ``GET /api/v1/workflows/{id}/draft`` gives it."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from tav.api.schemas.workflows import ProblemPublic
from tav.core.model import Model


class DraftPublic(Model):
    workflow_id: str
    version: int = Field(description="The saved version the draft is based on.")
    document: dict[str, Any] = Field(
        description="The draft as a workflow document (format v1), as it stands now."
    )
    valid: bool = Field(description="Whether saving it now would pass the checks.")
    problems: list[ProblemPublic] = Field(
        description="What a save would refuse, each located by node, edge and field."
    )
