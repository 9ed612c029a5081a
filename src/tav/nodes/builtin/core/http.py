"""``core.http_request``: call an HTTP API.

Failures are classified for retries: network errors, 5xx and 429 are operational
(retryable, honouring ``Retry-After``); other 4xx are the request's fault and are not.
Requests go through the host's shared ``OutboundSession`` (``ctx.services.http_session``:
connections kept open between runs, under the host's outbound policy); a host without one
gets a session of the node's own, under its outbound policy (``ctx.services.outbound``),
closed after. ``query`` is merged into the query string ``url`` already has; a parameter in
both takes ``query``'s value.

The list form (``requests`` instead of ``url``) sends many requests from one node, at most
``concurrency`` at a time, through the same session and the same outbound policy (each
response under the same size limit), and outputs the responses in request order
(``tav.nodes.builtin.core.items``). The node holds one slot of the ``http`` pool for the
whole list: ``concurrency`` bounds the list, the pool bounds the nodes. A retry of the
node sends the whole list again.
"""

from __future__ import annotations

import base64
import contextlib
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from multidict import CIMultiDict
from pydantic import (
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    model_validator,
)

from tav.core.model import Model
from tav.nodes import http, outbound
from tav.nodes.base import Node, NodeSpec, Outputs, Port
from tav.nodes.builtin.core.items import ERRORS_PORT, ON_ITEM_ERROR, OnItemError, each
from tav.nodes.builtin.services.common import credential_of
from tav.nodes.context import NodeContext
from tav.nodes.params import MULTILINE

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
HttpUrl = Annotated[str, StringConstraints(pattern=r"^https?://")]
MAX_CONCURRENCY = 100
"""Requests of one list at a time, at most: the connections one client keeps to a host."""


