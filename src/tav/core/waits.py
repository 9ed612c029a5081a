"""Waits: what a parked node waits for, the decisions taken on it, and what it settles with.

A node parks its execution with a ``WaitRequest`` (``ctx.park``, ``core.wait``): once no
other node of the execution can run, it is stored as ``waiting`` and nothing runs it. A
decision — people approving or rejecting, a call of its resume link, its timer, its
timeout — is recorded as the wait's ``WaitOutcome``, and the execution resumes from its
settled nodes with the waiting node settled by that outcome (it never runs again) — or,
for a node that parked with state (``ctx.park(request, state=...)``, ``rerun``), run
again with that state and the outcome (``WaitOutcome.rerun``), to go on where it stopped;
it may then wait again, its next wait numbered ``seq + 1``.

Who may decide an approval (``may_decide``): the team members it names (by email or by
role, a role counting its betters), and anyone holding its link when it allows that
(the default when it names nobody). Each approval is a different person's, so an
approval that needs more than one names who may give them: a link alone tells nobody
apart.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from tav.core import forms
from tav.core.children import ChildWait
from tav.core.model import Model
from tav.core.results import ErrorInfo
from tav.core.roles import Role, UserRef

DEFAULT_WEBHOOK_BYTES = 1024 * 1024
MAX_STATE_BYTES = 1024 * 1024
"""Largest state a node may park with (``ctx.park(state=...)``), as JSON."""
MAX_WAIT = timedelta(days=3650)
"""Longest a duration may be (a typo of a unit must not overflow a date)."""
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(
    r"(\d+(?:\.\d+)?)\s*(weeks?|w|days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)"
)
_ISO_DURATION = re.compile(
    r"^P(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


class WaitMode(StrEnum):
    TIMER = "timer"
    WEBHOOK = "webhook"
    APPROVAL = "approval"
    EXECUTION = "execution"
    """For child executions that wait to end (``tav.core.children``); nobody decides it."""


class ToolCallAsked(Model):
    """An agent's tool call waiting for a person's approval: what the model asked for."""

    tool: str
    description: str = ""
    arguments: dict[str, Any] = Field(default_factory=dict)
    workflow: str | None = None
    """The stored workflow the tool runs."""


class WaitRequest(Model):
    """What a parked node waits for: its rendered params, kept with the wait."""

    mode: WaitMode
    due_at: datetime | None = None
    """When the timer fires, or (webhook, approval) when the timeout ends the wait."""
    title: str = ""
    description: str = ""
    fields: dict[str, Any] | None = None
    """The form an approval shows (``tav.core.forms``)."""
    approvals: int = 1
    approvers: list[str] = Field(default_factory=list)
    """Emails of the members who may decide, lowercase."""
    approver_roles: list[Role] = Field(default_factory=list)
    link: bool = True
    """Anyone holding the link may decide."""
    on_timeout: Literal["fail", "continue"] = "fail"
    timeout_data: dict[str, Any] = Field(default_factory=dict)
    methods: list[str] = Field(default_factory=lambda: ["POST"])
    """Webhook: the HTTP methods that resume it."""
    max_body_bytes: int = DEFAULT_WEBHOOK_BYTES
    children: ChildWait | None = None
    """Execution: the child executions it waits for, and what it keeps meanwhile."""
    tool_call: ToolCallAsked | None = None
    """An agent's tool call the approval is about (shown beside the form)."""
    seq: int = 0
    """Which wait of its node this is, in its execution (0: the first): a node run again
    after its wait (``rerun``) that waits again waits with the next number, under a link
    of its own."""
    rerun: bool = False
    """Decided, the node runs again with ``state`` and the outcome (else it settles with
    the outcome)."""
    state: dict[str, Any] | None = None
    """What the node parked with, to go on from (kept with the wait, never shown)."""

    @property
    def named(self) -> bool:
        return bool(self.approvers or self.approver_roles)


class Decider(Model):
    """A person deciding: a team member (signed in, or with their API key) or, with
    ``member`` None, whoever holds the link."""

    member: UserRef | None = None
    role: Role | None = None
    via_link: bool = False


class Decision(Model):
    """One person's decision on an approval, or a resume call of a webhook wait."""

    decision: Literal["approve", "reject"] = "approve"
    comment: str = ""
    data: dict[str, Any] = Field(default_factory=dict)
    by: UserRef | None = None
    at: datetime

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Rerun(Model):
    """What a node that parked with state runs again with (``ctx.resumed``)."""

    seq: int
    state: dict[str, Any]


class WaitOutcome(Model):
    """What a decided wait settles its node with: ``value`` on ``port`` (the node's input
    there instead, with ``pass_input``), or the node fails with ``error``."""

    port: str | None = None
    value: Any = None
    pass_input: bool = False
    error: ErrorInfo | None = None
    rerun: Rerun | None = None
    """For a node that parked with state: that state, given as the host resumes the
    execution (not stored with the outcome: the wait keeps it)."""
    outputs: dict[str, Any] | None = None
    """Values on several ports at once (a ``core.map`` that waited: ``output`` and
    ``errors``), instead of ``value`` on ``port``."""


