"""Chat messages: ``slack.post_message``, ``discord.send_message``,
``telegram.send_message``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from tav.core.model import Model
from tav.nodes.base import Node, NodeSpec, Outputs, Port
from tav.nodes.builtin.services.common import credential_field, credential_of, short_key
from tav.nodes.context import NodeContext
from tav.nodes.host import DISCORD, SLACK, TELEGRAM
from tav.nodes.params import MULTILINE

DISCORD_NONCE_LENGTH = 25
"""Discord takes nonces of at most 25 characters."""


class SlackPostMessageParams(Model):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    credential: str = credential_field("slack", "bearer")
    channel: str = Field(min_length=1, description="Channel id (C0123...) or name (#general).")
    text: str | None = Field(
        None,
        description="The message; with `blocks`: the fallback.",
        json_schema_extra=MULTILINE,
    )
    blocks: list[dict[str, Any]] | None = Field(None, description="Block Kit blocks.")
    thread_ts: str | None = Field(None, description="Reply in this message's thread.")
    unfurl_links: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> SlackPostMessageParams:
        if not self.text and not self.blocks:
            raise ValueError("set `text` or `blocks`")
        return self


class SlackPostMessage(Node):
    """Posts a message to a Slack channel with a bot token (a `slack` credential);
    outputs the channel and the message's `ts`."""

    spec = NodeSpec(
        type="slack.post_message", title="Slack message", category="services", icon="message"
    )
    Params = SlackPostMessageParams
    requires = (SLACK,)
    outputs = {"output": Port("{channel, ts, message}")}
    pool = "http"

    async def run(self, params: SlackPostMessageParams, input: Any, ctx: NodeContext) -> Outputs:
        credential = await credential_of(ctx, params.credential, "slack", "bearer")
        body = params.model_dump(exclude={"credential"}, exclude_none=True)
        slack = ctx.service(SLACK)
        answer = await slack.call(str(credential.data["token"]), "chat.postMessage", body)
        return {
            "output": {
                "channel": answer.get("channel"),
                "ts": answer.get("ts"),
                "message": answer.get("message"),
            }
        }


class DiscordSendMessageParams(Model):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    credential: str = credential_field("discord")
    channel_id: str | None = Field(
        None, description="The channel, when the credential is a bot token (not a webhook)."
    )
    content: str | None = Field(
        None, max_length=2000, description="The message text.", json_schema_extra=MULTILINE
    )
    embeds: list[dict[str, Any]] | None = Field(None, max_length=10)
    username: str | None = Field(None, description="Webhooks only: the name shown.")
    tts: bool = False

    @model_validator(mode="after")
    def _something(self) -> DiscordSendMessageParams:
        if not self.content and not self.embeds:
            raise ValueError("set `content` or `embeds`")
        return self


class DiscordSendMessage(Node):
    """Sends a message to Discord through a webhook or as a bot (a `discord` credential);
    outputs the message Discord created. As a bot, the message carries a nonce that is
    the same on every attempt, so Discord creates it once."""

    spec = NodeSpec(
        type="discord.send_message", title="Discord message", category="services", icon="message"
    )
    Params = DiscordSendMessageParams
    requires = (DISCORD,)
    outputs = {"output": Port("The message Discord created: {id, channel_id, ...}.")}
    pool = "http"

    async def run(self, params: DiscordSendMessageParams, input: Any, ctx: NodeContext) -> Outputs:
        credential = await credential_of(ctx, params.credential, "discord")
        body = params.model_dump(
            exclude={"credential", "channel_id"}, exclude_none=True, exclude_defaults=True
        )
        if credential.data.get("bot_token") and not credential.data.get("webhook_url"):
            body.pop("username", None)
            body.update(nonce=short_key(ctx, DISCORD_NONCE_LENGTH), enforce_nonce=True)
        discord = ctx.service(DISCORD)
        message = await discord.send_message(credential.data, body, channel_id=params.channel_id)
        return {"output": message}


class TelegramSendMessageParams(Model):
    model_config = ConfigDict(extra="forbid")

    credential: str = credential_field("telegram")
    chat_id: int | str = Field(description="Chat id, or @channelusername.")
    text: str = Field(min_length=1, max_length=4096, json_schema_extra=MULTILINE)
    parse_mode: Literal["HTML", "MarkdownV2", "Markdown"] | None = None
    disable_notification: bool = False
    reply_to_message_id: int | None = None


class TelegramSendMessage(Node):
    """Sends a text message with a Telegram bot (a `telegram` credential); outputs the
    message Telegram created."""

    spec = NodeSpec(
        type="telegram.send_message",
        title="Telegram message",
        category="services",
        icon="message",
    )
    Params = TelegramSendMessageParams
    requires = (TELEGRAM,)
    outputs = {"output": Port("The message Telegram created: {message_id, chat, ...}.")}
    pool = "http"

    async def run(self, params: TelegramSendMessageParams, input: Any, ctx: NodeContext) -> Outputs:
        credential = await credential_of(ctx, params.credential, "telegram")
        body: dict[str, Any] = {"chat_id": params.chat_id, "text": params.text}
        if params.parse_mode:
            body["parse_mode"] = params.parse_mode
        if params.disable_notification:
            body["disable_notification"] = True
        if params.reply_to_message_id is not None:
            body["reply_parameters"] = {"message_id": params.reply_to_message_id}
        telegram = ctx.service(TELEGRAM)
        result = await telegram.call(str(credential.data["bot_token"]), "sendMessage", body)
        return {"output": result}
