"""``ai.llm_chat``: ask a chat model, with provider fallback, token streaming and usage."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from tav.core.errors import NodeError
from tav.core.media import is_media
from tav.core.model import Model
from tav.nodes.ai import ChatRequest, ProviderAttempt, Usage
from tav.nodes.base import Node, NodeSpec, Outputs, Port
from tav.nodes.builtin.ai.conversation import ConversationParams, conversation
from tav.nodes.capabilities import LLMCapability, StreamingCapability
from tav.nodes.context import NodeContext


class ChatParams(ConversationParams):
    model_config = ConfigDict(extra="forbid")

    max_tokens: int | None = Field(
        None, ge=1, description="Longest answer, in tokens; empty: the provider's default."
    )
    media: list[dict[str, Any]] | dict[str, Any] | None = Field(
        None,
        description="Images (MediaFormat values, e.g. `{{ nodes.fetch.output }}`) to show "
        "the model with the last user message. A media value arriving on the input is "
        "shown too.",
    )
    cache: bool = Field(
        False, description="Reuse the stored answer to the same request instead of asking again."
    )
    timeout_s: float | None = Field(
        None,
        gt=0,
        description="Per provider: longest wait for an answer (while streaming, between two "
        "chunks) before trying the next; empty: the ai_timeout_s setting.",
    )
    stream: bool = Field(True, description="Send tokens as they come (node.progress events).")


class ChatOutput(Model):
    text: str
    provider: str = Field(description="Credential kind of the provider that answered.")
    model: str
    usage: Usage
    attempts: list[ProviderAttempt] = Field(
        description="Every provider tried, in order, with its outcome and error."
    )
    cached: bool = Field(False, description="The answer came from the response cache.")


class LLMChat(LLMCapability, StreamingCapability, Node):
    """Asks a chat model and outputs its answer, the provider and model that gave it, the
    token usage and every provider tried. Providers are tried in the order of `models`
    (else the default chain from the settings): an error, a rate limit or a timeout moves
    on to the next. Tokens stream as `node.progress` events (`{"token": ...}`)."""

    spec = NodeSpec(type="ai.llm_chat", title="LLM chat", category="ai", icon="message-square")
    Params = ChatParams
    inputs = {
        "input": Port(
            "The user message when `prompt` and `messages` are empty; media (images) to show "
            "the model.",
            required=False,
        )
    }
    outputs = {
        "output": Port(
            "`{text, provider, model, usage, attempts, cached}`.",
            schema=ChatOutput,
        )
    }

    async def run(self, params: ChatParams, input: Any, ctx: NodeContext) -> Outputs:
        request = ChatRequest(
            models=params.models,
            messages=_with_media(conversation(params, input), _media(params, input)),
            temperature=params.temperature,
            max_tokens=params.max_tokens,
            timeout_s=params.timeout_s,
            stream=params.stream,
            cache=params.cache,
        )
        response = await self.chat_models(ctx).chat(ctx, request)
        output = ChatOutput(
            text=response.text,
            provider=response.provider,
            model=response.model,
            usage=response.usage,
            attempts=response.attempts,
            cached=response.cached,
        )
        return {"output": output.model_dump(mode="json")}


def _media(params: ChatParams, input: Any) -> list[dict[str, Any]]:
    """Media to attach: the ``media`` param's, and the input's unless the input already is
    the user message."""
    found: list[dict[str, Any]] = []
    given = params.media if isinstance(params.media, list) else [params.media]
    for index, value in enumerate(v for v in given if v is not None):
        if not is_media(value):
            raise NodeError(
                f'media[{index}] is not a media value (a dict with "media": "v1")',
                type="params_invalid",
            )
        found.append(value)
    input_is_message = params.prompt is None and not params.messages
    if not input_is_message:
        values = input if isinstance(input, list) else [input]
        found.extend(v for v in values if is_media(v))
    return found


def _with_media(
    messages: list[dict[str, Any]], media: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    if not media:
        return messages
    last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=None)
    if last_user is None:
        messages.append({"role": "user", "content": list(media)})
        return messages
    content = messages[last_user].get("content", "")
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
    messages[last_user] = {**messages[last_user], "content": [*blocks, *media]}
    return messages
