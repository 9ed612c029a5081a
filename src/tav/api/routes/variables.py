"""Global variables, ``vars.<name>`` in every workflow's templates (a workflow's own
``vars`` win over them). Executions see the values as they were when they started."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from tav.api.access import requires
from tav.api.deps import VariablesDep
from tav.api.documents import value_problems
from tav.api.errors import ApiError
from tav.api.schemas.variables import VARIABLE_NAME, VariablePublic, VariableUpdate
from tav.core.errors import NotFound
from tav.core.roles import Role

router = APIRouter(
    prefix="/variables", tags=["variables"], dependencies=[requires(Role.viewer, Role.editor)]
)

MAX_VALUE_BYTES = 1024 * 1024

Name = Annotated[
    str,
    Path(pattern=VARIABLE_NAME, description="Letters, digits and '_', not starting with a digit."),
]


@router.get("")
async def list_variables(variables: VariablesDep) -> list[VariablePublic]:
    """Every variable, by name."""
    found = await variables.all()
    return [VariablePublic(name=name, value=value) for name, value in found.items()]


@router.get("/{name}")
async def get_variable(name: Name, variables: VariablesDep) -> VariablePublic:
    found, value = await variables.get(name)
    if not found:
        raise NotFound(f"no variable {name!r}")
    return VariablePublic(name=name, value=value)


@router.put("/{name}")
async def put_variable(name: Name, body: VariableUpdate, variables: VariablesDep) -> VariablePublic:
    """Create or replace the variable; its value is any JSON value up to 1 MiB."""
    problems = value_problems(body.value, max_bytes=MAX_VALUE_BYTES, location="body.value")
    if problems:
        raise ApiError(422, "request_invalid", "the value is not storable JSON", problems)
    await variables.put(name, body.value)
    return VariablePublic(name=name, value=body.value)


@router.delete("/{name}", status_code=204)
async def delete_variable(name: Name, variables: VariablesDep) -> None:
    if not await variables.delete(name):
        raise NotFound(f"no variable {name!r}")