def children_request(executions: dict[str, int], workflow: str, **kept: Any) -> WaitRequest:
    """The wait of a node whose child executions ``executions`` (with the item each runs)
    parked; ``kept``: what else the node keeps meanwhile (``ChildWait``)."""
    children = ChildWait(executions=executions, workflow=workflow, **kept)
    count = len(executions)
    what = f"{count} executions" if count > 1 else "an execution"
    return WaitRequest(
        mode=WaitMode.EXECUTION,
        title=f"Waits for {what} of '{workflow}' to end: decide their waits",
        link=False,
        children=children,
    )


def may_decide(request: WaitRequest, decider: Decider) -> bool:
    """Whether ``decider`` may decide this wait (see the module's docstring). A member
    without the link (the REST API) may decide an approval that names nobody when their
    role may run workflows."""
    member, role = decider.member, decider.role
    if member is not None and member.email.lower() in request.approvers:
        return True
    if role is not None:
        if any(role.at_least(named) for named in request.approver_roles):
            return True
        if not request.named and (decider.via_link or role.can_edit):
            return True
    return decider.via_link and request.link


def may_answer(request: WaitRequest, decider: Decider) -> bool:
    """Whether ``decider`` may decide this wait, whatever its mode: an approval as
    ``may_decide`` says; a timer (ended now) or a webhook wait (resumed) with its link or
    the editor role. Nobody decides a wait for child executions: they do, as they end."""
    if request.mode is WaitMode.EXECUTION:
        return False
    if request.mode is WaitMode.APPROVAL:
        return may_decide(request, decider)
    return decider.via_link or (decider.role is not None and decider.role.can_edit)


def timer_outcome() -> WaitOutcome:
    """A timer that fired: the node's input goes on."""
    return WaitOutcome(port="output", pass_input=True)


def webhook_outcome(call: dict[str, Any]) -> WaitOutcome:
    """A resume call: the request (method, headers, query, body) goes on."""
    return WaitOutcome(port="output", value=call)


def approval_outcome(request: WaitRequest, decisions: list[Decision]) -> WaitOutcome | None:
    """Rejected by anyone, or approved by as many as needed; ``None``: more approvals
    are needed."""
    last = decisions[-1]
    rejected = last.decision == "reject"
    if not rejected and len(decisions) < request.approvals:
        return None
    value = {
        **last.public(),
        "approvals": [d.public() for d in decisions if d.decision == "approve"],
    }
    return WaitOutcome(port="rejected" if rejected else "approved", value=value)


def timeout_outcome(request: WaitRequest) -> WaitOutcome:
    """The timeout ended the wait: the node fails, or goes on down ``timeout`` with the
    fields' defaults (and ``timeout_data`` over them)."""
    if request.on_timeout == "fail":
        message = "nobody decided before the timeout"
        if request.mode is WaitMode.WEBHOOK:
            message = "the resume link was not called before the timeout"
        return WaitOutcome(error=ErrorInfo(type="wait_timeout", message=message))
    data = {**forms.defaults(request.fields), **request.timeout_data}
    return WaitOutcome(port="timeout", value={"decision": "timeout", "data": data})


def due_outcome(request: WaitRequest) -> WaitOutcome:
    """What a wait settles with when its ``due_at`` comes."""
    return timer_outcome() if request.mode is WaitMode.TIMER else timeout_outcome(request)


def parse_duration(value: float | str) -> timedelta:
    """A duration: seconds as a number, ``"90s"``, ``"1h 30m"``, ``"2 days"``, or ISO 8601
    (``"PT1H30M"``). ``ValueError`` says what is wrong."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        seconds = _text_seconds(str(value).strip())
    if seconds < 0 or seconds != seconds:
        raise ValueError("a duration cannot be negative")
    duration = timedelta(seconds=seconds)
    if duration > MAX_WAIT:
        raise ValueError(f"a duration is at most {MAX_WAIT.days} days")
    return duration


def _text_seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    iso = _ISO_DURATION.match(text.upper())
    if iso and any(iso.groupdict().values()):
        return sum(float(n) * _UNITS[u] for u, n in iso.groupdict().items() if n)
    parts = _DURATION.findall(text.lower())
    if not parts or _DURATION.sub("", text.lower()).strip(" ,and") != "":
        raise ValueError(
            f"{text!r} is not a duration: write seconds (90), units (90s, 15m, 2h, 1d, 1w, "
            "'1h 30m') or ISO 8601 (PT1H30M)"
        )
    return sum(float(number) * _UNITS[unit[0]] for number, unit in parts)


def parse_time(value: datetime | str) -> datetime:
    """A point in time: ISO 8601 (``2026-12-24T18:00:00+01:00``; without an offset, UTC)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a time: write ISO 8601") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
