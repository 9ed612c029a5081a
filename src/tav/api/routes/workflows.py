"""Workflows: create, list, get, update (every save keeps a version), versions, validate,
import and export.

Saves are guarded optimistically: ``If-Match: "<version>"`` (the ``ETag`` of every
workflow response) or ``?base_version=`` makes an update fail with 409 when someone saved
since. Activation (``/activate``, ``/deactivate`` or ``PATCH``) changes no version; it goes
through the server's trigger manager, which arms or disarms the triggers at once, and
refuses a workflow with nothing to arm (422) or whose webhook another holds (409).
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response

from tav.api import errors
from tav.api.deps import ServerDep
from tav.api.documents import checked_document, download, read_document
from tav.api.errors import ApiError
from tav.api.schemas.workflows import (
    ProblemPublic,
    ValidationReport,
    VersionPublic,
    VersionSummary,
    WorkflowPage,
    WorkflowPublic,
    WorkflowSummary,
    WorkflowUpdate,
)
from tav.core.errors import NotFound, WorkflowInvalid
from tav.server import STORED_ID, Server
from tav.storage.workflows import StoredWorkflow, WorkflowVersion

router = APIRouter(prefix="/workflows", tags=["workflows"])

MAX_VERSION = 2**31 - 1
ETAG = re.compile(r'^(?:W/)?"?([0-9]{1,9})"?$')  # below 2**31: an SQL INTEGER
EXAMPLE = {
    "schema": 1,
    "name": "Greet",
    "nodes": [
        {"id": "start", "type": "trigger.manual"},
        {"id": "greet", "type": "core.set", "params": {"values": {"text": "Hello"}}},
    ],
    "edges": [{"from": "start", "to": "greet"}],
}
DOCUMENT_BODY = {
    "required": True,
    "description": "A workflow document (format v1) as JSON, or as YAML text under a YAML "
    "content type (application/yaml, application/x-yaml, text/yaml).",
    "content": {
        "application/json": {"schema": {"type": "object"}, "example": EXAMPLE},
        "application/yaml": {"schema": {"type": "string"}},
    },
}

Document = Annotated[
    dict[str, Any],
    Body(description="A workflow document, format v1.", examples=[EXAMPLE]),
]
Active = Annotated[bool, Query(description="Store the workflow active (triggers live).")]
Version = Annotated[int, Path(ge=1, le=MAX_VERSION)]


async def stored_workflow(workflow_id: str, server: ServerDep) -> StoredWorkflow:
    workflow = await server.workflows.get(workflow_id) if STORED_ID.match(workflow_id) else None
    if workflow is None:
        raise NotFound(f"no workflow with id {workflow_id!r}")
    return workflow


async def base_version(
    if_match: Annotated[
        str | None,
        Header(description='Update only if the workflow is at this version: "3" (its ETag).'),
    ] = None,
    base_version: Annotated[
        int | None,
        Query(ge=1, le=MAX_VERSION, description="Like If-Match: update only from this version."),
    ] = None,
) -> int | None:
    """The version an update is based on, if the caller names one (409 when stale)."""
    if if_match is None or if_match.strip() == "*":
        return base_version
    match = ETAG.match(if_match.strip())
    if match is None:
        raise ApiError(422, "request_invalid", 'If-Match must be a version: "3"')
    if base_version is not None and base_version != int(match[1]):
        raise ApiError(422, "request_invalid", "If-Match and base_version disagree")
    return int(match[1])


Stored = Annotated[StoredWorkflow, Depends(stored_workflow)]
BaseVersion = Annotated[int | None, Depends(base_version)]


def _public(workflow: StoredWorkflow, response: Response) -> WorkflowPublic:
    response.headers["ETag"] = f'"{workflow.version}"'
    return WorkflowPublic.model_validate(workflow)


def _found(workflow: StoredWorkflow | None, workflow_id: str) -> StoredWorkflow:
    # Deleted between the lookup and the save.
    if workflow is None:
        raise NotFound(f"no workflow with id {workflow_id!r}")
    return workflow


async def _checked(server: Server, data: Any) -> dict[str, Any]:
    """``checked_document`` on a worker thread: checking a large document, and compiling
    its templates above all (about half a millisecond each), must not hold up the other
    requests."""
    return await asyncio.to_thread(checked_document, server, data)


async def _create(server: Server, data: Any, response: Response, active: bool) -> WorkflowPublic:
    document = await _checked(server, data)
    if active:
        await server.triggers.check(None, document)
    workflow = await server.workflows.create(document, active=active)
    if active:
        await server.triggers.refresh(workflow.id)
    return _public(workflow, response)


async def _save(
    server: Server, workflow: StoredWorkflow, document: dict[str, Any], base: int | None
) -> StoredWorkflow:
    """Save a new version; an active workflow's triggers are checked first and re-armed."""
    if workflow.active:
        await server.triggers.check(workflow.id, document)
    saved = _found(
        await server.workflows.update(workflow.id, document, base_version=base), workflow.id
    )
    if saved.active or workflow.active:
        await server.triggers.refresh(workflow.id)
    return saved


@router.post("", status_code=201)
async def create_workflow(
    document: Document, server: ServerDep, response: Response, active: Active = False
) -> WorkflowPublic:
    """Store a new workflow as version 1, inactive unless ``?active=true``. The document
    is validated against the installed node types first: 422 lists every problem, each
    located by node id, edge index and field."""
    return await _create(server, document, response, active)


