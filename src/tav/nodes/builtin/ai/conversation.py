"""What the structured-output, classification and agent nodes share: the conversation
params (prompt, messages, system prompt, model chain, temperature) and how they become
the messages of a chat request."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field

from tav.core.errors import NodeError
from tav.core.model import Model
from tav.nodes.ai import ModelRef
from tav.nodes.params import MULTILINE


def as_text(value: Any) -> Any:
    """Text for a prompt: strings as they are, other values (a template that rendered to an
    object, a number) as JSON; ``None`` stays ``None``."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


Text = Annotated[str, BeforeValidator(as_text)]


def _content(value: Any) -> Any:
    """Message content: text and block lists as they are, a media value as its one block,
    anything else as JSON text."""
    if value is None:
        return ""
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and value.get("media") == "v1":
        return [value]
    return as_text(value)


class ChatMessage(Model):
    """One message of a conversation; assistant messages may carry ``tool_calls`` and tool
    messages a ``tool_call_id``."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool"]
    content: Annotated[str | list[Any], BeforeValidator(_content)] = Field(
        "", description="Text, or a list of content blocks (text blocks, media values)."
    )


class ConversationParams(Model):
    model_config = ConfigDict(extra="forbid")

    prompt: Text | None = Field(
        None,
        description="The user message (a template). Without it and without `messages`, "
        "the node's input is the user message (objects as JSON).",
        json_schema_extra=MULTILINE,
    )
    messages: list[ChatMessage] = Field(
        default_factory=list,
        description="The conversation so far, `{role, content}` each; `prompt`, when given, "
        "is added after it as the last user message.",
    )
    system: Text | None = Field(None, description="The system prompt.", json_schema_extra=MULTILINE)
    models: list[ModelRef] = Field(
        default_factory=list,
        description="Providers to try in order, `{credential, model}` each; "
        "empty: the default chain from the settings.",
    )
    temperature: float | None = Field(
        None, ge=0, le=2, description="Sampling temperature; empty: the provider's default."
    )


def conversation(
    params: ConversationParams, input: Any, *, system: str | None = None
) -> list[dict[str, Any]]:
    """The messages to send: ``system`` (else the params' system prompt), the params'
    messages, then the prompt — or the input when neither prompt nor messages is given."""
    messages: list[dict[str, Any]] = []
    system_text = system if system is not None else params.system
    if system_text:
        messages.append({"role": "system", "content": system_text})
    messages.extend(m.model_dump(exclude_none=True) for m in params.messages)
    if params.prompt is not None:
        messages.append({"role": "user", "content": params.prompt})
    elif not params.messages:
        messages.append({"role": "user", "content": input_content(input)})
    return messages


def input_content(input: Any) -> str | list[Any]:
    """The node's input as message content: a media value as a content block, other
    values as text."""
    if input is None or input == "":
        raise NodeError(
            "nothing to send to the model: set `prompt` or `messages`, or connect an input",
            type="params_invalid",
        )
    if isinstance(input, dict) and input.get("media") == "v1":
        return [input]
    return str(as_text(input))
