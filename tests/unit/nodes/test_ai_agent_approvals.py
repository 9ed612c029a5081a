"""The approvals of ai.agent's tool calls: the form built from a tool's input schema, and
what a decision makes of a call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from tav.core import forms
from tav.core.waits import WaitMode, WaitOutcome
from tav.nodes.ai import ToolCall, ToolSpec
from tav.nodes.builtin.ai.agent import AgentParams
from tav.nodes.builtin.ai.approvals import (
    ToolApproval,
    approval_form,
    approval_request,
    decided_step,
    refusal,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SCHEMA = {
    "type": "object",
    "properties": {
        "order": {"type": "string", "description": "The order number.", "pattern": "^[A-Z]"},
        "count": {"type": "integer", "minimum": 1},
        "rush": {"type": "boolean"},
    },
    "required": ["order"],
}


def call(**arguments: Any) -> ToolCall:
    return ToolCall(id="c1", name="order_status", arguments=arguments)


def approved(data: dict[str, Any], **extra: Any) -> WaitOutcome:
    value = {"decision": "approve", "data": data, "by": {"id": "u1", "email": "a@x.io"}, **extra}
    return WaitOutcome(port="approved", value=value)


def test_the_form_is_the_tools_fields_prefilled_with_the_models_arguments() -> None:
    form, kind = approval_form(SCHEMA, {"order": "A-1", "count": 0, "rush": True})
    assert kind == "fields"
    assert form is not None
    assert forms.schema_problems(form) == []
    assert form["properties"]["order"] == {
        "type": "string",
        "description": "The order number.",
        "default": "A-1",
    }  # `pattern` is not a form's: left out
    assert "default" not in form["properties"]["count"]  # 0 is below its minimum
    assert form["properties"]["rush"]["default"] is True
    assert form["required"] == ["order"]


def test_a_schema_a_form_cannot_show_is_edited_as_json() -> None:
    nested = {"type": "object", "properties": {"items": {"type": "array"}}}
    form, kind = approval_form(nested, {"items": [1, 2]})
    assert kind == "json"
    assert form is not None
    assert forms.schema_problems(form) == []
    (field,) = form["properties"].values()
    assert field["format"] == "textarea"
    assert '"items"' in field["default"]
    huge, kind = approval_form(nested, {"items": ["x" * forms.MAX_TEXT]})
    assert (huge, kind) == (None, "none")


def test_the_request_shows_the_call_and_keeps_the_options() -> None:
    spec = ToolSpec(name="order_status", description="Tells where an order is.", parameters=SCHEMA)
    options = ToolApproval(approver_roles=["admin"], timeout="1h", on_timeout="reject")
    request, kind = approval_request(options, spec, "wf1", call(order="A-1"), NOW)
    assert kind == "fields"
    assert request.mode is WaitMode.APPROVAL
    assert request.title == "Allow the agent to call order_status?"
    assert "Tells where an order is." in request.description
    assert '"order": "A-1"' in request.description
    assert request.tool_call is not None
    assert request.tool_call.arguments == {"order": "A-1"}
    assert request.tool_call.workflow == "wf1"
    assert request.due_at == NOW + timedelta(hours=1)
    assert request.on_timeout == "continue"
    assert request.link is False  # a role is named


def test_approved_with_edits_the_call_runs_with_them() -> None:
    step, arguments = decided_step(
        call(order="A-1", note="x"), approved({"order": "A-2"}), "fields"
    )
    assert arguments == {"order": "A-2", "note": "x"}
    assert step["arguments"] == arguments
    assert step["approval"] == {
        "decision": "approve",
        "by": "a@x.io",
        "comment": "",
        "asked": {"order": "A-1", "note": "x"},
    }
    _, same = decided_step(call(order="A-1"), approved({"order": "A-1"}), "fields")
    assert same == {"order": "A-1"}


def test_approved_as_json_the_text_is_the_arguments() -> None:
    outcome = approved({"arguments": '{"items": [3]}'})
    _, arguments = decided_step(call(items=[1]), outcome, "json")
    assert arguments == {"items": [3]}
    step, none = decided_step(call(items=[1]), approved({"arguments": "[1"}), "json")
    assert none is None
    assert step["error"].startswith("the arguments approved are not JSON")


def test_rejected_or_timed_out_the_call_does_not_run_and_the_model_is_told() -> None:
    value = {"decision": "reject", "comment": "not yours", "data": {}}
    step, arguments = decided_step(
        call(order="A-1"), WaitOutcome(port="rejected", value=value), "fields"
    )
    assert arguments is None
    told = refusal(step)
    assert told is not None
    assert told.startswith("Rejected")
    assert '"not yours"' in told
    timeout = WaitOutcome(port="timeout", value={"decision": "timeout", "data": {}})
    step, arguments = decided_step(call(order="A-1"), timeout, "fields")
    assert arguments is None
    assert "nobody approved" in (refusal(step) or "")


def test_approval_params_take_true_or_core_waits_options() -> None:
    params = AgentParams.model_validate(
        {"prompt": "p", "tools": [{"workflow": "a", "approval": True}, "b"]}
    )
    assert params.tools[0].approval == ToolApproval()
    assert params.tools[1].approval is None
    with pytest.raises(ValidationError, match="not a duration"):
        AgentParams.model_validate(
            {"prompt": "p", "tools": [{"workflow": "a", "approval": {"timeout": "soon"}}]}
        )
    with pytest.raises(ValidationError, match="more than one approval needs `approvers`"):
        AgentParams.model_validate(
            {"prompt": "p", "tools": [{"workflow": "a", "approval": {"approvals": 2}}]}
        )
