"""``core.http_request``: call an HTTP API with httpx.

Failures are classified for retries: network errors, 5xx and 429 are operational
(retryable, honouring ``Retry-After``); other 4xx are the request's fault and are not.
The host may supply a shared ``httpx.AsyncClient`` (``ctx.services.http``: connection
pooling; the server's applies its outbound policy); otherwise each request uses its own
client, under the host's outbound policy (``ctx.services.outbound``). ``query`` is merged into the
query string ``url`` already has; a parameter in both takes ``query``'s value.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

import httpx
from pydantic import ConfigDict, Field, model_validator

from tav.core.model import Model
from tav.nodes import http, outbound
from tav.nodes.base import Node, NodeSpec, Outputs, Port
from tav.nodes.builtin.services.common import credential_of
from tav.nodes.context import NodeContext

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class HttpRequestParams(Model):
    # `{"X-Id": "{{ trigger.id }}"}` renders to the native int; headers and body take it.
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    method: Method = "GET"
    url: str = Field(description="Absolute http(s) URL.", pattern=r"^https?://")
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, Any] = Field(
        default_factory=dict,
        description="Query string parameters, added to those in the URL (and replacing "
        "any of the same name).",
    )
    json_body: Any = Field(None, alias="json", description="A JSON request body.")
    body: str | None = Field(None, description="A raw text request body.")
    timeout_s: float = Field(30.0, gt=0, description="Timeout of the HTTP call itself.")
    fail_on_status: bool = Field(True, description="Fail on 4xx and 5xx responses.")
    follow_redirects: bool = True
    idempotent: bool = Field(
        False,
        description="Send an Idempotency-Key header, the same on every retry and after a "
        "resume, so that a server that supports it acts on the request once.",
    )
    credential: str | None = Field(
        None,
        description="Id of a stored `basic` or `bearer` credential, sent as the "
        "Authorization header (its secrets are redacted from the response).",
    )

    @model_validator(mode="after")
    def _one_body(self) -> HttpRequestParams:
        if self.json_body is not None and self.body is not None:
            raise ValueError("set either `json` or `body`, not both")
        return self


class HttpResponse(Model):
    status: int
    headers: dict[str, str]
    body: Any


class HttpRequest(Node):
    """Sends an HTTP request; outputs the response's status, headers and body
    (parsed when it is JSON)."""

    spec = NodeSpec(
        type="core.http_request", title="HTTP request", category="network", icon="globe"
    )
    Params = HttpRequestParams
    outputs = {"output": Port("{status, headers, body}", schema=HttpResponse)}
    pool = "http"

    async def run(self, params: HttpRequestParams, input: Any, ctx: NodeContext) -> Outputs:
        client = ctx.services.http
        headers = dict(params.headers)
        if params.idempotent:
            headers.setdefault("Idempotency-Key", ctx.idempotency_key)
        if params.credential:
            headers["Authorization"] = await _authorization(ctx, params.credential)
        if client is None:
            async with outbound.client(ctx.services.outbound) as own_client:
                response = await _send(own_client, params, headers)
        else:
            response = await _send(client, params, headers)
        return {"output": _check(response, params).model_dump()}


async def _authorization(ctx: NodeContext, credential_id: str) -> str:
    credential = await credential_of(ctx, credential_id, "basic", "bearer")
    data = credential.data
    if credential.kind == "bearer":
        return f"Bearer {data['token']}"
    login = f"{data['username']}:{data['password']}".encode()
    return f"Basic {base64.b64encode(login).decode()}"


async def _send(
    client: httpx.AsyncClient, params: HttpRequestParams, headers: dict[str, str]
) -> httpx.Response:
    return await http.request(
        client,
        params.method,
        params.url,
        what=f"{params.method} {params.url}",
        timeout_s=params.timeout_s,
        headers=headers,
        params=params.query,
        json=params.json_body,
        content=params.body,
        follow_redirects=params.follow_redirects,
    )


def _check(response: httpx.Response, params: HttpRequestParams) -> HttpResponse:
    if params.fail_on_status:
        http.check(response, f"{params.method} {params.url}")
    return HttpResponse(
        status=response.status_code, headers=dict(response.headers), body=_body(response)
    )


def _body(response: httpx.Response) -> Any:
    content_type = response.headers.get("content-type", "")
    if "json" in content_type and response.content:
        try:
            return response.json()
        except ValueError:
            pass
    return response.text
