"""``trigger.webhook``: an HTTP request to ``/webhook/<path>`` starts a run."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from tav.core.model import Model
from tav.nodes.base import Node, NodeSpec, Port
from tav.nodes.capabilities import TriggerCapability

PATH_PATTERN = re.compile(r"^[A-Za-z0-9._~\-]+(/[A-Za-z0-9._~\-]+)*$")
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _post() -> list[HttpMethod]:
    return ["POST"]


class WebhookParams(Model):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        min_length=1,
        max_length=200,
        description="Served at /webhook/<path>: letters, digits, '.', '_', '~', '-' and '/'.",
    )
    methods: list[HttpMethod] = Field(
        default_factory=_post, min_length=1, description="HTTP methods it accepts."
    )
    auth: Literal["none", "header", "basic"] = Field(
        "none",
        description="none; header: a token in a header (credential kind bearer: "
        "'Authorization: Bearer <token>', or api_key: the key in `auth_header`); "
        "basic: HTTP basic authentication (credential kind basic).",
    )
    credential: str | None = Field(
        None, max_length=200, description="The credential holding the token or the password."
    )
    auth_header: str = Field(
        "X-API-Key",
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9\-]+$",
        description="The header holding the key, for auth 'header' with an api_key credential.",
    )
    respond: Literal["immediately", "when_done"] = Field(
        "immediately",
        description="immediately: 202 with the execution id; when_done: once the run ends.",
    )
    response: Literal["output", "custom"] = Field(
        "output",
        description="With when_done: output answers 200 with the workflow's output as JSON; "
        "custom takes `status`, `headers` and `body` from the output.",
    )
    timeout_s: float = Field(
        30, gt=0, le=3600, description="With when_done: answer 504 if the run takes longer."
    )
    max_body_bytes: int = Field(
        1024 * 1024, ge=0, description="Larger request bodies are refused with 413."
    )
    rate_limit_per_minute: int | None = Field(
        600, ge=1, description="Requests per minute on this path; more get 429. Empty: no limit."
    )

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        value = value.strip("/")
        if not PATH_PATTERN.match(value):
            raise ValueError("use letters, digits, '.', '_', '~', '-' and '/' only")
        return value

    @field_validator("methods")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _credential(self) -> WebhookParams:
        if self.auth != "none" and not self.credential:
            raise ValueError(f"auth {self.auth!r} needs a credential")
        return self


class WebhookTrigger(TriggerCapability, Node):
    """Starts the workflow when an HTTP request arrives at `/webhook/<path>`.

    The payload is `{method, path, headers, query, body}`: the body parsed from JSON or
    form data, else text. Only while the workflow is active; see docs/reference/triggers.md.
    """

    spec = NodeSpec(type="trigger.webhook", title="Webhook", category="triggers", icon="webhook")
    Params = WebhookParams
    outputs = {"output": Port("The request: {method, path, headers, query, body}.")}
    trigger_kind = "webhook"
    raw_params = frozenset(WebhookParams.model_fields)
    max_per_workflow = 16
