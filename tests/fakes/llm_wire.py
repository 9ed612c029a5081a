"""The wire shapes of the fake provider servers (``tests.fakes.llm``): what each provider's
API answers, plain dicts built from a scripted ``Reply`` or the deterministic default."""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

EMBED_DIM = 16
ERROR_TEXT = "fake provider error"
CREATED_AT = "2026-01-01T00:00:00Z"


@dataclass
class Reply:
    """One scripted answer of a fake provider."""

    text: str = ""
    """Streamed token by token (split before spaces) when the client streams."""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """``[{"name": ..., "arguments": {...}}]`` (an ``id`` is made up when missing)."""
    status: int = 200
    """An error status (500, 429, ...) answers with the provider's error body."""
    headers: dict[str, str] = field(default_factory=dict)
    """Response headers, e.g. ``{"Retry-After": "1"}``."""
    delay_s: float = 0
    """Wait this long before answering, to provoke timeouts."""
    usage: tuple[int, int] = (7, 5)
    """Input and output tokens."""
    token_delay_s: float = 0
    """Wait this long before each streamed chunk."""
    chunks: list[str] | None = None
    """Stream exactly these pieces (the text is what they make together)."""
    echo_key: bool = False
    """Add the key the client presented to the text, as a provider repeating its request
    would (``tests.fakes.llm`` fills it in)."""


@dataclass
class Plan:
    """What a request asks for, read from its body."""

    last_user: str = ""
    forced_tool: str | None = None
    tool_schema: dict[str, Any] | None = None
    schema: dict[str, Any] | None = None


@dataclass
class Answer:
    text: str
    tool_calls: list[dict[str, Any]]
    usage: tuple[int, int]
    headers: dict[str, str]
    token_delay_s: float = 0
    chunks: list[str] | None = None

    @property
    def tokens(self) -> list[str]:
        if self.chunks is not None:
            return list(self.chunks)
        return re.findall(r"\s*\S+", self.text)


def answer(reply: Reply | None, plan: Plan) -> Answer:
    """The scripted reply, or the default: a schema-fitting object when structured output
    or a tool is forced, else ``"echo: "`` and the last user message."""
    usage = reply.usage if reply else (7, 5)
    headers = reply.headers if reply else {}
    delay = reply.token_delay_s if reply else 0
    if reply and reply.tool_calls:
        return Answer(reply.text, _with_ids(reply.tool_calls), usage, headers, delay)
    if plan.forced_tool:
        arguments = _json_object(reply.text) if reply else None
        if arguments is None and reply is None:
            arguments = example(plan.tool_schema or {"type": "object"})
        if arguments is not None:
            calls = _with_ids([{"name": plan.forced_tool, "arguments": arguments}])
            return Answer("", calls, usage, headers, delay)
    if reply:
        if reply.chunks is not None:
            return Answer("".join(reply.chunks), [], usage, headers, delay, reply.chunks)
        return Answer(reply.text, [], usage, headers, delay)
    if plan.schema is not None:
        return Answer(json.dumps(example(plan.schema)), [], usage, headers, delay)
    return Answer(f"echo: {plan.last_user}", [], usage, headers, delay)


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _with_ids(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"id": c.get("id") or f"call_{i}", "name": c["name"], "arguments": c.get("arguments", {})}
        for i, c in enumerate(calls)
    ]


def example(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """A minimal value fitting ``schema`` (objects get every property)."""
    defs = schema.get("$defs", schema.get("definitions", defs or {}))
    if "$ref" in schema:
        return example(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return example(schema[key][0], defs)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: example(sub, defs) for name, sub in props.items()}
    if kind == "array":
        items = schema.get("items", {"type": "string"})
        return [example(items, defs) for _ in range(schema.get("minItems", 0))]
    simple = {"string": "text", "integer": 0, "number": 0, "boolean": False, "null": None}
    return simple.get(kind, "text")


def embed_text(text: str, dim: int = EMBED_DIM) -> list[float]:
    """A deterministic unit vector: a signed, hashed bag of the text's words."""
    vector = [0.0] * dim
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        digest = hashlib.sha256(word.encode()).digest()
        vector[digest[0] % dim] += 1.0 if digest[1] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0:
        return [1.0] + [0.0] * (dim - 1)
    return [v / norm for v in vector]


def _word_count(texts: list[str]) -> int:
    return sum(len(t.split()) for t in texts) or 1


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p
        ).strip()
    return ""


