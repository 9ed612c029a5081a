"""The node catalog: every node type with its params JSON Schema and ports."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tav.api.deps import ServerDep

router = APIRouter(prefix="/nodes", tags=["nodes"])


@router.get("")
async def list_nodes(server: ServerDep) -> list[dict[str, Any]]:
    return server.registry.catalog()


@router.get("/{type_id}")
async def get_node(type_id: str, server: ServerDep) -> dict[str, Any]:
    return server.registry.describe(type_id)
