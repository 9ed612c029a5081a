"""Tools of ``ai.agent`` that need a person's approval before they run.

A tool marked ``approval`` is not run when the model calls it: the agent parks
(``ctx.park`` with its conversation as state) on an approval whose form is the tool's
input schema prefilled with the model's arguments, and runs again once it is decided
(``ctx.resumed``). Approved, the tool runs with the form's answer as its arguments (so a
person may correct them); rejected, or timed out under ``on_timeout: reject``, the model
is told so (with the comment) as the call's result. The who-may-decide and timeout
options are core.wait's (``WaitParams`` checks and builds them).

The form: the tool's input schema as far as a form can show it (``tav.core.forms``: flat
strings, numbers, integers, booleans; keywords a form does not know are left out), each
field's default the model's argument. A schema a form cannot show (nested objects,
arrays) is edited as one JSON text field, ``arguments``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tav.core import forms
from tav.core.model import Model
from tav.core.waits import ToolCallAsked, WaitOutcome, WaitRequest, parse_duration
from tav.nodes.ai import ToolCall, ToolSpec
from tav.nodes.builtin.core.wait import DURATION, RoleName, WaitParams

JSON_FIELD = "arguments"
"""The one field of a form for a schema a form cannot show: the arguments as JSON."""
DESCRIPTION_CHARS = 4_000
"""The arguments shown in an approval's description are cut to this many characters."""
FormKind = Literal["fields", "json", "none"]
"""How an approval's form edits a call's arguments: a field each, one JSON text, not."""
_FIELD_KEYWORDS = frozenset(
    {"type", "title", "description", "default", "enum", "minimum", "maximum"}
    | {"minLength", "maxLength", "format"}
)


class ToolApproval(Model):
    model_config = ConfigDict(extra="forbid")

    approvers: list[str] = Field(
        default_factory=list,
        max_length=200,
        description="Emails of the team members who may decide.",
    )
    approver_roles: list[RoleName] = Field(
        default_factory=list,
        description="Roles whose members may decide (a role counts its betters).",
    )
    anyone_with_link: bool | None = Field(
        None,
        description="Whoever holds the approval's link may decide, without an account. "
        "Default: yes when no approvers or roles are named, else no.",
    )
    approvals: int = Field(
        1, ge=1, le=100, description="Approvals needed, each by a different person."
    )
    timeout: float | str | None = Field(
        None,
        description=f"End the wait after this long ({DURATION}); empty: wait until it is "
        "decided or the execution is cancelled.",
    )
    on_timeout: Literal["fail", "reject"] = Field(
        "fail",
        description="At the timeout, `fail` the agent node (type `wait_timeout`), or "
        "`reject` the call: the model is told nobody approved it, and goes on.",
    )

    @field_validator("timeout")
    @classmethod
    def _duration(cls, value: float | str | None) -> float | str | None:
        if value is not None and value != "":
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _who(self) -> ToolApproval:
        try:
            self.wait_params()  # core.wait's checks of who may decide
        except ValidationError as exc:
            raise ValueError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
        return self

    def wait_params(self) -> WaitParams:
        """core.wait's params for this approval (they check who may decide)."""
        return WaitParams(
            mode="approval",
            approvers=self.approvers,
            approver_roles=self.approver_roles,
            anyone_with_link=self.anyone_with_link,
            approvals=self.approvals,
            timeout=self.timeout,
            on_timeout="fail" if self.on_timeout == "fail" else "continue",
        )


def approval_shorthand(value: Any) -> Any:
    """``true``: an approval with core.wait's defaults; ``false``: none."""
    if value is True:
        return {}
    if value is False:
        return None
    return value


ApprovalOption = Annotated[ToolApproval | None, BeforeValidator(approval_shorthand)]
"""``true`` is short for an approval with core.wait's defaults; ``false`` for none."""