def sse_line(chunk: Any, *, events: bool = False) -> str:
    if isinstance(chunk, str):
        return f"data: {chunk}\n\n"
    if events:
        return f"event: {chunk['type']}\ndata: {json.dumps(chunk)}\n\n"
    return f"data: {json.dumps(chunk)}\n\n"


def json_line(chunk: Any) -> str:
    return json.dumps(chunk) + "\n"


# --- OpenAI (and OpenAI-compatible servers) -------------------------------------------


def openai_plan(body: dict[str, Any]) -> Plan:
    plan = Plan()
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            plan.last_user = _content_text(message.get("content"))
            break
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "function":
        plan.forced_tool = choice["function"]["name"]
        for tool in body.get("tools", []):
            if tool.get("function", {}).get("name") == plan.forced_tool:
                plan.tool_schema = tool["function"].get("parameters")
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        plan.schema = fmt["json_schema"].get("schema", {})
    elif fmt.get("type") == "json_object":
        plan.schema = {"type": "object"}
    return plan


def _openai_usage(answer: Answer) -> dict[str, int]:
    i, o = answer.usage
    return {"prompt_tokens": i, "completion_tokens": o, "total_tokens": i + o}


def _openai_calls(answer: Answer) -> list[dict[str, Any]]:
    return [
        {
            "id": c["id"],
            "type": "function",
            "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])},
        }
        for c in answer.tool_calls
    ]


def openai_message(body: dict[str, Any], answer: Answer) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer.text or None}
    if answer.tool_calls:
        message["tool_calls"] = _openai_calls(answer)
    if not answer.tool_calls and message["content"] is None:
        message["content"] = ""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if answer.tool_calls else "stop",
            }
        ],
        "usage": _openai_usage(answer),
    }


def openai_stream(body: dict[str, Any], answer: Answer, usage: bool) -> Iterator[Any]:
    base = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    yield chunk({"role": "assistant", "content": ""})
    for token in answer.tokens:
        yield chunk({"content": token})
    for index, call in enumerate(_openai_calls(answer)):
        yield chunk({"tool_calls": [{"index": index, **call}]})
    yield chunk({}, "tool_calls" if answer.tool_calls else "stop")
    if usage:
        yield {**base, "choices": [], "usage": _openai_usage(answer)}
    yield "[DONE]"


def openai_embeddings(body: dict[str, Any]) -> dict[str, Any]:
    inputs = body.get("input", [])
    texts = [inputs] if isinstance(inputs, str) else [_as_text(t) for t in inputs]
    dim = body.get("dimensions") or EMBED_DIM
    count = _word_count(texts)
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": embed_text(t, dim)}
            for i, t in enumerate(texts)
        ],
        "model": body.get("model", "fake"),
        "usage": {"prompt_tokens": count, "total_tokens": count},
    }


def _as_text(item: Any) -> str:
    if isinstance(item, list):
        return " ".join(str(t) for t in item)
    return str(item)


def openai_error(reply: Reply) -> dict[str, Any]:
    kind = "rate_limit_exceeded" if reply.status == 429 else "server_error"
    return {
        "error": {
            "message": f"{ERROR_TEXT} {reply.status}",
            "type": kind,
            "code": kind,
            "param": None,
        }
    }


# --- Anthropic ------------------------------------------------------------------------


def anthropic_plan(body: dict[str, Any]) -> Plan:
    plan = Plan()
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            text = _content_text(message.get("content"))
            if text:
                plan.last_user = text
                break
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "tool":
        plan.forced_tool = choice["name"]
        for tool in body.get("tools", []):
            if tool.get("name") == plan.forced_tool:
                plan.tool_schema = tool.get("input_schema")
    fmt = body.get("output_format") or (body.get("output_config") or {}).get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        plan.schema = fmt.get("schema", {})
    return plan


