"""Vector collections: list them, delete one. Workflows fill and search them
(``ai.vector_upsert``, ``ai.vector_search``, ``ai.rag_answer``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from tav.api.access import requires
from tav.api.deps import VectorsDep
from tav.api.schemas.collections import CollectionPublic
from tav.core.errors import NotFound
from tav.core.roles import Role

router = APIRouter(
    prefix="/collections", tags=["collections"], dependencies=[requires(Role.viewer, Role.editor)]
)

Name = Annotated[str, Path(min_length=1, max_length=200, description="The collection's name.")]


@router.get("")
async def list_collections(vectors: VectorsDep) -> list[CollectionPublic]:
    """Every vector collection, by name, with its dimension and number of records."""
    return [
        CollectionPublic(
            name=info.name, dimension=info.dimension, count=info.count, created_at=info.created_at
        )
        for info in await vectors.collections()
    ]


@router.delete("/{name}", status_code=204)
async def delete_collection(name: Name, vectors: VectorsDep) -> None:
    """Delete the collection and every record in it."""
    if await vectors.collection(name) is None:
        raise NotFound(f"no vector collection {name!r}")
    await vectors.delete(name)
