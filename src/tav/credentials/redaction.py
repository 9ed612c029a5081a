"""What one credential makes redacted: its secret values, their secret parts and their
encoded forms.

Redaction replaces known strings (``Vault.redact``), so this list decides what can never
show up in outputs, errors, events, logs and caches. A whole secret value is not enough:
services echo, log and report secrets in part or in another form. For each credential:

- every value of a field its kind declares secret (``kinds.secret``), whole;
- the secret parts of a URL, in any field: the password of ``https://user:pass@host`` (or
  the user of ``https://<token>@host``, which has none) and the values of query or fragment
  parameters named like a secret (``token``, ``key``, ``api_key``, ``access_token``,
  ``sig``, ``X-Amz-Signature``, ... see ``secret_parameter``);
- in a URL that is itself secret (a webhook URL), its token-like path segments: the token
  of ``/webhooks/<id>/<token>`` (Discord), the last part of ``/services/T../B../<secret>``
  (Slack), the token of ``/bot<token>/`` (Telegram), and any segment of at least
  ``TOKEN_SEGMENT_LENGTH`` characters mixing letters and digits;
- the credentials of a header value (``Bearer <token>``, ``Token <token>``, ...;
  ``Basic <base64>`` decoded), and the secret of a ``<bot id>:<secret>`` token (Telegram:
  the id is public, any chat with the bot shows it);
- a login (``username`` and ``password``): ``base64(user:pass)`` (HTTP Basic) and
  ``base64(\\0user\\0pass)`` (SMTP and IMAP ``AUTH PLAIN``);
- every part above in the forms it travels in: percent-encoded (``quote``, ``quote_plus``),
  JSON-escaped, HTML-escaped, and base64 (standard and URL-safe) at each of the three
  byte alignments, so it is found inside a longer base64 text too (at least 8 base64
  characters: shorter ones turn up by chance).

A part shorter than ``MIN_REDACTED_LENGTH`` (4) characters is not redacted in any form:
replacing every "abc" would wreck outputs and hide nothing worth hiding.

Rejected: scanning outputs for anything that looks like a key (entropy, provider
prefixes), which redacts ids and hashes users need and still misses a password; and
``SecretStr`` fields, which the vault would have to unwrap to encrypt and which say nothing
about a secret's parts.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import SplitResult, quote, quote_plus, unquote, unquote_plus, urlsplit

from tav.credentials.kinds import KINDS, secret_fields
from tav.credentials.vault import MIN_REDACTED_LENGTH

TOKEN_SEGMENT_LENGTH = 16
"""A path segment of a secret URL this long, with letters and digits, is taken as a token
(a Discord token has 68 characters, a Slack webhook secret 24; a snowflake id has no
letters, ``chat.postMessage`` no digits)."""

SECRET_WORDS = frozenset(
    {
        "token",
        "key",
        "apikey",
        "secret",
        "password",
        "passwd",
        "pwd",
        "pass",
        "sig",
        "signature",
        "auth",
        "authorization",
        "credential",
        "credentials",
        "jwt",
        "session",
        "sessionid",
    }
)
SECRET_ENDINGS = ("token", "key", "secret", "password", "signature")
_WORD = re.compile(r"[a-z0-9]+")
_HEADER_VALUE = re.compile(r"(\w+)\s+(\S+)")
AUTH_SCHEMES = frozenset({"bearer", "basic", "token", "bot", "apikey", "key"})
"""Schemes of ``Authorization``-like values whose credentials are registered apart (a
password with a space is not split: its second word is no secret by itself)."""
MIN_BASE64_LENGTH = 8
"""Shorter base64 forms are not registered: 4 characters would turn up by chance inside
a large base64 text (an inline image) and corrupt it."""
_TELEGRAM_SEGMENT = re.compile(r"bot(\d+:[\w-]+)")
_ID_AND_SECRET = re.compile(r"\d+:(\S+)")
"""A Telegram bot token: the bot's id (public: any chat shows it), then its secret."""


def to_redact(kind: str, data: Mapping[str, Any]) -> set[str]:
    """Every string to redact for a credential of ``kind`` holding ``data``."""
    # A kind this version does not know (stored by a newer one): every field is secret.
    secret = secret_fields(kind) if kind in KINDS else frozenset(data)
    parts: set[str] = set()
    for name, value in data.items():
        for text in _strings(value):
            parts |= secret_parts(text) if name in secret else url_parts(text, secret=False)
    forms = {form for part in parts if _long(part) for form in encodings(part)}
    return {form for form in forms | login_forms(data) if _long(form)}


def secret_parts(value: str) -> set[str]:
    """A secret value, whole and in its secret parts (URL parts, a header's credentials,
    the secret of a ``<bot id>:<secret>`` token)."""
    found = {value} | url_parts(value, secret=True) | header_parts(value)
    if match := _ID_AND_SECRET.fullmatch(value.strip()):
        found.add(match.group(1))
    return found


