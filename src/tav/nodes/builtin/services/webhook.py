"""``webhook.send``: a JSON POST signed with HMAC-SHA256, for receivers that check who
sent it (see ``tav.services.webhooks`` for the headers)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ConfigDict, Field

from tav.core.model import Model
from tav.nodes.base import Node, NodeSpec, Outputs, Port
from tav.nodes.builtin.services.common import credential_field, credential_of
from tav.nodes.context import NodeContext
from tav.nodes.host import WEBHOOKS


class WebhookSendParams(Model):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    url: str = Field(pattern=r"^https?://", description="Where to POST (absolute URL).")
    credential: str = credential_field("hmac")
    payload: Any = Field(
        None, description="The JSON body; default: what arrived on the input port."
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Extra headers.")


class WebhookResponse(Model):
    status: int
    headers: dict[str, str]
    body: Any


class WebhookSend(Node):
    """POSTs JSON to a URL, signed with the secret of an `hmac` credential: headers
    `X-TAV-Timestamp`, `X-TAV-Signature` (`sha256=` HMAC-SHA256 of `<timestamp>.<body>`)
    and `X-TAV-Delivery` (the same on every attempt; also sent as `Idempotency-Key`).
    Outputs the response's status, headers and body."""

    spec = NodeSpec(type="webhook.send", title="Send webhook", category="services", icon="send")
    Params = WebhookSendParams
    requires = (WEBHOOKS,)
    outputs = {"output": Port("{status, headers, body}", schema=WebhookResponse)}
    pool = "http"

    async def run(self, params: WebhookSendParams, input: Any, ctx: NodeContext) -> Outputs:
        credential = await credential_of(ctx, params.credential, "hmac")
        payload = params.payload if params.payload is not None else input
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        webhooks = ctx.service(WEBHOOKS)
        response = await webhooks.send(
            params.url,
            body,
            secret=str(credential.data["secret"]),
            headers=params.headers,
            delivery_id=ctx.idempotency_key,
        )
        return {"output": WebhookResponse.model_validate(response).model_dump()}
