"""The page of an approval's link: a small form, self-contained, with nothing to load.

Rendered on the server from the wait (its title, description and ``fields``), so it works
without the editor, without JavaScript and, when the link alone is allowed, without an
account. Everything that comes from the workflow or the people is escaped; the page
loads nothing (its one stylesheet is inline, allowed by its hash in the
Content-Security-Policy), cannot be framed, and sends its URL (which holds the token) as
a Referer to this server only: its own post then says where it comes from
(``no-referrer`` would make the browser send ``Origin: null``).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from datetime import datetime
from html import escape
from typing import Any

from tav.core.forms import MAX_TEXT
from tav.storage.waits import WaitRecord

FIELD_PREFIX = "f."
"""Form fields carry the schema's names under this prefix, apart from the page's own."""
STYLE = """
:root{color-scheme:light dark;--fg:#1d2330;--muted:#5f6b7a;--bg:#f5f6f8;--card:#fff;
--line:#d9dde3;--accent:#2f6feb;--bad:#c23b32;--good:#1f8a4c}
@media (prefers-color-scheme:dark){:root{--fg:#e6e9ee;--muted:#9aa4b2;--bg:#14171c;
--card:#1d2128;--line:#333a44;--accent:#5b8def;--bad:#ef6b60;--good:#4cc27d}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:36rem;margin:3rem auto;padding:2rem;background:var(--card);
border:1px solid var(--line);border-radius:12px}
h1{font-size:1.4rem;margin:0 0 .5rem}
.meta{color:var(--muted);font-size:.875rem;margin:0 0 1rem}
.desc{white-space:pre-wrap;margin:0 0 1.5rem}
label{display:block;font-weight:600;margin:1rem 0 .25rem}
.help{display:block;font-weight:400;color:var(--muted);font-size:.875rem}
input[type=text],input[type=number],input[type=email],input[type=date],input[type=url],
select,textarea{width:100%;padding:.5rem .6rem;border:1px solid var(--line);
border-radius:8px;background:transparent;color:inherit;font:inherit}
textarea{min-height:5rem;resize:vertical}
.check{display:flex;gap:.5rem;align-items:center;font-weight:600}
.error{color:var(--bad);font-size:.875rem;margin:.25rem 0 0}
.actions{display:flex;gap:.75rem;margin-top:1.5rem}
button{flex:1;padding:.65rem 1rem;border-radius:8px;border:1px solid transparent;
font:inherit;font-weight:600;cursor:pointer;color:#fff;background:var(--good)}
button.reject{background:transparent;color:var(--bad);border-color:var(--bad)}
.notice{padding:.75rem 1rem;border-radius:8px;border:1px solid var(--line)}
""".strip()
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "no-store",
}


def form_page(
    record: WaitRecord,
    *,
    signed_in: str | None,
    values: Mapping[str, Any] | None = None,
    problems: Mapping[str, str] | None = None,
    comment: str = "",
) -> str:
    """The approval's form; ``values`` and ``problems`` (by field) after a refused post."""
    request = record.request
    fields = (request.fields or {}).get("properties", {})
    required = set((request.fields or {}).get("required", []))
    rows = [
        _field(name, field, name in required, (values or {}).get(name), (problems or {}).get(name))
        for name, field in fields.items()
    ]
    body = [
        _heading(record, signed_in),
        '<form method="post">',
        *rows,
        '<label for="comment">Comment <span class="help">optional</span></label>',
        f'<textarea id="comment" name="comment" maxlength="{MAX_TEXT}">'
        f"{escape(comment)}</textarea>",
        '<div class="actions">',
        '<button type="submit" name="decision" value="approve">Approve</button>',
        '<button type="submit" name="decision" value="reject" class="reject" formnovalidate>'
        "Reject</button>",
        "</div>",
        "</form>",
    ]
    return _page(request.title or "Approval", "".join(body))


def message_page(title: str, message: str, *, record: WaitRecord | None = None) -> str:
    """A page that only says something: decided, gone, not allowed."""
    head = f"<h1>{escape(title)}</h1>" if record is None else _heading(record, None)
    return _page(title, f'{head}<p class="notice">{escape(message)}</p>')


def _heading(record: WaitRecord, signed_in: str | None) -> str:
    request = record.request
    meta = [escape(record.workflow or "Workflow"), f"waiting since {_when(record.created_at)}"]
    if record.due_at is not None:
        meta.append(f"open until {_when(record.due_at)}")
    if request.approvals > 1:
        meta.append(f"{len(record.decisions)} of {request.approvals} approvals")
    if signed_in:
        meta.append(f"signed in as {escape(signed_in)}")
    parts = [
        f"<h1>{escape(request.title or 'Approval')}</h1>",
        f'<p class="meta">{" · ".join(meta)}</p>',
    ]
    if request.description:
        parts.append(f'<p class="desc">{escape(request.description)}</p>')
    return "".join(parts)


def _field(
    name: str, field: Mapping[str, Any], required: bool, value: Any, problem: str | None
) -> str:
    ident = escape(FIELD_PREFIX + name)
    label = escape(str(field.get("title") or name))
    help_text = field.get("description")
    if value is None:
        value = field.get("default")
    note = f'<span class="help">{escape(str(help_text))}</span>' if help_text else ""
    error = f'<p class="error">{escape(problem)}</p>' if problem else ""
    needed = " required" if required else ""
    if field.get("type") == "boolean":
        checked = " checked" if value is True else ""
        return (
            f'<label class="check"><input type="checkbox" name="{ident}" value="on"{checked}> '
            f"{label}</label>{note}{error}"
        )
    control = _control(ident, field, value, needed)
    return f'<label for="{ident}">{label}{note}</label>{control}{error}'


def _control(ident: str, field: Mapping[str, Any], value: Any, needed: str) -> str:
    text = "" if value is None else escape(str(value))
    if "enum" in field:
        options = "".join(
            f'<option value="{escape(str(choice))}"'
            f"{' selected' if choice == value else ''}>{escape(str(choice))}</option>"
            for choice in field["enum"]
        )
        blank = "" if needed else '<option value=""></option>'
        return f'<select id="{ident}" name="{ident}"{needed}>{blank}{options}</select>'
    kind = field.get("type")
    if kind in ("number", "integer"):
        step = "1" if kind == "integer" else "any"
        bounds = "".join(
            f' {attr}="{escape(str(field[key]))}"'
            for key, attr in (("minimum", "min"), ("maximum", "max"))
            if key in field
        )
        return (
            f'<input type="number" step="{step}" id="{ident}" name="{ident}" '
            f'value="{text}"{bounds}{needed}>'
        )
    limit = int(field.get("maxLength", MAX_TEXT))
    if field.get("format") == "textarea" or ("maxLength" not in field and "format" not in field):
        return (
            f'<textarea id="{ident}" name="{ident}" maxlength="{limit}"{needed}>{text}</textarea>'
        )
    kind = {"email": "email", "date": "date", "uri": "url"}.get(field.get("format", ""), "text")
    return (
        f'<input type="{kind}" id="{ident}" name="{ident}" value="{text}" '
        f'maxlength="{limit}"{needed}>'
    )


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