class RequestItem(Model):
    """One request of the list form; what it leaves out comes from the node's params."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    url: HttpUrl = Field(description="Absolute http(s) URL.")
    method: Method | None = Field(None, description="Default: the node's `method`.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Added to the node's `headers`."
    )
    query: dict[str, Any] = Field(default_factory=dict, description="Added to the node's `query`.")
    json_body: Any = Field(None, alias="json", description="Default: the node's `json`.")
    body: str | None = Field(None, description="Default: the node's `body`.")

    @model_validator(mode="after")
    def _one_body(self) -> RequestItem:
        if self.json_body is not None and self.body is not None:
            raise ValueError("set either `json` or `body`, not both")
        return self


RequestEntry = Annotated[
    Annotated[HttpUrl, Tag("url")] | Annotated[RequestItem, Tag("request")],
    Discriminator(lambda value: "url" if isinstance(value, str) else "request"),
]
"""A URL, or a request: told apart by their type, so that a problem names one of them."""


class HttpRequestParams(Model):
    # `{"X-Id": "{{ trigger.id }}"}` renders to the native int; headers and body take it.
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    method: Method = "GET"
    url: HttpUrl | None = Field(
        None, description="Absolute http(s) URL (or `requests`, for a list of requests)."
    )
    requests: list[RequestEntry] | None = Field(
        None,
        description="The list form, instead of `url`: a list of URLs or of `{url, method, "
        "headers, query, json, body}` (usually a template); the node's own params are "
        "each one's defaults. Outputs the list of responses, in request order.",
    )
    concurrency: int = Field(
        8, ge=1, le=MAX_CONCURRENCY, description="List form: requests at the same time, at most."
    )
    on_item_error: OnItemError = Field("stop", description=ON_ITEM_ERROR)
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, Any] = Field(
        default_factory=dict,
        description="Query string parameters, added to those in the URL (and replacing "
        "any of the same name).",
    )
    json_body: Any = Field(None, alias="json", description="A JSON request body.")
    body: str | None = Field(
        None, description="A raw text request body.", json_schema_extra=MULTILINE
    )
    timeout_s: float = Field(30.0, gt=0, description="Timeout of the HTTP call itself.")
    fail_on_status: bool = Field(True, description="Fail on 4xx and 5xx responses.")
    follow_redirects: bool = True
    idempotent: bool = Field(
        False,
        description="Send an Idempotency-Key header, the same on every retry and after a "
        "resume, so that a server that supports it acts on the request once (in the list "
        "form, one per request).",
    )
    credential: str | None = Field(
        None,
        description="Id of a stored `basic` or `bearer` credential, sent as the "
        "Authorization header (its secrets are redacted from the response).",
    )

    @model_validator(mode="after")
    def _one_of_each(self) -> HttpRequestParams:
        if self.json_body is not None and self.body is not None:
            raise ValueError("set either `json` or `body`, not both")
        if (self.url is None) == (self.requests is None):
            raise ValueError("set one of `url` and `requests` (a list of requests)")
        return self


class HttpResponse(Model):
    status: int
    headers: dict[str, str]
    body: Any


class HttpRequest(Node):
    """Sends an HTTP request, or a list of them (`requests`, at most `concurrency` at a
    time); outputs the response's status, headers and body (parsed when it is JSON), or
    the list of responses in request order."""

    spec = NodeSpec(
        type="core.http_request", title="HTTP request", category="network", icon="globe"
    )
    Params = HttpRequestParams
    outputs = {
        "output": Port(
            "{status, headers, body}; in the list form, a list of them in request order "
            "(null for a failed one).",
            schema=HttpResponse,
        ),
        "errors": ERRORS_PORT,
    }
    pool = "http"

    async def run(self, params: HttpRequestParams, input: Any, ctx: NodeContext) -> Outputs:
        headers = dict(params.headers)
        if params.credential:
            headers["Authorization"] = await _authorization(ctx, params.credential)
        async with _session(ctx) as session:
            if params.requests is None:
                assert params.url is not None
                if params.idempotent:
                    headers.setdefault("Idempotency-Key", ctx.idempotency_key)
                request = _Request.of(params, params.url, headers)
                return {"output": await _exchange(session, request, params)}

            async def one(index: int, item: str | RequestItem) -> dict[str, Any]:
                request = _Request.of(params, item, headers)
                if params.idempotent:
                    request.headers.setdefault("Idempotency-Key", f"{ctx.idempotency_key}:{index}")
                return await _exchange(session, request, params)

            done = await each(
                params.requests,
                one,
                concurrency=params.concurrency,
                on_item_error=params.on_item_error,
                label="request",
            )
        return done.outputs()


@dataclass
class _Request:
    """One request to send: the node's params, and a list item's over them."""

    method: str
    url: str
    headers: CIMultiDict[str]
    query: dict[str, Any]
    json_body: Any
    body: str | None

    @property
    def what(self) -> str:
        return f"{self.method} {self.url}"

    @classmethod
    def of(
        cls, params: HttpRequestParams, item: str | RequestItem, headers: dict[str, str]
    ) -> _Request:
        if isinstance(item, str):
            return cls(
                params.method,
                item,
                CIMultiDict(headers),
                params.query,
                params.json_body,
                params.body,
            )
        own_body = item.json_body is not None or item.body is not None
        merged = CIMultiDict(headers)
        merged.update(item.headers)  # a name in both, in any case: the request's value
        return cls(
            method=item.method or params.method,
            url=item.url,
            headers=merged,
            query={**params.query, **item.query},
            json_body=item.json_body if own_body else params.json_body,
            body=item.body if own_body else params.body,
        )


def _session(ctx: NodeContext) -> AbstractAsyncContextManager[outbound.OutboundSession]:
    """The host's shared session, left open; else one of the node's own, closed after."""
    shared = ctx.services.http_session
    if shared is not None:
        return contextlib.nullcontext(shared)
    return outbound.OutboundSession(ctx.services.outbound)


async def _authorization(ctx: NodeContext, credential_id: str) -> str:
    credential = await credential_of(ctx, credential_id, "basic", "bearer")
    data = credential.data
    if credential.kind == "bearer":
        return f"Bearer {data['token']}"
    login = f"{data['username']}:{data['password']}".encode()
    return f"Basic {base64.b64encode(login).decode()}"


async def _exchange(
    session: outbound.OutboundSession, request: _Request, params: HttpRequestParams
) -> dict[str, Any]:
    response = await http.send(
        session,
        request.method,
        request.url,
        what=request.what,
        timeout_s=params.timeout_s,
        headers=request.headers,
        params=request.query,
        json=request.json_body,
        content=request.body,
        follow_redirects=params.follow_redirects,
    )
    if params.fail_on_status:
        http.check(response, request.what)
    # ``HttpResponse``'s shape (the port's schema), built directly rather than validated
    # again per response.
    return {"status": response.status_code, "headers": _headers(response), "body": _body(response)}


def _headers(response: outbound.OutboundResponse) -> dict[str, str]:
    """Names in lower case; a name sent several times, its values joined by ``, ``."""
    headers: dict[str, str] = {}
    for name, value in response.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def _body(response: outbound.OutboundResponse) -> Any:
    content_type = response.headers.get("content-type", "")
    if "json" in content_type and response.content:
        try:
            return response.json()
        except ValueError:
            pass
    return response.text