def approval_request(
    approval: ToolApproval, spec: ToolSpec, workflow: str | None, call: ToolCall, now: datetime
) -> tuple[WaitRequest, FormKind]:
    """The approval a call of this tool waits for, and how its form edits the arguments
    (``workflow``: the stored workflow it runs; ``None`` for an MCP server's tool)."""
    shown = json.dumps(call.arguments, ensure_ascii=False, indent=2)
    if len(shown) > DESCRIPTION_CHARS:
        shown = shown[:DESCRIPTION_CHARS] + "…"
    description = f"{spec.description}\n\nThe model asks to call it with:\n{shown}"
    asked = ToolCallAsked(
        tool=spec.name, description=spec.description, arguments=call.arguments, workflow=workflow
    )
    form, kind = approval_form(spec.parameters, call.arguments)
    request = approval.wait_params().request(now)
    update = {
        "title": f"Allow the agent to call {spec.name}?",
        "description": description,
        "fields": form,
        "tool_call": asked,
    }
    return request.model_copy(update=update), kind


def approval_form(
    schema: dict[str, Any], arguments: dict[str, Any]
) -> tuple[dict[str, Any] | None, FormKind]:
    """The form for a call's arguments (see the module's docstring): the tool's fields
    prefilled with them, else one JSON text field, else (too long for it) none."""
    form = _flat_form(schema, arguments)
    if form is not None:
        return form, "fields"
    text = json.dumps(arguments, ensure_ascii=False, indent=2)
    if len(text) > forms.MAX_TEXT:
        return None, "none"
    field = {
        "type": "string",
        "format": "textarea",
        "title": "Arguments (JSON)",
        "description": "The arguments the tool runs with, as a JSON object.",
        "default": text,
    }
    return {"type": "object", "properties": {JSON_FIELD: field}, "required": [JSON_FIELD]}, "json"


def _flat_form(schema: dict[str, Any], arguments: dict[str, Any]) -> dict[str, Any] | None:
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties:
        return None
    fields: dict[str, Any] = {}
    for name, field in properties.items():
        if not isinstance(field, dict):
            return None
        shown = {k: v for k, v in field.items() if k in _FIELD_KEYWORDS and k != "default"}
        value = arguments.get(name)
        if value is not None and forms.value_problem(shown, value) is None:
            shown["default"] = value
        fields[name] = shown
    required = [r for r in schema.get("required", []) if r in fields]
    form = {"type": "object", "properties": fields, "required": required}
    return None if forms.schema_problems(form) else form


def decided_step(
    call: ToolCall, outcome: WaitOutcome, form: FormKind
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """What a decision makes of a call: its step so far (``approval`` says who decided
    what), and the arguments to run the tool with (``None``: it does not run)."""
    value = outcome.value if isinstance(outcome.value, dict) else {}
    decision = value.get("decision", "reject")
    by = value.get("by")
    approval = {
        "decision": decision,
        "by": by.get("email") if isinstance(by, dict) else None,
        "comment": value.get("comment", ""),
    }
    step: dict[str, Any] = {"tool": call.name, "arguments": call.arguments, "approval": approval}
    if decision != "approve":
        return step, None
    arguments, problem = _answered(call.arguments, value.get("data") or {}, form)
    if problem is not None:
        step["error"] = problem
        return step, None
    if arguments != call.arguments:
        approval["asked"] = call.arguments
        step["arguments"] = arguments
    return step, arguments


def _answered(
    asked: dict[str, Any], data: dict[str, Any], form: FormKind
) -> tuple[dict[str, Any], str | None]:
    """The arguments the approval's form answer gives, or why it gives none."""
    if form == "none":
        return asked, None
    if form == "json":
        try:
            parsed = json.loads(data.get(JSON_FIELD) or "{}")
        except ValueError as exc:
            return asked, f"the arguments approved are not JSON: {exc}"
        if not isinstance(parsed, dict):
            return asked, "the arguments approved are not a JSON object"
        return parsed, None
    return {**asked, **data}, None


def refusal(step: dict[str, Any]) -> str | None:
    """What the model is told of a call people did not allow, or ``None``."""
    approval = step.get("approval") or {}
    decision = approval.get("decision")
    if decision == "reject":
        comment = approval.get("comment") or ""
        said = f' Their comment: "{comment}"' if comment else " They left no comment."
        return (
            "Rejected: the person reviewing this call did not allow it, so it did not run." + said
        )
    if decision == "timeout":
        return "Not run: nobody approved this call before its approval timed out."
    return None
