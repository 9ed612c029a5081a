"""Workflows: create, list, get, update (every save keeps a version), versions, validate,
import and export. ``router`` needs an editor to change anything; ``checks`` holds
``/validate``, which takes a document but stores nothing, and so is a viewer's too.

Saves are guarded optimistically: ``If-Match: "<version>"`` (the ``ETag`` of every
workflow response) or ``?base_version=`` makes an update fail with 409 when someone saved
since. Activation (``/activate``, ``/deactivate`` or ``PATCH``) changes no version; it arms
or disarms the triggers at once, and refuses a workflow with nothing to arm (422) or whose
webhook another holds (409). The use cases are ``tav.app.workflows.Workflows``'s; these
routes translate HTTP.
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response

from tav.api import errors
from tav.api.access import requires
from tav.api.deps import CurrentPrincipal, SettingsDep, WorkflowsDep
from tav.api.documents import download, read_document, storable_document
from tav.api.errors import ApiError
from tav.api.schemas.workflows import (
    ProblemPublic,
    ValidationReport,
    VersionPublic,
    VersionSummary,
    WorkflowListItem,
    WorkflowPage,
    WorkflowPublic,
    WorkflowUpdate,
)
from tav.app.workflows import Workflows
from tav.core.errors import WorkflowInvalid
from tav.core.roles import Role
from tav.settings import Settings
from tav.storage.workflows import StoredWorkflow

router = APIRouter(
    prefix="/workflows", tags=["workflows"], dependencies=[requires(Role.viewer, Role.editor)]
)
checks = APIRouter(prefix="/workflows", tags=["workflows"], dependencies=[requires(Role.viewer)])
"""Routes that take a body but change nothing: a viewer's editor checks what it shows."""

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


async def stored_workflow(workflow_id: str, workflows: WorkflowsDep) -> StoredWorkflow:
    return await workflows.get(workflow_id)


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


def _by(principal: CurrentPrincipal) -> str | None:
    """The user a save records (none for a key made before any account)."""
    return principal.user_id or None


def _public(workflow: StoredWorkflow, response: Response) -> WorkflowPublic:
    response.headers["ETag"] = f'"{workflow.version}"'
    return WorkflowPublic.model_validate(workflow)


async def _document(settings: Settings, workflows: Workflows, data: Any) -> dict[str, Any]:
    """``data`` as a workflow document that can run (``WorkflowInvalid`` otherwise),
    checked on a worker thread: checking a large document must not hold up the other
    requests."""
    max_bytes = settings.max_workflow_bytes
    document = await asyncio.to_thread(storable_document, data, max_bytes=max_bytes)
    await workflows.check(document)
    return document


@router.post("", status_code=201)
async def create_workflow(
    document: Document,
    settings: SettingsDep,
    workflows: WorkflowsDep,
    response: Response,
    principal: CurrentPrincipal,
    active: Active = False,
) -> WorkflowPublic:
    """Store a new workflow as version 1, inactive unless ``?active=true``. The document
    is validated against the installed node types first: 422 lists every problem, each
    located by node id, edge index and field."""
    document = await _document(settings, workflows, document)
    created = await workflows.create(document, active=active, by=_by(principal))
    return _public(created, response)


@router.get("")
async def list_workflows(
    workflows: WorkflowsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    search: Annotated[
        str | None,
        Query(max_length=200, pattern=r"^[^\x00]*$", description="Part of the name, any case."),
    ] = None,
) -> WorkflowPage:
    """Workflows, most recently saved first, without their documents, each with its
    latest execution."""
    found, total = await workflows.find(search=search, limit=limit, offset=offset)
    items = [WorkflowListItem.model_validate(workflow) for workflow in found]
    return WorkflowPage(items=items, total=total, limit=limit, offset=offset)


@checks.post("/validate", openapi_extra={"requestBody": DOCUMENT_BODY})
async def validate_workflow(
    request: Request, settings: SettingsDep, workflows: WorkflowsDep
) -> ValidationReport:
    """Check a document as a save would, without storing anything. Documents that are
    not even JSON (or YAML) are reported as problems too."""
    try:
        data = await read_document(request, max_bytes=settings.max_workflow_bytes)
        await _document(settings, workflows, data)
    except WorkflowInvalid as exc:
        problems = [ProblemPublic.model_validate(p.to_dict()) for p in exc.problems]
        return ValidationReport(valid=False, problems=problems)
    return ValidationReport(valid=True, problems=[])


