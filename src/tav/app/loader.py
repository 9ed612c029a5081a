"""Where a host finds the workflows a node names: sub-workflows, ``core.map`` and an
agent's workflow tools.

A ref is a stored workflow's id; a host built with ``file_refs`` (``tav run``,
``tav.run_workflow``) also takes a file path, relative to the calling workflow's file. A
server never takes a path: its workflows are written by its users, and a path would let
any editor run, and have an agent describe, any workflow file the server's process can
read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from tav.core.errors import NotFound, Problem
from tav.core.workflow import Workflow, parse_workflow
from tav.engine.loader import FileWorkflowLoader
from tav.nodes.ai import WorkflowDescription
from tav.storage.workflows import STORED_ID, WorkflowRepository


class StoredWorkflowLoader:
    """The host's ``WorkflowLoader`` (the executor loads sub-workflows through it), its
    ``WorkflowCatalog`` (what an agent's tool tells the model) and the ref check of its
    ``Plans``."""

    def __init__(self, workflows: WorkflowRepository, *, file_refs: bool = False) -> None:
        self.workflows = workflows
        self.files = FileWorkflowLoader() if file_refs else None

    async def load(self, ref: str, *, relative_to: str | None) -> tuple[Workflow, str]:
        if STORED_ID.match(ref):
            stored = await self.workflows.get(ref)
            if stored is None:
                raise NotFound(f"no stored workflow with id {ref!r}")
            return parse_workflow(stored.document, structure=False), f"workflow:{ref}"
        if self.files is None:
            raise NotFound(_not_stored(ref))
        return await self.files.load(ref, relative_to=relative_to)

    def problems(self, workflow: Workflow) -> list[Problem]:
        """Refs written into the document that ``load`` would refuse (a template's value
        is checked when the node runs)."""
        if self.files is not None:
            return []
        return [
            Problem(_not_stored(ref), node=node.id, field=field)
            for node in workflow.nodes
            for field, ref in _workflow_refs(node.type, node.params)
            if "{{" not in ref and not STORED_ID.match(ref)
        ]

    async def describe(self, ref: str) -> WorkflowDescription:
        """``WorkflowCatalog``: what an agent's tool tells the model about a workflow."""
        workflow, _ = await self.load(ref, relative_to=None)
        return WorkflowDescription(
            id=ref,
            name=workflow.name,
            description=workflow.description,
            input_schema=workflow.input_schema,
        )


def _not_stored(ref: str) -> str:
    return (
        f"sub-workflow {ref!r} is not a stored workflow id; "
        "file paths are only allowed with `tav run`"
    )


def _workflow_refs(node_type: str, params: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """``(field, ref)`` of the workflows a node names in its params."""
    if node_type in ("core.subworkflow", "core.map"):
        ref = params.get("workflow")
        if isinstance(ref, str):
            yield "params.workflow", ref
    elif node_type == "ai.agent" and isinstance(tools := params.get("tools"), list):
        for index, tool in enumerate(tools):
            ref = tool.get("workflow") if isinstance(tool, dict) else tool
            if isinstance(ref, str):
                field = f"params.tools.{index}" + (".workflow" if isinstance(tool, dict) else "")
                yield field, ref
