from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tav.core.roles import Role, UserRef
from tav.core.waits import Decider, ToolCallAsked, may_answer
from tav.storage.waits import OPEN, WaitRecord


class DecisionPublic(BaseModel):
    decision: Literal["approve", "reject"]
    comment: str
    data: dict[str, Any]
    by: UserRef | None = Field(description="The member; none for whoever held the link.")
    at: datetime


class ToolCallPublic(BaseModel):
    """An agent's tool call waiting for approval."""

    tool: str = Field(description="The tool's name, as the model called it.")
    description: str = Field(description="What the tool does, as the model was told.")
    arguments: dict[str, Any] = Field(description="The arguments the model asked for.")
    workflow: str | None = Field(description="The stored workflow the tool runs.")

    @classmethod
    def of(cls, call: ToolCallAsked) -> ToolCallPublic:
        return cls.model_validate(call.model_dump())


class WaitPublic(BaseModel):
    """A wait of an execution: what it waits for, and how far it is."""

    node_id: str
    mode: Literal["timer", "webhook", "approval", "execution"] = Field(
        description="`execution`: the node waits for child executions (a sub-workflow's, "
        "core.map's items') that wait: decide their waits (`executions`); nobody decides "
        "this one."
    )
    status: Literal["open", "decided", "cancelled"] = Field(
        description="`open` while it may be decided (if its execution has not ended)."
    )
    title: str
    description: str
    fields: dict[str, Any] | None = Field(
        description="approval: the form's fields (a JSON Schema object)."
    )
    due_at: datetime | None = Field(
        description="While open: when its timer fires, or its timeout ends it."
    )
    created_at: datetime
    decided_at: datetime | None
    approvals_needed: int
    approvals: list[DecisionPublic] = Field(description="approval: the decisions taken so far.")
    approvers: list[str] = Field(description="approval: the members named to decide.")
    approver_roles: list[Role] = Field(description="approval: the roles named to decide.")
    anyone_with_link: bool = Field(description="approval: the link alone lets one decide.")
    port: str | None = Field(
        None, description="Once decided: the output port the node went on down."
    )
    executions: list[str] = Field(
        default_factory=list,
        description="execution: the child executions it waits for, still waiting or "
        "running; their waits are where people act.",
    )
    tool_call: ToolCallPublic | None = Field(
        None,
        description="approval: the agent's tool call it is about (an `ai.agent` tool that "
        "needs approval): approving runs it with the form's answer as its arguments.",
    )
    may_decide: bool = Field(
        description="The member asking may decide it while it is open: approve or reject "
        "an approval (it names them or a role of theirs, or names nobody and they have the "
        "editor role), end a timer or resume a webhook wait (the editor role). They may "
        "have approved it already: see `approvals`.",
    )

    @classmethod
    def of(cls, record: WaitRecord, asking: Decider) -> WaitPublic:
        """The wait as ``asking`` (the member calling the API) sees it."""
        request = record.request
        return cls(
            node_id=record.node_id,
            mode=request.mode.value,
            status=record.status,
            title=request.title,
            description=request.description,
            fields=request.fields,
            due_at=record.due_at,
            created_at=record.created_at,
            decided_at=record.decided_at,
            approvals_needed=request.approvals,
            approvals=[DecisionPublic.model_validate(d.model_dump()) for d in record.decisions],
            approvers=request.approvers,
            approver_roles=request.approver_roles,
            anyone_with_link=request.link,
            port=record.outcome.port if record.outcome is not None else None,
            executions=list(request.children.executions) if request.children else [],
            tool_call=ToolCallPublic.of(request.tool_call) if request.tool_call else None,
            may_decide=record.status == OPEN and may_answer(request, asking),
        )


class WaitDecisionRequest(BaseModel):
    """An approval's decision. A webhook wait takes any JSON object here instead: it is the
    resume call's ``body`` (the node's output is ``{method, headers, query, body}``, as
    when its link is called)."""

    model_config = ConfigDict(extra="allow")

    decision: Literal["approve", "reject"] | None = Field(None, description="approval: required.")
    data: dict[str, Any] = Field(
        default_factory=dict,
        description="approval: the form's answer, by field (checked against `fields`).",
    )
    comment: str = Field("", max_length=10_000)


class WaitDecided(BaseModel):
    execution_id: str
    node_id: str
    decided: bool = Field(
        description="The wait is decided (the execution resumes); false: the decision was "
        "noted, and more approvals are needed."
    )
    port: str | None = Field(None, description="The output port the node goes on down.")
