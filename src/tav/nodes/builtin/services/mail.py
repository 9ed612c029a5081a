"""``email.send``: a message over SMTP, with attachments."""

from __future__ import annotations

from email.utils import parseaddr
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field, model_validator

from tav.core.model import Model
from tav.nodes.base import Node, NodeSpec, Outputs, Port
from tav.nodes.builtin.services.common import credential_field, credential_of, short_key
from tav.nodes.capabilities import media_content, media_param
from tav.nodes.context import NodeContext
from tav.nodes.host import MAILER
from tav.nodes.params import MULTILINE
from tav.nodes.services import Attachment, Email


def _addresses(value: Any) -> Any:
    """A list of addresses, or one string of them separated by commas."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


Addresses = Annotated[list[str], BeforeValidator(_addresses)]


class EmailSendParams(Model):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    credential: str = credential_field("smtp")
    from_: str = Field(
        alias="from",
        min_length=3,
        description="The sender: `a@example.com` or `Ada <a@example.com>`.",
    )
    to: Addresses = Field(
        min_length=1, description="Recipients (a list, or one string separated by commas)."
    )
    cc: Addresses = Field(default_factory=list)
    bcc: Addresses = Field(default_factory=list, description="Recipients not named in the message.")
    reply_to: str | None = None
    subject: str = ""
    text: str | None = Field(None, description="Plain-text body.", json_schema_extra=MULTILINE)
    html: str | None = Field(
        None,
        description="HTML body (with `text`: the alternative).",
        json_schema_extra=MULTILINE,
    )
    attachments: list[Any] = Field(
        default_factory=list,
        description="Media values (MediaFormat): inline, or stored files (`file:<id>`).",
    )

    @model_validator(mode="before")
    @classmethod
    def _one_attachment(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("attachments"), dict):
            data = {**data, "attachments": [data["attachments"]]}
        return data


class EmailSent(Model):
    message_id: str
    accepted: list[str]
    rejected: dict[str, str] = Field(description="Recipients the server refused, and why.")


class EmailSend(Node):
    """Sends an email through an SMTP server (an `smtp` credential), with a text and/or an
    HTML body and attachments; outputs the message id and who accepted it. The message id
    is the same on every attempt, so a receiving server may drop a retried duplicate."""

    spec = NodeSpec(type="email.send", title="Send email", category="services", icon="mail")
    Params = EmailSendParams
    requires = (MAILER,)
    outputs = {"output": Port("{message_id, accepted, rejected}", schema=EmailSent)}
    pool = "http"

    async def run(self, params: EmailSendParams, input: Any, ctx: NodeContext) -> Outputs:
        credential = await credential_of(ctx, params.credential, "smtp")
        domain = parseaddr(params.from_)[1].rpartition("@")[2] or "tav.local"
        email = Email(
            sender=params.from_,
            to=tuple(params.to),
            cc=tuple(params.cc),
            bcc=tuple(params.bcc),
            subject=params.subject,
            text=params.text,
            html=params.html,
            reply_to=params.reply_to,
            attachments=tuple(
                [await _attachment(ctx, v, i) for i, v in enumerate(params.attachments)]
            ),
            message_id=f"<{short_key(ctx)}@{domain}>",
        )
        sent = await ctx.service(MAILER).send(credential.data, email)
        return {"output": EmailSent.model_validate(sent).model_dump()}


async def _attachment(ctx: NodeContext, value: Any, index: int) -> Attachment:
    media = media_param(value, where=f"attachments[{index}]")
    name = media.name or f"attachment-{index + 1}"
    return Attachment(name=name, mime_type=media.mime_type, content=await media_content(ctx, media))
