"""One chat call to one link: plain, streamed, with tools or with structured output.

Streaming: the call may be idle at most ``timeout_s`` between two chunks (and before the
first), so a long answer that keeps coming is never cut off while a stalled one is.
Without streaming, ``timeout_s`` bounds the whole call.

Structured output goes through the provider's own mechanism, via LangChain's
``with_structured_output`` (a JSON-schema response format, or a forced tool call where
that is how the provider does it). The object is checked against the schema; when it
does not fit, the model is asked once more, told why; a second miss is ``InvalidAnswer``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tav.ai import providers, schemas
from tav.ai.chain import InvalidAnswer, Link
from tav.ai.failures import ProviderError
from tav.ai.http import ProviderHttp
from tav.ai.streaming import TokenBatcher
from tav.nodes.ai import ChatRequest, ToolCall, ToolSpec, Usage


@dataclass
class Answer:
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    structured: Any = None
    usage: Usage = field(default_factory=Usage)


OnUsage = Callable[[Usage], None]


async def ask(
    link: Link,
    request: ChatRequest,
    messages: list[Any],
    *,
    timeout_s: float,
    batcher: TokenBatcher | None,
    on_usage: OnUsage,
    http: ProviderHttp | None = None,
) -> Answer:
    options = providers.ModelOptions(timeout_s, request.temperature, request.max_tokens, http)
    model = providers.chat_model(link.credential, link.ref.model, options)
    if request.json_schema is not None:
        return await _structured(model, request.json_schema, messages, timeout_s, on_usage)
    if request.tools:
        model = model.bind_tools([_tool(spec) for spec in request.tools])
    if batcher is not None:
        message = await _stream(model, messages, timeout_s, batcher)
    else:
        message = await asyncio.wait_for(model.ainvoke(messages), timeout_s)
    answer = Answer(
        text=str(message.text),
        tool_calls=[_tool_call(call) for call in message.tool_calls or ()],
        usage=usage_of(message),
    )
    on_usage(answer.usage)
    return answer


async def _stream(model: Any, messages: list[Any], timeout_s: float, batcher: TokenBatcher) -> Any:
    total: Any = None
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout_s) as deadline:
        async with contextlib.aclosing(model.astream(messages)) as chunks:
            async for chunk in chunks:
                deadline.reschedule(loop.time() + timeout_s)
                batcher.add(str(chunk.text))
                total = chunk if total is None else total + chunk
    if total is None:
        raise ProviderError("the provider's stream ended without a message")
    return total


def usage_of(message: Any) -> Usage:
    meta = getattr(message, "usage_metadata", None) or {}
    input_tokens = int(meta.get("input_tokens") or 0)
    output_tokens = int(meta.get("output_tokens") or 0)
    total = int(meta.get("total_tokens") or input_tokens + output_tokens)
    return Usage(input_tokens=input_tokens, output_tokens=output_tokens, total_tokens=total)


def _tool(spec: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": spec.name,
            "description": spec.description,
            "parameters": spec.parameters,
        },
    }


def _tool_call(call: Any) -> ToolCall:
    return ToolCall(
        id=call.get("id") or f"call_{uuid.uuid4().hex[:12]}",
        name=call["name"],
        arguments=dict(call.get("args") or {}),
    )


async def _structured(
    model: Any, schema: dict[str, Any], messages: list[Any], timeout_s: float, on_usage: OnUsage
) -> Answer:
    from langchain_core.messages import HumanMessage

    runnable = model.with_structured_output(_named(schema), include_raw=True)
    usage = Usage()
    asked = list(messages)
    problem = ""
    for _ in range(2):
        result = await asyncio.wait_for(runnable.ainvoke(asked), timeout_s)
        raw, parsed = result.get("raw"), result.get("parsed")
        usage = _add(usage, usage_of(raw))
        on_usage(usage_of(raw))
        problem = _problem(parsed, result.get("parsing_error"), schema)
        if not problem:
            return Answer(
                text=json.dumps(parsed, ensure_ascii=False), structured=parsed, usage=usage
            )
        shown = json.dumps(parsed) if parsed is not None else str(getattr(raw, "text", ""))
        asked = [
            *messages,
            HumanMessage(
                content=f"Your answer {shown[:2000]} does not fit the JSON Schema: {problem}. "
                "Answer again with an object that fits the schema exactly."
            ),
        ]
    raise InvalidAnswer(f"the answer does not fit the JSON Schema, asked twice: {problem}")


def _problem(parsed: Any, parsing_error: Any, schema: dict[str, Any]) -> str:
    if parsing_error is not None:
        return f"not valid JSON ({str(parsing_error).splitlines()[0][:200]})"
    if parsed is None:
        return "no object in the answer"
    return schemas.problem(parsed, schema) or ""


def _named(schema: dict[str, Any]) -> dict[str, Any]:
    """Providers name the schema (a tool or response format name: letters, digits, _-)."""
    title = re.sub(r"[^A-Za-z0-9_-]+", "_", str(schema.get("title") or "answer"))[:64]
    return {**schema, "title": title or "answer"}


def _add(a: Usage, b: Usage) -> Usage:
    return Usage(
        input_tokens=a.input_tokens + b.input_tokens,
        output_tokens=a.output_tokens + b.output_tokens,
        total_tokens=a.total_tokens + b.total_tokens,
    )
