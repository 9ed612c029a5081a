"""``ai.classify``: a model picks one of the given labels; the input goes out on that
label's port, like ``core.switch``.

The label is asked for as structured output whose JSON Schema allows only the labels (an
``enum``), so the answer is a label or it is refused and asked again by the chat service
— the node never has to guess what a free-text answer meant.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from tav.core.errors import NodeError
from tav.core.model import Model
from tav.nodes.ai import ChatRequest, Usage
from tav.nodes.base import PORT_PATTERN, Node, NodeSpec, Outputs, Port
from tav.nodes.builtin.ai.conversation import ConversationParams, Text, conversation
from tav.nodes.builtin.ai.structured import answered_by
from tav.nodes.capabilities import BranchingCapability, LLMCapability
from tav.nodes.context import NodeContext
from tav.nodes.params import MULTILINE

RESULT_PORT = "classification"
RESERVED = frozenset({RESULT_PORT, "error"})
INVALID_ANSWER = "invalid_answer"
"""The error type of a chat whose answers never fit the schema asked for."""


class ClassifyParams(ConversationParams):
    labels: list[str] | dict[str, str] = Field(
        description="The labels to choose from: names, or name → description (what the "
        "label means, for the model). One output port per label, named after it."
    )
    instructions: Text | None = Field(
        None,
        description="More guidance for the model on how to choose (a template).",
        json_schema_extra=MULTILINE,
    )
    fallback_label: str | None = Field(
        None,
        description="One of the labels, chosen when no other fits — and when the model's "
        "answer is still not a label after it was asked again (instead of failing).",
    )

    @field_validator("labels")
    @classmethod
    def _port_names(cls, labels: list[str] | dict[str, str]) -> list[str] | dict[str, str]:
        names = list(labels)
        if not names:
            raise ValueError("give at least one label")
        for name in names:
            if not PORT_PATTERN.match(name) or name in RESERVED:
                raise ValueError(
                    f"label {name!r} must be a port name (letters, digits, '_' or '-') other "
                    f"than {' or '.join(sorted(RESERVED))}"
                )
        if len(set(names)) != len(names):
            raise ValueError("labels must be unique")
        return labels

    @field_validator("fallback_label")
    @classmethod
    def _one_of_the_labels(cls, fallback: str | None, info: ValidationInfo) -> str | None:
        labels = info.data.get("labels")
        if fallback is not None and labels is not None and fallback not in labels:
            raise ValueError(f"must be one of the labels ({', '.join(labels)})")
        return fallback


class Classification(Model):
    label: str
    confidence: float | None = Field(
        description="How sure the model was, from 0 to 1; empty for the fallback label "
        "when no answer was a label."
    )
    provider: str | None
    model: str | None
    usage: Usage | None


def label_schema(labels: list[str]) -> dict[str, Any]:
    """The answer the model must give: one of ``labels`` and how sure it is."""
    return {
        "type": "object",
        "properties": {
            "label": {"type": "string", "enum": labels, "description": "The chosen label."},
            "confidence": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "description": "How sure you are, from 0 to 1.",
            },
        },
        "required": ["label", "confidence"],
        "additionalProperties": False,
    }


def instructions(params: ClassifyParams) -> str:
    """The system prompt: the caller's, the labels (with what they mean), the guidance."""
    lines = [params.system, ""] if params.system else []
    lines.append("Classify the user's text: choose exactly one of these labels.")
    described = params.labels if isinstance(params.labels, dict) else {}
    for label in params.labels:
        meaning = described.get(label)
        lines.append(f"- {label}: {meaning}" if meaning else f"- {label}")
    if params.fallback_label:
        lines.append(f"If none of them fits, choose {params.fallback_label}.")
    if params.instructions:
        lines.extend(["", params.instructions])
    lines.append("Answer with the label and your confidence, from 0 to 1.")
    return "\n".join(lines)


class Classify(BranchingCapability, LLMCapability, Node):
    """Asks a model which of the given labels fits the text (by default the input) and
    sends the input, unchanged, to the output port named after that label; the other
    ports stay inactive. `classification` carries `{label, confidence, provider, model,
    usage}`."""

    spec = NodeSpec(type="ai.classify", title="Classify", category="ai", icon="tags")
    Params = ClassifyParams
    outputs = {
        RESULT_PORT: Port(
            "`{label, confidence, provider, model, usage}`, whatever the label.",
            schema=Classification,
        )
    }

    @classmethod
    def output_ports(cls, params: BaseModel | None) -> dict[str, Port]:
        labels = list(params.labels) if isinstance(params, ClassifyParams) else []
        return {
            **{label: Port(f"The input, when the label is {label!r}.") for label in labels},
            **cls.outputs,
        }

    async def run(self, params: ClassifyParams, input: Any, ctx: NodeContext) -> Outputs:
        labels = list(params.labels)
        request = ChatRequest(
            models=params.models,
            messages=conversation(params, input, system=instructions(params)),
            temperature=params.temperature,
            stream=False,
            json_schema=label_schema(labels),
        )
        try:
            response = await self.chat_models(ctx).chat(ctx, request)
        except NodeError as exc:
            if exc.type != INVALID_ANSWER or params.fallback_label is None:
                raise
            ctx.log.warning("no label in the answers; %s: %s", params.fallback_label, exc)
            fallback = {"provider": None, "model": None, "usage": None}
            return _routed(params.fallback_label, None, input, fallback)
        answer = response.structured if isinstance(response.structured, dict) else {}
        label = answer.get("label")
        if label in labels:
            return _routed(label, answer.get("confidence"), input, answered_by(response))
        if params.fallback_label is None:
            raise NodeError(
                f"the model answered {label!r}, which is not one of the labels",
                type=INVALID_ANSWER,
            )
        return _routed(params.fallback_label, None, input, answered_by(response))


def _routed(label: str, confidence: Any, input: Any, answered: dict[str, Any]) -> Outputs:
    return {label: input, RESULT_PORT: {"label": label, "confidence": confidence, **answered}}