def _anthropic_blocks(answer: Answer) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if answer.text:
        blocks.append({"type": "text", "text": answer.text})
    for call in answer.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": call["id"], "name": call["name"], "input": call["arguments"]}
        )
    return blocks


def anthropic_message(body: dict[str, Any], answer: Answer) -> dict[str, Any]:
    i, o = answer.usage
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "fake"),
        "content": _anthropic_blocks(answer),
        "stop_reason": "tool_use" if answer.tool_calls else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": i, "output_tokens": o},
    }


def anthropic_stream(body: dict[str, Any], answer: Answer) -> Iterator[dict[str, Any]]:
    i, o = answer.usage
    message = anthropic_message(body, answer)
    yield {
        "type": "message_start",
        "message": {
            **message,
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": i, "output_tokens": 0},
        },
    }
    index = 0
    if answer.text:
        start = {"type": "text", "text": ""}
        yield {"type": "content_block_start", "index": index, "content_block": start}
        for token in answer.tokens:
            delta = {"type": "text_delta", "text": token}
            yield {"type": "content_block_delta", "index": index, "delta": delta}
        yield {"type": "content_block_stop", "index": index}
        index += 1
    for call in answer.tool_calls:
        start = {"type": "tool_use", "id": call["id"], "name": call["name"], "input": {}}
        yield {"type": "content_block_start", "index": index, "content_block": start}
        delta = {"type": "input_json_delta", "partial_json": json.dumps(call["arguments"])}
        yield {"type": "content_block_delta", "index": index, "delta": delta}
        yield {"type": "content_block_stop", "index": index}
        index += 1
    yield {
        "type": "message_delta",
        "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
        "usage": {"input_tokens": i, "output_tokens": o},
    }
    yield {"type": "message_stop"}


def anthropic_error(reply: Reply) -> dict[str, Any]:
    kind = "rate_limit_error" if reply.status == 429 else "api_error"
    return {
        "type": "error",
        "error": {"type": kind, "message": f"{ERROR_TEXT} {reply.status}"},
    }


# --- Ollama ---------------------------------------------------------------------------


def ollama_plan(body: dict[str, Any]) -> Plan:
    plan = Plan()
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            plan.last_user = _content_text(message.get("content"))
            break
    fmt = body.get("format")
    if isinstance(fmt, dict):
        plan.schema = fmt
    elif fmt == "json":
        plan.schema = {"type": "object"}
    return plan


def _ollama_done(body: dict[str, Any], answer: Answer) -> dict[str, Any]:
    i, o = answer.usage
    return {
        "model": body.get("model", "fake"),
        "created_at": CREATED_AT,
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": "stop",
        "total_duration": 1000,
        "load_duration": 10,
        "prompt_eval_count": i,
        "prompt_eval_duration": 100,
        "eval_count": o,
        "eval_duration": 100,
    }


def _ollama_calls(answer: Answer) -> list[dict[str, Any]]:
    return [
        {"function": {"name": c["name"], "arguments": c["arguments"]}} for c in answer.tool_calls
    ]


def ollama_message(body: dict[str, Any], answer: Answer) -> dict[str, Any]:
    done = _ollama_done(body, answer)
    done["message"] = {"role": "assistant", "content": answer.text}
    if answer.tool_calls:
        done["message"]["tool_calls"] = _ollama_calls(answer)
    return done


def ollama_stream(body: dict[str, Any], answer: Answer) -> Iterator[dict[str, Any]]:
    model = body.get("model", "fake")
    for token in answer.tokens:
        message = {"role": "assistant", "content": token}
        yield {"model": model, "created_at": CREATED_AT, "message": message, "done": False}
    if answer.tool_calls:
        message = {"role": "assistant", "content": "", "tool_calls": _ollama_calls(answer)}
        yield {"model": model, "created_at": CREATED_AT, "message": message, "done": False}
    yield _ollama_done(body, answer)