@router.post("/import", status_code=201, openapi_extra={"requestBody": DOCUMENT_BODY})
async def import_workflow(
    request: Request,
    settings: SettingsDep,
    workflows: WorkflowsDep,
    response: Response,
    principal: CurrentPrincipal,
    active: Active = False,
) -> WorkflowPublic:
    """Store a new workflow from a JSON or YAML document (as an export wrote it)."""
    data = await read_document(request, max_bytes=settings.max_workflow_bytes)
    document = await _document(settings, workflows, data)
    created = await workflows.create(document, active=active, by=_by(principal))
    return _public(created, response)


@router.get("/{workflow_id}")
async def get_workflow(workflow: Stored, response: Response) -> WorkflowPublic:
    """The workflow with its current document; the ``ETag`` is its version."""
    return _public(workflow, response)


@router.put("/{workflow_id}")
async def update_workflow(
    workflow: Stored,
    document: Document,
    settings: SettingsDep,
    workflows: WorkflowsDep,
    response: Response,
    base: BaseVersion,
    principal: CurrentPrincipal,
) -> WorkflowPublic:
    """Save the document as a new version (409 when ``If-Match`` is stale). An active
    workflow's triggers are re-armed; a change that cannot be active is refused (422, 409)."""
    document = await _document(settings, workflows, document)
    saved = await workflows.save(workflow, document, base_version=base, by=_by(principal))
    return _public(saved, response)


@router.patch("/{workflow_id}")
async def change_workflow(
    workflow: Stored, body: WorkflowUpdate, workflows: WorkflowsDep, response: Response
) -> WorkflowPublic:
    """Activate or deactivate the workflow, as ``/activate`` and ``/deactivate`` do."""
    if body.active:
        return _public(await workflows.activate(workflow.id), response)
    return _public(await workflows.deactivate(workflow.id), response)


@router.post("/{workflow_id}/activate", responses=errors.responses(404, 409, 422))
async def activate_workflow(
    workflow: Stored, workflows: WorkflowsDep, response: Response
) -> WorkflowPublic:
    """Arm the workflow's triggers now and at every start of the server, until it is
    deactivated. 422 if it has no trigger but ``trigger.manual`` (or one that cannot be
    armed); 409 if another active workflow holds its webhook path and method
    (``details.workflow_id`` names it)."""
    return _public(await workflows.activate(workflow.id), response)


@router.post("/{workflow_id}/deactivate", responses=errors.responses(404))
async def deactivate_workflow(
    workflow: Stored, workflows: WorkflowsDep, response: Response
) -> WorkflowPublic:
    """Disarm the workflow's triggers at once; runs they started go on."""
    return _public(await workflows.deactivate(workflow.id), response)


@router.delete("/{workflow_id}", status_code=204)
async def delete_workflow(workflow_id: str, workflows: WorkflowsDep) -> None:
    """Delete the workflow and its versions; its executions stay, unlinked."""
    await workflows.delete(workflow_id)


@router.get("/{workflow_id}/versions")
async def list_versions(workflow: Stored, workflows: WorkflowsDep) -> list[VersionSummary]:
    """Every saved version, newest first."""
    versions = await workflows.versions(workflow.id)
    return [VersionSummary.model_validate(version) for version in versions]


@router.get("/{workflow_id}/versions/{version}")
async def get_version(workflow: Stored, version: Version, workflows: WorkflowsDep) -> VersionPublic:
    """One saved version with its document."""
    return VersionPublic.model_validate(await workflows.version(workflow.id, version))


@router.post("/{workflow_id}/versions/{version}/restore")
async def restore_version(
    workflow: Stored,
    version: Version,
    workflows: WorkflowsDep,
    response: Response,
    base: BaseVersion,
    principal: CurrentPrincipal,
) -> WorkflowPublic:
    """Save that version's document again, as a new version (it must still validate)."""
    saved = await workflows.restore(workflow, version, base_version=base, by=_by(principal))
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
    workflows: WorkflowsDep,
    format: Annotated[Literal["json", "yaml"], Query()] = "json",
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
) -> Response:
    """Download the document (of the current version, or of ``version``) as a file."""
    document = workflow.document
    if version is not None:
        document = (await workflows.version(workflow.id, version)).document
    return download(document, workflow.name, format)
