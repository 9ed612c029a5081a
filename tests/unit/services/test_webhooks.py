"""webhook.send: the receiver checks the HMAC-SHA256 signature itself."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tav.engine.executor import Executor
from tav.services.webhooks import sign, verify
from tests.fakes.secrets import MemorySecrets
from tests.helpers import node, run, workflow

SECRET = "whsec-0123456789"
NO_WAIT = {"max_attempts": 2, "backoff_s": 0, "jitter": False}


def checked(request: Request) -> bool:
    """What a receiver does: recompute the signature over '<timestamp>.<body>'."""
    timestamp = request.headers["X-TAV-Timestamp"]
    expected = hmac.new(
        SECRET.encode(), timestamp.encode() + b"." + request.get_data(), hashlib.sha256
    ).hexdigest()
    fresh = abs(time.time() - int(timestamp)) < 300
    return fresh and request.headers["X-TAV-Signature"] == f"sha256={expected}"


async def test_the_body_is_signed_and_marked_with_a_delivery_id(
    executor: Executor, httpserver: HTTPServer, memory_secrets: MemorySecrets
):
    memory_secrets.add("hook", "hmac", secret=SECRET)
    seen: list[Request] = []

    def receive(request: Request) -> Response:
        seen.append(request)
        if not checked(request):
            return Response("bad signature", status=401)
        if len(seen) == 1:
            return Response("busy", status=503, headers={"Retry-After": "0"})
        return Response(json.dumps({"received": True}), content_type="application/json")

    httpserver.expect_request("/hooks/orders", method="POST").respond_with_handler(receive)
    wf = workflow(
        node("start", "trigger.manual"),
        node(
            "send",
            "webhook.send",
            params={
                "url": httpserver.url_for("/hooks/orders"),
                "credential": "hook",
                "headers": {"X-Source": "tav"},
            },
            retry=NO_WAIT,
        ),
        links=("start -> send",),
    )
    result = await run(executor, wf, {"order": 7, "note": "größer"})

    outcome = result.nodes["send"]
    assert outcome.status.value == "succeeded", outcome.error
    assert outcome.attempts == 2
    assert outcome.outputs["output"]["status"] == 200
    assert outcome.outputs["output"]["body"] == {"received": True}
    first, second = seen
    assert json.loads(second.get_data()) == {"order": 7, "note": "größer"}
    assert second.headers["Content-Type"] == "application/json"
    assert second.headers["X-Source"] == "tav"
    delivery = f"{result.execution_id}:send"
    for request in (first, second):
        assert request.headers["X-TAV-Delivery"] == delivery
        assert request.headers["Idempotency-Key"] == delivery


async def test_a_refused_delivery_is_not_retried(
    executor: Executor, httpserver: HTTPServer, memory_secrets: MemorySecrets
):
    memory_secrets.add("hook", "hmac", secret="another secret")
    httpserver.expect_request("/hook").respond_with_handler(
        lambda request: (
            Response("bad signature", status=401) if not checked(request) else Response("ok")
        )
    )
    wf = workflow(
        node("start", "trigger.manual"),
        node(
            "send",
            "webhook.send",
            params={"url": httpserver.url_for("/hook"), "credential": "hook", "payload": [1]},
            retry=NO_WAIT,
        ),
        links=("start -> send",),
    )
    result = await run(executor, wf, {})

    outcome = result.nodes["send"]
    assert outcome.error is not None
    assert (outcome.error.type, outcome.attempts) == ("http_error", 1)
    assert "401" in outcome.error.message


def test_verify_accepts_fresh_signed_bodies_only():
    body, now = b'{"a":1}', 1_700_000_000.0
    timestamp = str(int(now))
    signature = sign(SECRET, timestamp, body)

    assert verify(SECRET, body, timestamp=timestamp, signature=signature, now=now)
    assert not verify(SECRET, body + b" ", timestamp=timestamp, signature=signature, now=now)
    assert not verify("other", body, timestamp=timestamp, signature=signature, now=now)
    assert not verify(SECRET, body, timestamp=timestamp, signature=signature, now=now + 301)
    assert not verify(SECRET, body, timestamp="soon", signature=signature, now=now)
