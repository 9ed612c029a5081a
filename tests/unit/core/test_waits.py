"""What waits wait for, who may decide them, and the forms approvals show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tav.core import forms
from tav.core.roles import Role, UserRef
from tav.core.waits import (
    Decider,
    Decision,
    WaitMode,
    WaitRequest,
    approval_outcome,
    may_answer,
    may_decide,
    parse_duration,
    parse_time,
    timeout_outcome,
)

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90),
        ("90", 90),
        ("90s", 90),
        ("15m", 900),
        ("2h", 7200),
        ("1d", 86400),
        ("1w", 604800),
        ("1h 30m", 5400),
        ("1 hour and 30 minutes", 5400),
        ("2 days", 172800),
        ("PT1H30M", 5400),
        ("P1DT2H", 93600),
        ("0.5s", 0.5),
    ],
)
def test_durations_read_as_people_write_them(text: float | str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["soon", "5 fortnights", "1h 30", "-5", "P", "99999w"])
def test_what_is_not_a_duration_is_refused_saying_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_a_time_without_an_offset_is_utc() -> None:
    assert parse_time("2026-12-24T18:00:00") == datetime(2026, 12, 24, 18, tzinfo=UTC)
    assert parse_time("2026-12-24T18:00:00+01:00").utcoffset() == timedelta(hours=1)
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_time("tomorrow")


def member(email: str, role: Role) -> Decider:
    return Decider(member=UserRef(id=email, email=email), role=role)


def test_who_may_decide_an_approval_that_names_nobody() -> None:
    open_to_all = WaitRequest(mode=WaitMode.APPROVAL)
    assert may_decide(open_to_all, Decider(via_link=True))
    assert may_decide(open_to_all, member("e@x.io", Role.editor))
    assert not may_decide(open_to_all, member("v@x.io", Role.viewer))
    assert may_decide(
        open_to_all, member("v@x.io", Role.viewer).model_copy(update={"via_link": True})
    )
    closed = WaitRequest(mode=WaitMode.APPROVAL, link=False)
    assert not may_decide(closed, Decider(via_link=True))


def test_who_may_decide_an_approval_that_names_people_and_roles() -> None:
    named = WaitRequest(
        mode=WaitMode.APPROVAL, approvers=["v@x.io"], approver_roles=[Role.admin], link=False
    )
    assert may_decide(named, member("V@x.io".lower(), Role.viewer))
    assert may_decide(named, member("o@x.io", Role.owner))  # a role counts its betters
    assert not may_decide(named, member("e@x.io", Role.editor))
    assert not may_decide(named, Decider(via_link=True))


@pytest.mark.parametrize("mode", [WaitMode.TIMER, WaitMode.WEBHOOK])
def test_a_timer_or_a_webhook_wait_is_decided_with_its_link_or_the_editor_role(
    mode: WaitMode,
) -> None:
    wait = WaitRequest(mode=mode)
    assert may_answer(wait, Decider(via_link=True))
    assert may_answer(wait, member("e@x.io", Role.editor))
    assert not may_answer(wait, member("v@x.io", Role.viewer))


def test_an_approval_is_answered_by_whom_it_names() -> None:
    named = WaitRequest(mode=WaitMode.APPROVAL, approvers=["v@x.io"], link=False)
    assert may_answer(named, member("v@x.io", Role.viewer))
    assert not may_answer(named, member("e@x.io", Role.editor))


def decision(kind: str, by: str = "a") -> Decision:
    return Decision(decision=kind, by=UserRef(id=by, email=f"{by}@x.io"), at=NOW)  # type: ignore[arg-type]


def test_one_rejection_decides_and_approvals_add_up() -> None:
    two = WaitRequest(mode=WaitMode.APPROVAL, approvals=2)
    assert approval_outcome(two, [decision("approve")]) is None
    done = approval_outcome(two, [decision("approve"), decision("approve", "b")])
    assert done is not None
    assert done.port == "approved"
    assert [a["by"]["email"] for a in done.value["approvals"]] == ["a@x.io", "b@x.io"]
    rejected = approval_outcome(two, [decision("reject")])
    assert rejected is not None
    assert rejected.port == "rejected"


def test_a_timeout_fails_or_goes_on_with_the_defaults() -> None:
    fields = {"type": "object", "properties": {"n": {"type": "integer", "default": 3}}}
    failing = timeout_outcome(WaitRequest(mode=WaitMode.APPROVAL))
    assert failing.error is not None
    assert failing.error.type == "wait_timeout"
    going_on = timeout_outcome(
        WaitRequest(
            mode=WaitMode.APPROVAL, fields=fields, on_timeout="continue", timeout_data={"x": 1}
        )
    )
    assert going_on.port == "timeout"
    assert going_on.value == {"decision": "timeout", "data": {"n": 3, "x": 1}}


FORM = {
    "type": "object",
    "properties": {
        "n": {"type": "integer", "minimum": 1, "maximum": 9},
        "pick": {"type": "string", "enum": ["a", "b"]},
        "mail": {"type": "string", "format": "email"},
        "ok": {"type": "boolean"},
        "when": {"type": "string", "format": "date"},
    },
    "required": ["n"],
}


def test_a_form_schema_is_checked_for_what_a_form_can_show() -> None:
    assert forms.schema_problems(FORM) == []
    problems = forms.schema_problems(
        {
            "type": "object",
            "properties": {
                "x": {"type": "object"},
                "y": {"type": "string", "format": "colour"},
                "z": {"type": "integer", "default": "three"},
                "bad name": {"type": "string"},
            },
            "required": ["w"],
            "oneOf": [],
        }
    )
    assert problems == [
        "fields.oneOf: not supported in a form",
        "fields.properties.x.type: one of boolean, integer, number, string",
        "fields.properties.y.format: one of date, email, textarea, uri, on a string",
        "fields.properties.z.default: must be a whole number",
        "fields.properties.bad name: a field name is letters, digits, '_' or '-'",
        "fields.required: no field 'w'",
    ]


def test_an_answer_is_checked_field_by_field() -> None:
    answer, problems = forms.check(FORM, {"n": 3, "pick": "a", "ok": True, "when": "2026-01-02"})
    assert problems == []
    assert answer == {"n": 3, "pick": "a", "ok": True, "when": "2026-01-02"}
    _, problems = forms.check(
        FORM, {"n": 10, "pick": "c", "mail": "nope", "ok": "yes", "when": "2026-13-01", "x": 1}
    )
    assert problems == [
        {"field": "x", "message": "no such field"},
        {"field": "n", "message": "must be at most 9"},
        {"field": "pick", "message": "must be one of 'a', 'b'"},
        {"field": "mail", "message": "must be an email address"},
        {"field": "ok", "message": "must be true or false"},
        {"field": "when", "message": "must be a date (YYYY-MM-DD)"},
    ]
    assert forms.check(FORM, {})[1] == [{"field": "n", "message": "is required"}]


def test_a_form_post_is_read_as_the_fields_types() -> None:
    data = forms.from_form(FORM, {"n": "4", "pick": "b", "ok": "on", "mail": ""})
    assert data == {"n": 4, "pick": "b", "ok": True, "mail": "", "when": ""}
    assert forms.check(FORM, data) == ({"n": 4, "pick": "b", "ok": True}, [])
    assert forms.from_form(FORM, {"n": "four"})["n"] == "four"
