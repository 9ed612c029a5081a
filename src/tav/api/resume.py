"""``/resume/<token>``: the links of waits (``tav.app.waits``).

Served outside ``/api/v1`` and its authentication: the token is the credential. Of an
approval, ``GET`` shows its form (``tav.api.resume_page``) and ``POST`` decides it, from
the form (``application/x-www-form-urlencoded``) or a program (JSON: ``decision``,
``data``, ``comment``); a webhook wait is resumed by a request with one of its methods,
whose method, headers, query and body (bounded by its ``max_body_bytes``) become the
node's output; a timer's ``POST`` ends it now. The tokens stay out of the access log
(``HideTokens``). Answers are HTML for a browser, JSON for a program (``Accept`` or a JSON
body): 404 for a link no wait has, 410 once the wait is over, 409 for a person who has
decided already, 403 for one the approval does not name, 422 for a form's answer that
does not fit (naming each field).

Who decides. Whoever holds the link, where the approval allows it; otherwise a member
signed in to this server (its session cookie), and only on a request that says it comes
from this server's own pages (``Origin`` or ``Referer``, checked as ``tav.api.gate``
checks the API's): a page elsewhere cannot make a member's browser decide in their name.
A post that names a foreign origin is refused outright; one from an opaque origin
(``Origin: null``) is taken as whoever holds the link.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from tav.api import resume_page
from tav.api.deps import SESSION_COOKIE
from tav.api.documents import value_problems
from tav.api.errors import ApiError, error_body
from tav.api.origins import OriginPolicy
from tav.app.root import RecordingParts
from tav.app.waits import Answer, FormInvalid, Waits, check_open
from tav.core import forms
from tav.core.errors import Conflict, Forbidden, Gone, InputInvalid, NotFound
from tav.core.roles import UserRef
from tav.core.waits import Decider, WaitMode, may_decide
from tav.storage.waits import WaitRecord
from tav.triggers.webhook import WebhookError, is_json, request_value

PREFIX = "/resume/"
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
FORM_BYTES = 256 * 1024
"""Largest post of an approval's form (or its JSON)."""
_STATUS: dict[type[Exception], tuple[int, str]] = {
    NotFound: (404, "not_found"),
    Gone: (410, "gone"),
    Conflict: (409, "conflict"),
    Forbidden: (403, "forbidden"),
    InputInvalid: (422, "input_invalid"),
}


def install(app: FastAPI) -> None:
    route = Route(PREFIX + "{token}", resume, methods=METHODS, include_in_schema=False)
    app.router.routes.insert(0, route)
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, HideTokens) for f in access.filters):
        access.addFilter(HideTokens())


