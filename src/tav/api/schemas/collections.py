"""Vector collections: what the retrieval nodes store (``ai.vector_upsert``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class CollectionPublic(BaseModel):
    name: str
    dimension: int = Field(description="Size of every vector, fixed by the first record.")
    count: int = Field(description="Records in the collection.")
    created_at: datetime