def ollama_embeddings(body: dict[str, Any]) -> dict[str, Any]:
    inputs = body.get("input", [])
    texts = [inputs] if isinstance(inputs, str) else [str(t) for t in inputs]
    return {
        "model": body.get("model", "fake"),
        "embeddings": [embed_text(t) for t in texts],
        "total_duration": 1000,
        "load_duration": 10,
        "prompt_eval_count": _word_count(texts),
    }


def ollama_error(reply: Reply) -> dict[str, Any]:
    return {"error": f"{ERROR_TEXT} {reply.status}"}


# --- Google Gemini --------------------------------------------------------------------


def google_plan(body: dict[str, Any]) -> Plan:
    plan = Plan()
    for content in reversed(body.get("contents", [])):
        if content.get("role", "user") == "user":
            texts = [p["text"] for p in content.get("parts", []) if "text" in p]
            if texts:
                plan.last_user = " ".join(texts)
                break
    calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    allowed = calling.get("allowedFunctionNames") or []
    if calling.get("mode") == "ANY" and len(allowed) == 1:
        plan.forced_tool = allowed[0]
        for tool in body.get("tools", []):
            for decl in tool.get("functionDeclarations", []):
                if decl.get("name") == plan.forced_tool:
                    plan.tool_schema = decl.get("parametersJsonSchema") or decl.get("parameters")
    config = body.get("generationConfig") or {}
    schema = config.get("responseJsonSchema") or config.get("responseSchema")
    if schema is not None:
        plan.schema = _lower_types(schema)
    elif config.get("responseMimeType") == "application/json":
        plan.schema = {"type": "object"}
    return plan


def _lower_types(schema: Any) -> Any:
    """Gemini's OpenAPI-style schemas spell types in capitals (``"OBJECT"``)."""
    if isinstance(schema, dict):
        return {
            k: (v.lower() if k == "type" and isinstance(v, str) else _lower_types(v))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_lower_types(v) for v in schema]
    return schema


def _google_usage(answer: Answer) -> dict[str, int]:
    i, o = answer.usage
    return {"promptTokenCount": i, "candidatesTokenCount": o, "totalTokenCount": i + o}


def _google_candidate(parts: list[dict[str, Any]], finish: str | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return candidate


def _google_calls(answer: Answer) -> list[dict[str, Any]]:
    return [
        {"functionCall": {"id": c["id"], "name": c["name"], "args": c["arguments"]}}
        for c in answer.tool_calls
    ]


def google_message(model: str, answer: Answer) -> dict[str, Any]:
    parts = ([{"text": answer.text}] if answer.text else []) + _google_calls(answer)
    return {
        "candidates": [_google_candidate(parts, "STOP")],
        "usageMetadata": _google_usage(answer),
        "modelVersion": model,
    }


def google_stream(model: str, answer: Answer) -> Iterator[dict[str, Any]]:
    for token in answer.tokens:
        yield {"candidates": [_google_candidate([{"text": token}], None)], "modelVersion": model}
    yield {
        "candidates": [_google_candidate(_google_calls(answer) or [{"text": ""}], "STOP")],
        "usageMetadata": _google_usage(answer),
        "modelVersion": model,
    }


def google_embeddings(body: dict[str, Any], method: str) -> dict[str, Any]:
    def text_of(request: dict[str, Any]) -> str:
        parts = (request.get("content") or {}).get("parts", [])
        return " ".join(str(p.get("text", "")) for p in parts)

    if method == "embedContent":
        return {"embedding": {"values": embed_text(text_of(body))}}
    return {"embeddings": [{"values": embed_text(text_of(r))} for r in body.get("requests", [])]}


def google_error(reply: Reply) -> dict[str, Any]:
    status = "RESOURCE_EXHAUSTED" if reply.status == 429 else "INTERNAL"
    message = f"{ERROR_TEXT} {reply.status}"
    return {"error": {"code": reply.status, "message": message, "status": status}}