class HideTokens(logging.Filter):
    """Keeps the tokens of links out of the access log: ``/resume/…`` is logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(isinstance(a, str) and PREFIX in a for a in args):
            record.args = tuple(
                _IN_PATH.sub(PREFIX + "…", a) if isinstance(a, str) else a for a in args
            )
        return True


_IN_PATH = re.compile(re.escape(PREFIX) + r"[^/?\s\"]*")


async def resume(request: Request) -> Response:
    parts: RecordingParts = request.app.state.parts
    waits = parts.waits
    token = request.path_params["token"]
    wants_json = "text/html" not in request.headers.get("accept", "")
    if waits is None or not TOKEN.match(token):
        return _refusal(404, "not_found", "no wait has this link", wants_json)
    try:
        record = await waits.by_token(token)
        if record.request.mode is WaitMode.TIMER:
            wants_json = True
            return await _timer(request, waits, record, token)
        if record.request.mode is WaitMode.WEBHOOK:
            wants_json = True  # (a program calls it)
            return await _webhook(request, waits, record, token)
        return await _approval(request, parts, waits, record, token, wants_json)
    except (NotFound, Gone, Conflict, Forbidden, InputInvalid) as exc:
        status, code = next(found for kind, found in _STATUS.items() if isinstance(exc, kind))
        return _refusal(status, code, str(exc), wants_json)
    except ApiError as exc:
        return _refusal(exc.status, exc.code, exc.message, wants_json, exc.details, exc.headers)


# -- approvals -------------------------------------------------------------------------------


async def _approval(
    request: Request,
    parts: RecordingParts,
    waits: Waits,
    record: WaitRecord,
    token: str,
    wants_json: bool,
) -> Response:
    if request.method not in ("GET", "HEAD", "POST"):
        allow = {"Allow": "GET, HEAD, POST"}
        raise ApiError(
            405, "method_not_allowed", "an approval's link takes GET and POST", None, allow
        )
    check_open(record)
    decider = await _decider(request, parts)
    who = decider.member.email if decider.member else None
    if not may_decide(record.request, decider):
        raise Forbidden(_not_yours(record, who))
    if request.method != "POST":
        return _html(resume_page.form_page(record, signed_in=who))
    answer, posted = await _answer(request, record)
    try:
        decided = await waits.decide_by_link(token, decider, answer)
    except FormInvalid as exc:
        if wants_json:
            raise ApiError(422, "form_invalid", str(exc), exc.problems) from None
        problems = {p["field"]: p["message"] for p in exc.problems}
        page = resume_page.form_page(
            record, signed_in=who, values=posted, problems=problems, comment=answer.comment
        )
        return _html(page, 422)
    outcome = decided.outcome
    if wants_json:
        body = {"decided": outcome is not None, "port": outcome.port if outcome else None}
        return JSONResponse(body)
    return _html(resume_page.message_page(*_thanks(answer, outcome is not None), record=record))


async def _decider(request: Request, parts: RecordingParts) -> Decider:
    """Whoever holds the link, and the member signed in if this is a page of ours."""
    source_ok = _own_source(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and (request.method != "POST" or source_ok):
        user = await parts.auth.session_user(cookie)
        if user is not None:
            return Decider(
                member=UserRef(id=user.id, email=user.email), role=user.role, via_link=True
            )
    return Decider(via_link=True)


def _own_source(request: Request) -> bool:
    """A post that names where it comes from: ours (else it is refused outright)."""
    if request.method != "POST":
        return False
    origins: OriginPolicy = request.app.state.origins
    source = origins.source(request.scope)
    if source is None or source == "null":  # (an opaque origin: whoever holds the link)
        return False
    if not origins.trusts(request.scope, source):
        raise ApiError(
            403, "cross_site_request", f"cross-site request refused: it comes from {source!r}"
        )
    return True


async def _answer(request: Request, record: WaitRecord) -> tuple[Answer, dict[str, Any]]:
    """The decision posted, and (from a form) the fields as posted, to show them again."""
    raw = await _read(request, FORM_BYTES)
    content_type = request.headers.get("content-type", "")
    if is_json(content_type):
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise ApiError(400, "request_invalid", "the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise ApiError(422, "request_invalid", "the body must be a JSON object")
        comment = body.get("comment", "")
        answer = Answer(
            decision=body.get("decision"),
            comment=comment if isinstance(comment, str) else "",
            data=body.get("data", {}),
        )
        return answer, {}
    form = dict(urllib.parse.parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    fields = {
        key.removeprefix(resume_page.FIELD_PREFIX): value
        for key, value in form.items()
        if key.startswith(resume_page.FIELD_PREFIX)
    }
    data = forms.from_form(record.request.fields, fields)
    answer = Answer(
        decision=form.get("decision"), comment=form.get("comment", "")[: forms.MAX_TEXT], data=data
    )
    return answer, data


def _thanks(answer: Answer, decided: bool) -> tuple[str, str]:
    if not decided:
        return "Approval noted", "Thank you: your approval is noted; it needs more to go on."
    if answer.decision == "reject":
        return "Rejected", "Thank you: the workflow goes on with your rejection."
    return "Approved", "Thank you: the workflow goes on with your approval."


def _not_yours(record: WaitRecord, who: str | None) -> str:
    request = record.request
    named = [*request.approvers, *(f"the {role.value} role" for role in request.approver_roles)]
    listed = ", ".join(named) if named else "members who may run workflows"
    if who is None:
        return f"this approval is for {listed}: sign in to TAV Engine, then open the link again"
    return f"this approval is for {listed}; you are signed in as {who}"


# -- timers and webhook waits ---------------------------------------------------------------


async def _timer(request: Request, waits: Waits, record: WaitRecord, token: str) -> Response:
    """A timer's link ends it now (``POST``): its input goes on, as when it fires."""
    if request.method != "POST":
        raise ApiError(405, "method_not_allowed", "this link takes POST", None, {"Allow": "POST"})
    check_open(record)
    decided = await waits.decide_by_link(token, Decider(via_link=True), Answer())
    body = {
        "execution_id": record.execution_id,
        "node_id": record.node_id,
        "resumed": decided.resumes,
    }
    return JSONResponse(body, status_code=202)


async def _webhook(request: Request, waits: Waits, record: WaitRecord, token: str) -> Response:
    wait = record.request
    if request.method not in wait.methods:
        allowed = ", ".join(wait.methods)
        message = f"this link takes {allowed}"
        raise ApiError(405, "method_not_allowed", message, None, {"Allow": allowed})
    check_open(record)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > wait.max_body_bytes:
        raise _too_large(wait.max_body_bytes)
    raw = await _read(request, wait.max_body_bytes)
    scope = request.scope
    try:
        call = request_value(request.method, scope["headers"], scope["query_string"], raw)
    except WebhookError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    problems = value_problems(
        call["body"], max_bytes=4 * wait.max_body_bytes + 1024, location="body"
    )
    if problems:
        raise ApiError(422, "request_invalid", "the body is not storable JSON", problems)
    decided = await waits.decide_by_link(token, Decider(via_link=True), Answer(call=call))
    body = {
        "execution_id": record.execution_id,
        "node_id": record.node_id,
        "resumed": decided.resumes,
    }
    return JSONResponse(body, status_code=202)


async def _read(request: Request, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"the body is larger than {limit} bytes")


# -- answers ---------------------------------------------------------------------------------


def _refusal(
    status: int,
    code: str,
    message: str,
    wants_json: bool,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    if wants_json:
        return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)
    titles = {404: "Link not found", 410: "This link has expired", 403: "Not for you"}
    page = resume_page.message_page(titles.get(status, "Refused"), message)
    return _html(page, status, headers)


def _html(page: str, status: int = 200, headers: Mapping[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(
        page, status_code=status, headers={**resume_page.HEADERS, **(headers or {})}
    )
