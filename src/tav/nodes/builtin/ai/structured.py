"""``ai.structured``: ask a model for an object that fits a JSON Schema."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, field_validator

from tav.core.model import Model
from tav.nodes.ai import ChatRequest, ChatResponse, Usage
from tav.nodes.base import Node, NodeSpec, Outputs, Port
from tav.nodes.builtin.ai.conversation import ConversationParams, conversation
from tav.nodes.builtin.ai.json_schema import object_schema_problems
from tav.nodes.capabilities import LLMCapability
from tav.nodes.context import NodeContext


class StructuredParams(ConversationParams):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # ``schema`` would shadow ``BaseModel.schema``; documents still say ``schema``.
    output_schema: dict[str, Any] = Field(
        alias="schema",
        description="JSON Schema of the object to get back (`type: object`). The answer is "
        "checked against it; the model is asked once more when it does not fit.",
    )
    cache: bool = Field(
        False, description="Reuse the stored answer to the same request instead of asking again."
    )

    @field_validator("output_schema")
    @classmethod
    def _valid_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        problems = object_schema_problems(schema, "schema")
        if problems:
            more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
            raise ValueError("not a valid JSON Schema: " + "; ".join(problems[:3]) + more)
        return schema


class StructuredOutput(Model):
    object: Any = Field(description="The answer: an object that fits the schema.")
    provider: str = Field(description="Credential kind of the provider that answered.")
    model: str
    usage: Usage


def answered_by(response: ChatResponse) -> dict[str, Any]:
    """Who answered and what it cost: ``{provider, model, usage}``."""
    return {
        "provider": response.provider,
        "model": response.model,
        "usage": response.usage.counts(),
    }


class Structured(LLMCapability, Node):
    """Asks a model for an object that fits a JSON Schema (structured output) and outputs
    it with the provider, model and token usage. When an answer does not fit, the model is
    asked once more, then the next model of the chain; when none fits, the node fails with
    `invalid_answer` (not retried)."""

    spec = NodeSpec(
        type="ai.structured",
        title="Structured output",
        category="ai",
        icon="braces",
    )
    Params = StructuredParams
    outputs = {"output": Port("`{object, provider, model, usage}`.", schema=StructuredOutput)}

    async def run(self, params: StructuredParams, input: Any, ctx: NodeContext) -> Outputs:
        request = ChatRequest(
            models=params.models,
            messages=conversation(params, input),
            temperature=params.temperature,
            cache=params.cache,
            stream=False,
            json_schema=params.output_schema,
        )
        response = await self.chat_models(ctx).chat(ctx, request)
        return {"output": {"object": response.structured, **answered_by(response)}}
