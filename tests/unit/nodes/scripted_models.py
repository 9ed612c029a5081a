"""A chat service that answers from a script, for node tests that need no provider."""

from __future__ import annotations

from typing import Any

from tav.nodes.ai import ChatRequest, ChatResponse


class ScriptedModels:
    """A ``ChatModels`` that answers from a script and keeps the requests it got."""

    def __init__(self, *answers: ChatResponse | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[ChatRequest] = []

    async def chat(self, ctx: Any, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def answer(structured: Any = None, text: str = "", **fields: Any) -> ChatResponse:
    """A response from provider ``openai``, model ``m``."""
    return ChatResponse(
        text=text, provider="openai", model="m", credential="c", structured=structured, **fields
    )
