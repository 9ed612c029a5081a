"""``core.wait``: park the execution until a time, a resume call, or people's decision.

The node itself only says what it waits for (``tav.core.waits.WaitRequest``) and parks
(``ctx.park``): the host keeps the wait, the execution is stored ``waiting`` and holds
nothing, and the decision settles the node later without running it again (see
docs/reference/waits.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tav.core import forms
from tav.core.events import utcnow
from tav.core.model import Model
from tav.core.roles import Role
from tav.core.waits import (
    DEFAULT_WEBHOOK_BYTES,
    WaitMode,
    WaitRequest,
    parse_duration,
    parse_time,
)
from tav.nodes.base import Node, NodeSpec, Outputs, Port
from tav.nodes.capabilities import BranchingCapability
from tav.nodes.context import NodeContext
from tav.nodes.host import WAITS

MAX_WEBHOOK_BYTES = 16 * 1024 * 1024
DURATION = (
    "seconds, or with units: `90s`, `15m`, `2h`, `1d`, `1w`, `1h 30m`; or ISO 8601 (`PT1H30M`)"
)
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
RoleName = Literal["owner", "admin", "editor", "viewer"]


def _post() -> list[Method]:
    return ["POST"]


class WaitParams(Model):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["timer", "webhook", "approval"] = Field(
        "timer",
        description="`timer`: until a time or for a duration; `webhook`: until its resume "
        "link is called; `approval`: until people approve or reject (with a form).",
    )
    duration: float | str | None = Field(
        None, description=f"timer: how long to wait: {DURATION}. A template may compute it."
    )
    until: str | None = Field(
        None,
        description="timer: the time to wait for, ISO 8601 (`2026-12-24T18:00:00+01:00`; "
        "UTC without an offset), usually a template. A time already past goes on at once.",
    )
    timeout: float | str | None = Field(
        None,
        description=f"webhook, approval: end the wait after this long ({DURATION}); empty: "
        "wait until it is decided or the execution is cancelled.",
    )
    on_timeout: Literal["fail", "continue"] = Field(
        "fail",
        description="webhook, approval: at the timeout, `fail` the node (type "
        "`wait_timeout`), or `continue` down the `timeout` port with the fields' defaults.",
    )
    timeout_data: dict[str, Any] = Field(
        default_factory=dict,
        description="With `on_timeout: continue`: values that go down `timeout` as `data`, "
        "over the fields' defaults.",
    )
    title: str = Field(
        "", max_length=500, description="approval: what is asked (the form's title)."
    )
    description: str = Field(
        "", max_length=20_000, description="approval: more about it, shown as plain text."
    )
    fields: dict[str, Any] | None = Field(
        None,
        description="approval: the form's fields, a JSON Schema object whose properties are "
        "strings, numbers, integers or booleans (title, description, default, enum, "
        "minimum/maximum, minLength/maxLength, format: email, date, uri, textarea; required). "
        "The answer goes down the port as `data`.",
    )
    approvals: int = Field(
        1,
        ge=1,
        le=100,
        description="approval: approvals needed, each by a different person (a single "
        "rejection decides). More than one needs `approvers` or `approver_roles`.",
    )
    approvers: list[str] = Field(
        default_factory=list,
        max_length=200,
        description="approval: emails of the team members who may decide.",
    )
    approver_roles: list[RoleName] = Field(
        default_factory=list,
        description="approval: roles whose members may decide (a role counts its betters: "
        "`editor` lets admins and the owner decide too).",
    )
    anyone_with_link: bool | None = Field(
        None,
        description="approval: whoever holds the resume link may decide, without an "
        "account. Default: yes when no approvers or roles are named, else no.",
    )
    methods: list[Method] = Field(
        default_factory=_post,
        min_length=1,
        description="webhook: the HTTP methods that resume it (GET lets link previews of "
        "chat apps resume it by accident).",
    )
    max_body_bytes: int = Field(
        DEFAULT_WEBHOOK_BYTES,
        ge=0,
        le=MAX_WEBHOOK_BYTES,
        description="webhook: the largest body the resume call may send (413 past it).",
    )

    @field_validator("duration", "timeout")
    @classmethod
    def _duration(cls, value: float | str | None) -> float | str | None:
        if value is not None and value != "":
            parse_duration(value)
        return value

    @field_validator("until")
    @classmethod
    def _time(cls, value: str | None) -> str | None:
        if value:
            parse_time(value)
        return value

    @field_validator("approvers")
    @classmethod
    def _emails(cls, emails: list[str]) -> list[str]:
        cleaned = [email.strip().lower() for email in emails if email.strip()]
        for email in cleaned:
            if "@" not in email:
                raise ValueError(f"{email!r} is not an email address")
        return cleaned

    @field_validator("fields")
    @classmethod
    def _form(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        if schema is not None:
            problems = forms.schema_problems(schema)
            if problems:
                raise ValueError("; ".join(problems))
        return schema

    @model_validator(mode="after")
    def _mode(self) -> WaitParams:
        if self.mode == "timer" and (self.duration in (None, "")) == (not self.until):
            raise ValueError("a timer takes either `duration` or `until`")
        if self.mode == "approval" and self.approvals > 1 and self.link:
            raise ValueError(
                "more than one approval needs `approvers` or `approver_roles` (and no "
                "`anyone_with_link`): a link alone does not tell people apart"
            )
        return self

    @property
    def link(self) -> bool:
        named = bool(self.approvers or self.approver_roles)
        return not named if self.anyone_with_link is None else self.anyone_with_link

    def request(self, now: datetime) -> WaitRequest:
        """What the node waits for, from now."""
        mode = WaitMode(self.mode)
        due: datetime | None = None
        if mode is WaitMode.TIMER:
            due = parse_time(self.until) if self.until else now + parse_duration(self.duration or 0)
        elif self.timeout is not None and self.timeout != "":
            due = now + parse_duration(self.timeout)
        return WaitRequest(
            mode=mode,
            due_at=due,
            title=self.title,
            description=self.description,
            fields=self.fields,
            approvals=self.approvals,
            approvers=self.approvers,
            approver_roles=[Role(role) for role in self.approver_roles],
            link=self.link,
            on_timeout=self.on_timeout,
            timeout_data=self.timeout_data,
            methods=list(self.methods),
            max_body_bytes=self.max_body_bytes,
        )


_PORTS = {
    "output": Port(
        "timer: the input, once the time has come; webhook: the resume call "
        "(`method`, `headers`, `query`, `body`)."
    ),
    "approved": Port(
        "approval: `decision`, `comment`, `data` (the form's answer), `by`, `at` and "
        "`approvals` (each approval: who, when, what)."
    ),
    "rejected": Port("approval: the rejection, as `approved` has it."),
    "timeout": Port(
        "webhook, approval with `on_timeout: continue`: `{decision: timeout, data}` with "
        "the fields' defaults."
    ),
}
_MODE_PORTS = {
    "timer": ("output",),
    "webhook": ("output", "timeout"),
    "approval": ("approved", "rejected", "timeout"),
}


class Wait(BranchingCapability, Node):
    """Parks the execution until a time (`timer`), a call of its resume link (`webhook`)
    or people's decision (`approval`, with an optional form). A waiting execution holds
    no task, memory or worker and survives restarts; its resume link is known before it
    waits: `{{ execution.resume_url('<this node id>') }}` in an upstream node (an email,
    a chat message) sends it ahead. See docs/reference/waits.md."""

    spec = NodeSpec(type="core.wait", title="Wait", category="flow", icon="hourglass")
    Params = WaitParams
    outputs = _PORTS
    requires = (WAITS,)

    @classmethod
    def output_ports(cls, params: BaseModel | None) -> dict[str, Port]:
        if not isinstance(params, WaitParams):
            return cls.outputs
        return {port: _PORTS[port] for port in _MODE_PORTS[params.mode]}

    async def run(self, params: WaitParams, input: Any, ctx: NodeContext) -> Outputs:
        now = utcnow()
        request = params.request(now)
        if request.mode is WaitMode.TIMER and request.due_at is not None and request.due_at <= now:
            return {"output": input}  # its time has come already
        return await ctx.park(request)