@router.get("")
async def list_workflows(
    server: ServerDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    search: Annotated[
        str | None,
        Query(max_length=200, pattern=r"^[^\x00]*$", description="Part of the name, any case."),
    ] = None,
) -> WorkflowPage:
    """Workflows, most recently saved first, without their documents."""
    found, total = await server.workflows.find(search=search, limit=limit, offset=offset)
    items = [WorkflowSummary.model_validate(workflow) for workflow in found]
    return WorkflowPage(items=items, total=total, limit=limit, offset=offset)


@router.post("/validate", openapi_extra={"requestBody": DOCUMENT_BODY})
async def validate_workflow(request: Request, server: ServerDep) -> ValidationReport:
    """Check a document as a save would, without storing anything. Documents that are
    not even JSON (or YAML) are reported as problems too."""
    try:
        data = await read_document(request, max_bytes=server.settings.max_workflow_bytes)
        await _checked(server, data)
    except WorkflowInvalid as exc:
        problems = [ProblemPublic.model_validate(p.to_dict()) for p in exc.problems]
        return ValidationReport(valid=False, problems=problems)
    return ValidationReport(valid=True, problems=[])


@router.post("/import", status_code=201, openapi_extra={"requestBody": DOCUMENT_BODY})
async def import_workflow(
    request: Request, server: ServerDep, response: Response, active: Active = False
) -> WorkflowPublic:
    """Store a new workflow from a JSON or YAML document (as an export wrote it)."""
    data = await read_document(request, max_bytes=server.settings.max_workflow_bytes)
    return await _create(server, data, response, active)


@router.get("/{workflow_id}")
async def get_workflow(workflow: Stored, response: Response) -> WorkflowPublic:
    """The workflow with its current document; the ``ETag`` is its version."""
    return _public(workflow, response)


@router.put("/{workflow_id}")
async def update_workflow(
    workflow: Stored, document: Document, server: ServerDep, response: Response, base: BaseVersion
) -> WorkflowPublic:
    """Save the document as a new version (409 when ``If-Match`` is stale). An active
    workflow's triggers are re-armed; a change that cannot be active is refused (422, 409)."""
    saved = await _save(server, workflow, await _checked(server, document), base)
    return _public(saved, response)


@router.patch("/{workflow_id}")
async def change_workflow(
    workflow: Stored, body: WorkflowUpdate, server: ServerDep, response: Response
) -> WorkflowPublic:
    """Activate or deactivate the workflow, as ``/activate`` and ``/deactivate`` do."""
    return await _set_active(server, workflow.id, body.active, response)


@router.post("/{workflow_id}/activate", responses=errors.responses(404, 409, 422))
async def activate_workflow(
    workflow: Stored, server: ServerDep, response: Response
) -> WorkflowPublic:
    """Arm the workflow's triggers now and at every start of the server, until it is
    deactivated. 422 if it has no trigger but ``trigger.manual`` (or one that cannot be
    armed); 409 if another active workflow holds its webhook path and method
    (``details.workflow_id`` names it)."""
    return await _set_active(server, workflow.id, True, response)


@router.post("/{workflow_id}/deactivate", responses=errors.responses(404))
async def deactivate_workflow(
    workflow: Stored, server: ServerDep, response: Response
) -> WorkflowPublic:
    """Disarm the workflow's triggers at once; runs they started go on."""
    return await _set_active(server, workflow.id, False, response)


async def _set_active(
    server: Server, workflow_id: str, active: bool, response: Response
) -> WorkflowPublic:
    if active:
        changed = await server.triggers.activate(workflow_id)
    else:
        changed = await server.triggers.deactivate(workflow_id)
    assert isinstance(changed, StoredWorkflow)
    return _public(changed, response)


@router.delete("/{workflow_id}", status_code=204)
async def delete_workflow(workflow_id: str, server: ServerDep) -> None:
    """Delete the workflow and its versions; its executions stay, unlinked."""
    if not STORED_ID.match(workflow_id) or not await server.workflows.delete(workflow_id):
        raise NotFound(f"no workflow with id {workflow_id!r}")
    await server.triggers.refresh(workflow_id)


@router.get("/{workflow_id}/versions")
async def list_versions(workflow: Stored, server: ServerDep) -> list[VersionSummary]:
    """Every saved version, newest first."""
    versions = await server.workflows.versions(workflow.id)
    return [VersionSummary.model_validate(version) for version in versions]


async def _version(server: Server, workflow_id: str, version: int) -> WorkflowVersion:
    found = await server.workflows.version(workflow_id, version)
    if found is None:
        raise NotFound(f"workflow {workflow_id!r} has no version {version}")
    return found


@router.get("/{workflow_id}/versions/{version}")
async def get_version(workflow: Stored, version: Version, server: ServerDep) -> VersionPublic:
    """One saved version with its document."""
    return VersionPublic.model_validate(await _version(server, workflow.id, version))


@router.post("/{workflow_id}/versions/{version}/restore")
async def restore_version(
    workflow: Stored, version: Version, server: ServerDep, response: Response, base: BaseVersion
) -> WorkflowPublic:
    """Save that version's document again, as a new version (it must still validate)."""
    old = await _version(server, workflow.id, version)
    saved = await _save(server, workflow, await _checked(server, old.document), base)
    return _public(saved, response)


@router.get(
    "/{workflow_id}/export",
    response_class=Response,
    responses={
        200: {
            "description": "The document as a file.",
            "content": {"application/json": {}, "application/yaml": {}},
        }
    },
)
async def export_workflow(
    workflow: Stored,
    server: ServerDep,
    format: Annotated[Literal["json", "yaml"], Query()] = "json",
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
) -> Response:
    """Download the document (of the current version, or of ``version``) as a file."""
    document = workflow.document
    if version is not None:
        document = (await _version(server, workflow.id, version)).document
    return download(document, workflow.name, format)
