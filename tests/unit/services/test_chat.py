"""slack.post_message, discord.send_message and telegram.send_message against fake APIs
on 127.0.0.1, checking the exact requests."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tav.core.errors import WorkflowInvalid
from tav.core.results import ExecutionResult, NodeResult
from tav.engine.executor import Executor
from tests.fakes.secrets import MemorySecrets
from tests.helpers import node, run, workflow

NO_WAIT = {"max_attempts": 3, "backoff_s": 0, "jitter": False}


async def call(executor: Executor, type_: str, trigger: Any = None, **params: Any) -> NodeResult:
    wf = workflow(
        node("start", "trigger.manual"),
        node("send", type_, params=params, retry=NO_WAIT),
        links=("start -> send",),
    )
    result: ExecutionResult = await run(executor, wf, trigger or {})
    return result.nodes["send"]


def bodies(httpserver: HTTPServer) -> list[Any]:
    return [json.loads(request.get_data()) for request, _ in httpserver.log]


# -- Slack -------------------------------------------------------------------------------


async def test_slack_posts_a_message_with_the_bot_token(
    executor: Executor, httpserver: HTTPServer, memory_secrets: MemorySecrets
):
    memory_secrets.add("slack", "slack", token="xoxb-secret-token")
    httpserver.expect_request(
        "/slack/api/chat.postMessage",
        method="POST",
        headers={
            "Authorization": "Bearer xoxb-secret-token",
            "Content-Type": "application/json; charset=utf-8",
        },
        json={"channel": "C024BE91L", "text": "Deploy done", "thread_ts": "1712.0001"},
    ).respond_with_json(
        {"ok": True, "channel": "C024BE91L", "ts": "1712.0002", "message": {"text": "x"}}
    )

    outcome = await call(
        executor,
        "slack.post_message",
        {"ts": "1712.0001"},
        credential="slack",
        channel="C024BE91L",
        text="Deploy done",
        thread_ts="{{ trigger.ts }}",
    )

    assert outcome.status.value == "succeeded", outcome.error
    assert outcome.outputs["output"] == {
        "channel": "C024BE91L",
        "ts": "1712.0002",
        "message": {"text": "x"},
    }
    httpserver.check_assertions()


async def test_slack_errors_are_final_except_rate_limits(
    executor: Executor, httpserver: HTTPServer, memory_secrets: MemorySecrets
):
    memory_secrets.add("slack", "bearer", token="xoxb-t")
    httpserver.expect_oneshot_request("/slack/api/chat.postMessage").respond_with_data(
        "", status=429, headers={"Retry-After": "0"}
    )
    httpserver.expect_oneshot_request("/slack/api/chat.postMessage").respond_with_json(
        {"ok": False, "error": "ratelimited"}
    )
    httpserver.expect_request("/slack/api/chat.postMessage").respond_with_json(
        {"ok": False, "error": "channel_not_found"}
    )

    outcome = await call(executor, "slack.post_message", credential="slack", channel="C1", text="x")

    assert outcome.status.value == "failed"
    assert outcome.error is not None
    assert outcome.error.type == "slack_error"
    assert "channel_not_found" in outcome.error.message
    assert outcome.attempts == 3  # 429, ratelimited, then the final error
    assert len(httpserver.log) == 3


async def test_slack_needs_text_or_blocks(executor: Executor):
    with pytest.raises(WorkflowInvalid, match="set `text` or `blocks`"):
        await call(executor, "slack.post_message", credential="slack", channel="C1")


# -- Discord -----------------------------------------------------------------------------


async def test_discord_through_a_webhook(
    executor: Executor, httpserver: HTTPServer, memory_secrets: MemorySecrets
):
    memory_secrets.add(
        "discord", "discord", webhook_url=httpserver.url_for("/api/webhooks/123/tok-abc")
    )
    httpserver.expect_request(
        "/api/webhooks/123/tok-abc",
        method="POST",
        query_string="wait=true",
        json={"content": "Build 7 passed", "username": "TAV"},
    ).respond_with_json({"id": "99", "channel_id": "5", "content": "Build 7 passed"})

    outcome = await call(
        executor,
        "discord.send_message",
        credential="discord",
        content="Build 7 passed",
        username="TAV",
    )

    assert outcome.status.value == "succeeded", outcome.error
    assert outcome.outputs["output"]["id"] == "99"
    request, _ = httpserver.log[0]
    assert "Authorization" not in request.headers
    httpserver.check_assertions()


async def test_a_discord_webhook_url_keeps_its_thread_id(
    executor: Executor, httpserver: HTTPServer, memory_secrets: MemorySecrets
):
    url = httpserver.url_for("/api/webhooks/123/tok-abc") + "?thread_id=777"
    memory_secrets.add("discord", "discord", webhook_url=url)
    httpserver.expect_request(
        "/api/webhooks/123/tok-abc", method="POST", query_string="thread_id=777&wait=true"
    ).respond_with_json({"id": "99", "channel_id": "777"})

    outcome = await call(executor, "discord.send_message", credential="discord", content="hi")

    assert outcome.status.value == "succeeded", outcome.error
    assert httpserver.log[0][0].args.to_dict(flat=False) == {
        "thread_id": ["777"],
        "wait": ["true"],
    }


async def test_discord_as_a_bot_sends_the_same_nonce_on_every_attempt(
    executor: Executor, httpserver: HTTPServer, memory_secrets: MemorySecrets
):
    memory_secrets.add("discord", "discord", bot_token="bot-tok")
    path = "/discord/api/v10/channels/4242/messages"
    httpserver.expect_oneshot_request(path).respond_with_json(
        {"message": "You are being rate limited.", "retry_after": 0.01, "global": False},
        status=429,
    )
    httpserver.expect_request(
        path, method="POST", headers={"Authorization": "Bot bot-tok"}
    ).respond_with_json({"id": "1", "channel_id": "4242"})

    outcome = await call(
        executor,
        "discord.send_message",
        credential="discord",
        channel_id="4242",
        content="hi",
        embeds=[{"title": "T"}],
    )

    assert outcome.status.value == "succeeded", outcome.error
    assert outcome.attempts == 2
    first, second = bodies(httpserver)
    assert first == second
    assert first["content"] == "hi"
    assert first["embeds"] == [{"title": "T"}]
    assert first["enforce_nonce"] is True
    assert len(first["nonce"]) == 25


async def test_discord_client_errors_are_final(
    executor: Executor, httpserver: HTTPServer, memory_secrets: MemorySecrets
):
    memory_secrets.add("discord", "discord", bot_token="bot-tok")
    httpserver.expect_request("/discord/api/v10/channels/1/messages").respond_with_json(
        {"message": "Missing Access", "code": 50001}, status=403
    )

    outcome = await call(
        executor, "discord.send_message", credential="discord", channel_id="1", content="x"
    )
    assert outcome.error is not None
    assert (outcome.error.type, outcome.attempts) == ("http_error", 1)
    assert "Missing Access" in outcome.error.message

    outcome = await call(executor, "discord.send_message", credential="discord", content="x")
    assert outcome.error is not None
    assert "channel_id" in outcome.error.message


# -- Telegram ----------------------------------------------------------------------------


async def test_telegram_sends_a_message(
    executor: Executor, httpserver: HTTPServer, memory_secrets: MemorySecrets
):
    memory_secrets.add("telegram", "telegram", bot_token="123456:ABC-DEF")
    httpserver.expect_request(
        "/telegram/bot123456:ABC-DEF/sendMessage",
        method="POST",
        json={
            "chat_id": 42,
            "text": "<b>Alert</b>",
            "parse_mode": "HTML",
            "reply_parameters": {"message_id": 7},
        },
    ).respond_with_json({"ok": True, "result": {"message_id": 8, "chat": {"id": 42}}})

    outcome = await call(
        executor,
        "telegram.send_message",
        {"chat": 42},
        credential="telegram",
        chat_id="{{ trigger.chat }}",
        text="<b>Alert</b>",
        parse_mode="HTML",
        reply_to_message_id=7,
    )

    assert outcome.status.value == "succeeded", outcome.error
    assert outcome.outputs["output"] == {"message_id": 8, "chat": {"id": 42}}
    httpserver.check_assertions()


async def test_telegram_waits_as_told_and_fails_on_bad_requests(
    executor: Executor, httpserver: HTTPServer, memory_secrets: MemorySecrets
):
    memory_secrets.add("telegram", "telegram", bot_token="123456:ABC-DEF")
    path = "/telegram/bot123456:ABC-DEF/sendMessage"
    httpserver.expect_oneshot_request(path).respond_with_json(
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 0",
            "parameters": {"retry_after": 0},
        },
        status=429,
    )
    httpserver.expect_request(path).respond_with_json(
        {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}, status=400
    )

    outcome = await call(
        executor, "telegram.send_message", credential="telegram", chat_id="@nowhere", text="x"
    )

    assert outcome.error is not None
    assert outcome.error.type == "telegram_error"
    assert outcome.error.message == "Telegram sendMessage failed: 400 Bad Request: chat not found"
    assert outcome.attempts == 2


async def test_a_server_error_without_json_is_retried(
    executor: Executor, httpserver: HTTPServer, memory_secrets: MemorySecrets
):
    memory_secrets.add("telegram", "telegram", bot_token="1:A")
    calls = 0

    def flaky(request: Request) -> Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return Response("<html>bad gateway</html>", status=502)
        return Response(
            json.dumps({"ok": True, "result": {"message_id": 1}}), content_type="application/json"
        )

    httpserver.expect_request("/telegram/bot1:A/sendMessage").respond_with_handler(flaky)

    outcome = await call(
        executor, "telegram.send_message", credential="telegram", chat_id=1, text="x"
    )

    assert outcome.status.value == "succeeded", outcome.error
    assert outcome.attempts == 2