def url_parts(value: str, *, secret: bool) -> set[str]:
    """The secret parts of ``value`` if it is a URL (nothing otherwise); with ``secret``
    (the URL is a secret itself), its token-like path segments too."""
    url = _url(value)
    if url is None:
        return set()
    found = _userinfo(url)
    for query in (url.query, url.fragment):
        found |= _parameters(query)
    if secret:
        found |= _path_tokens(url.path)
    return found


def header_parts(value: str) -> set[str]:
    """The credentials of ``Bearer <token>``-like values; a ``Basic`` one decoded too."""
    match = _HEADER_VALUE.fullmatch(value.strip())
    if match is None:
        return set()
    scheme, credentials = match.groups()
    if scheme.lower() not in AUTH_SCHEMES:
        return set()
    found = {credentials}
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return found
        found |= {decoded, decoded.partition(":")[2]}
    return found


def login_forms(data: Mapping[str, Any]) -> set[str]:
    """How a username and password travel together: HTTP Basic and SASL ``PLAIN``."""
    username, password = data.get("username"), data.get("password")
    if not isinstance(password, str) or not _long(password):
        return set()
    user = username if isinstance(username, str) else ""
    logins = (f"{user}:{password}", f"\0{user}\0{password}")
    return {base64.b64encode(login.encode()).decode() for login in logins}


def encodings(part: str) -> set[str]:
    """``part`` as it appears percent-encoded, JSON- or HTML-escaped, or in base64."""
    forms = {
        part,
        quote(part, safe=""),
        quote(part),
        quote_plus(part),
        json.dumps(part)[1:-1],
        json.dumps(part, ensure_ascii=False)[1:-1],
        html.escape(part),
    }
    raw = part.encode()
    for offset in range(3):
        forms |= _base64_core(raw, offset)
    return forms


def secret_parameter(name: str) -> bool:
    """A query parameter whose value is a secret, by its name: ``token``, ``api_key``,
    ``apiKey``, ``access_token``, ``X-Amz-Signature``, ``sig``, ``client_secret``, ..."""
    lowered = name.lower()
    words = _WORD.findall(lowered)
    joined = "".join(words)
    return any(word in SECRET_WORDS for word in words) or joined.endswith(SECRET_ENDINGS)


# -- helpers ------------------------------------------------------------------------------


def _long(text: str) -> bool:
    return len(text) >= MIN_REDACTED_LENGTH


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _url(value: str) -> SplitResult | None:
    text = value.strip()
    if "://" not in text or any(c.isspace() for c in text):
        return None
    try:
        url = urlsplit(text)
    except ValueError:
        return None
    return url if url.scheme and url.netloc else None


def _userinfo(url: SplitResult) -> set[str]:
    userinfo, at, _ = url.netloc.rpartition("@")
    if not at:
        return set()
    user, colon, password = userinfo.partition(":")
    raw = password if colon else user  # https://<token>@host: the user is the secret
    return {raw, unquote(raw)}


def _parameters(query: str) -> set[str]:
    found: set[str] = set()
    for pair in query.split("&"):
        name, _, raw = pair.partition("=")
        if raw and secret_parameter(unquote_plus(name)):
            found |= {raw, unquote(raw), unquote_plus(raw)}
    return found


def _path_tokens(path: str) -> set[str]:
    segments = path.split("/")
    found: set[str] = set()
    for index, segment in enumerate(segments):
        after = segments[index + 1 :]
        if segment == "webhooks" and len(after) >= 2:  # /webhooks/<id>/<token>
            found.add(after[1])
        elif segment == "services" and len(after) >= 3:  # /services/T../B../<secret>
            found.add(after[2])
        elif match := _TELEGRAM_SEGMENT.fullmatch(segment):  # /bot<token>/
            found.add(match.group(1))
        elif _token_like(segment):
            found.add(segment)
    return {token for part in found for token in (part, unquote(part))}


def _token_like(segment: str) -> bool:
    return (
        len(segment) >= TOKEN_SEGMENT_LENGTH
        and any(c.isalpha() for c in segment)
        and any(c.isdigit() for c in segment)
    )


def _base64_core(raw: bytes, offset: int) -> set[str]:
    """The base64 characters that encode only bytes of ``raw`` when it starts ``offset``
    bytes into a 3-byte group: what any base64 text holding ``raw`` contains."""
    skip = (3 - offset) % 3  # bytes of raw that share a group with what comes before
    whole = (len(raw) - skip) // 3 * 3  # bytes of raw that fill groups of their own
    if whole * 4 // 3 < MIN_BASE64_LENGTH:
        return set()
    chunk = raw[skip : skip + whole]
    return {base64.b64encode(chunk).decode(), base64.urlsafe_b64encode(chunk).decode()}
