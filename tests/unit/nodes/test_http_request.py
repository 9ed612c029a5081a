"""core.http_request against a real HTTP server on 127.0.0.1 (pytest-httpserver)."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import threading
import time
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tav.core.errors import Problem, WorkflowInvalid
from tav.core.events import NodeRetrying
from tav.core.results import ExecutionResult, NodeResult
from tav.core.states import ExecutionStatus
from tav.engine.bus import InMemoryBus
from tav.engine.executor import Executor
from tav.nodes.builtin.core.http import HttpRequest
from tav.nodes.host import HostServices
from tav.nodes.outbound import OutboundPolicy, OutboundSession
from tav.nodes.outbound.policy import IPAddress
from tests.helpers import node, run, workflow

NO_WAIT = {"max_attempts": 3, "backoff_s": 0, "jitter": False}


@pytest.fixture
def httpserver(httpserver_ipv4: HTTPServer) -> HTTPServer:
    """The server bound to 127.0.0.1, so no test depends on how 'localhost' resolves."""
    return httpserver_ipv4


async def fetch(executor: Executor, params: dict[str, Any], **fields: Any) -> ExecutionResult:
    wf = workflow(
        node("start", "trigger.manual"),
        node("call", "core.http_request", params=params, **fields),
        links=("start -> call",),
    )
    return await run(executor, wf, {"id": 42})


def call(result: ExecutionResult) -> NodeResult:
    return result.nodes["call"]


def retries(bus: InMemoryBus, result: ExecutionResult) -> list[NodeRetrying]:
    return [e for e in bus.events(result.execution_id) if isinstance(e, NodeRetrying)]


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- requests and responses -------------------------------------------------------------


async def test_get_sends_query_and_headers_and_parses_a_json_response(executor, httpserver):
    httpserver.expect_request(
        "/items",
        method="GET",
        query_string={"id": "42", "page": "2"},
        headers={"X-Token": "secret-42"},
    ).respond_with_json({"items": [1, 2]}, headers={"X-Total": "2"})

    params = {
        "url": httpserver.url_for("/items"),
        "query": {"id": "{{ trigger.id }}", "page": 2},
        "headers": {"X-Token": "secret-{{ trigger.id }}"},
    }
    result = await fetch(executor, params)

    assert result.status is ExecutionStatus.SUCCEEDED
    output = call(result).outputs["output"]
    assert set(output) == {"status", "headers", "body"}
    assert output["status"] == 200
    assert output["body"] == {"items": [1, 2]}
    assert output["headers"]["x-total"] == "2"
    assert output["headers"]["content-type"] == "application/json"


async def test_response_headers_are_named_in_lower_case_with_repeated_ones_joined(
    executor, httpserver
):
    httpserver.expect_request("/many").respond_with_response(
        Response("ok", headers=[("X-Part", "a"), ("x-part", "b"), ("X-Single", "c")])
    )

    result = await fetch(executor, {"url": httpserver.url_for("/many")})

    headers = call(result).outputs["output"]["headers"]
    assert (headers["x-part"], headers["x-single"]) == ("a, b", "c")
    assert all(name == name.lower() for name in headers)


async def test_query_params_are_added_to_the_query_the_url_has(executor, httpserver):
    httpserver.expect_request("/x").respond_with_json({})
    url = httpserver.url_for("/x")

    both = await fetch(executor, {"url": f"{url}?a=1&sig=x%2Fy", "query": {"b": 2}})
    none = await fetch(executor, {"url": f"{url}?a=1"})
    replaced = await fetch(executor, {"url": f"{url}?a=1&c=3", "query": {"a": "{{ trigger.id }}"}})

    assert [call(r).status.value for r in (both, none, replaced)] == ["succeeded"] * 3
    sent = [request.query_string.decode() for request, _ in httpserver.log]
    assert sent == ["a=1&sig=x%2Fy&b=2", "a=1", "a=42&c=3"]


async def test_post_sends_a_json_body(executor, httpserver):
    httpserver.expect_request(
        "/orders", method="POST", json={"id": 42, "tags": ["a"]}
    ).respond_with_json({"created": True}, status=201)

    params = {
        "method": "POST",
        "url": httpserver.url_for("/orders"),
        "json": {"id": "{{ trigger.id }}", "tags": ["a"]},
    }
    result = await fetch(executor, params)

    assert call(result).outputs["output"]["status"] == 201
    assert call(result).outputs["output"]["body"] == {"created": True}


async def test_put_sends_a_raw_body_and_keeps_a_text_response_as_text(executor, httpserver):
    httpserver.expect_request(
        "/note", method="PUT", data="id=42", headers={"Content-Type": "text/plain"}
    ).respond_with_data("saved", content_type="text/plain")

    params = {
        "method": "PUT",
        "url": httpserver.url_for("/note"),
        "body": "id={{ trigger.id }}",
        "headers": {"Content-Type": "text/plain"},
    }
    result = await fetch(executor, params)

    assert call(result).outputs["output"]["body"] == "saved"


async def test_a_number_rendered_into_a_header_or_body_is_sent_as_text(executor, httpserver):
    httpserver.expect_request(
        "/numbers", method="POST", headers={"X-Id": "42"}, data="42"
    ).respond_with_data("ok")

    params = {
        "method": "POST",
        "url": httpserver.url_for("/numbers"),
        "headers": {"X-Id": "{{ trigger.id }}"},
        "body": "{{ trigger.id }}",
    }
    result = await fetch(executor, params)

    assert result.status is ExecutionStatus.SUCCEEDED


async def test_a_response_labelled_json_that_is_not_stays_text(executor, httpserver):
    httpserver.expect_request("/broken").respond_with_data(
        "{not json", content_type="application/json"
    )

    result = await fetch(executor, {"url": httpserver.url_for("/broken")})

    assert call(result).outputs["output"]["body"] == "{not json"


def test_json_and_body_together_are_rejected(executor):
    params = {"method": "POST", "url": "http://127.0.0.1/", "json": {"a": 1}, "body": "a"}

    [problem] = problems(executor, params)

    assert problem.node == "call"
    assert "either `json` or `body`" in problem.message


def test_the_url_must_be_http(executor):
    [problem] = problems(executor, {"url": "file:///etc/passwd"})

    assert (problem.node, problem.field) == ("call", "params.url")


def problems(executor: Executor, params: dict[str, Any]) -> list[Problem]:
    with pytest.raises(WorkflowInvalid) as caught:
        executor.compile(workflow(node("call", "core.http_request", params=params)))
    return caught.value.problems


# -- status codes and retries -----------------------------------------------------------


async def test_a_404_fails_as_http_error_and_is_not_retried(executor, httpserver):
    httpserver.expect_request("/missing").respond_with_data("no such thing", status=404)

    result = await fetch(executor, {"url": httpserver.url_for("/missing")}, retry=NO_WAIT)

    assert result.status is ExecutionStatus.FAILED
    assert call(result).attempts == 1
    error = call(result).error
    assert error is not None
    assert error.type == "http_error"
    assert "404" in error.message
    assert "no such thing" in error.message
    assert len(httpserver.log) == 1


@pytest.mark.parametrize("status", [500, 502, 429])
async def test_5xx_and_429_are_retried_until_attempts_run_out(executor, httpserver, status):
    httpserver.expect_request("/flaky").respond_with_data("busy", status=status)

    result = await fetch(executor, {"url": httpserver.url_for("/flaky")}, retry=NO_WAIT)

    assert result.status is ExecutionStatus.FAILED
    assert call(result).attempts == 3
    assert call(result).error is not None
    assert call(result).error.type == "http_error"
    assert len(httpserver.log) == 3


async def test_a_later_success_after_a_503_wins(executor, httpserver):
    httpserver.expect_ordered_request("/warming").respond_with_data("later", status=503)
    httpserver.expect_ordered_request("/warming").respond_with_json({"ready": True})

    result = await fetch(executor, {"url": httpserver.url_for("/warming")}, retry=NO_WAIT)

    assert result.status is ExecutionStatus.SUCCEEDED
    assert call(result).attempts == 2
    assert call(result).outputs["output"]["body"] == {"ready": True}
    httpserver.check_assertions()


async def test_retry_after_sets_the_least_delay_before_the_next_attempt(executor, bus, httpserver):
    httpserver.expect_oneshot_request("/limited").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "1"}
    )
    httpserver.expect_oneshot_request("/limited").respond_with_data("ok")

    began = time.perf_counter()
    result = await fetch(executor, {"url": httpserver.url_for("/limited")}, retry=NO_WAIT)

    assert result.status is ExecutionStatus.SUCCEEDED
    [retrying] = retries(bus, result)
    assert retrying.delay_s >= 1
    assert retrying.error.type == "http_error"
    assert time.perf_counter() - began >= 1


@pytest.mark.parametrize("value", ["soon", "-3", "Mon, 99 Foo 2024"])
async def test_an_unreadable_retry_after_falls_back_to_the_backoff(
    executor, bus, httpserver, value
):
    httpserver.expect_oneshot_request("/odd").respond_with_data(
        "busy", status=503, headers={"Retry-After": value}
    )
    httpserver.expect_oneshot_request("/odd").respond_with_data("ok")

    result = await fetch(executor, {"url": httpserver.url_for("/odd")}, retry=NO_WAIT)

    assert result.status is ExecutionStatus.SUCCEEDED
    [retrying] = retries(bus, result)
    assert (retrying.error.type, retrying.delay_s) == ("http_error", 0)


async def test_fail_on_status_false_returns_error_responses_as_output(executor, httpserver):
    httpserver.expect_request("/gone").respond_with_json({"error": "gone"}, status=410)
    httpserver.expect_request("/down").respond_with_data("down", status=503)

    gone = await fetch(executor, {"url": httpserver.url_for("/gone"), "fail_on_status": False})
    down = await fetch(
        executor, {"url": httpserver.url_for("/down"), "fail_on_status": False}, retry=NO_WAIT
    )

    assert call(gone).outputs["output"]["status"] == 410
    assert call(gone).outputs["output"]["body"] == {"error": "gone"}
    assert call(down).outputs["output"]["status"] == 503
    assert call(down).attempts == 1


# -- network trouble --------------------------------------------------------------------


async def test_connection_refused_is_a_retryable_network_error(executor):
    url = f"http://127.0.0.1:{closed_port()}/"

    result = await fetch(executor, {"url": url}, retry={**NO_WAIT, "max_attempts": 2})

    assert call(result).attempts == 2
    assert call(result).error is not None
    assert call(result).error.type == "network_error"
    assert "ConnectError" in call(result).error.message


async def test_the_timeout_param_fails_a_slow_response_as_timeout(executor, httpserver):
    release = threading.Event()

    def stalled(request: Request) -> Response:
        release.wait(5)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(stalled)

    began = time.perf_counter()
    result = await fetch(executor, {"url": httpserver.url_for("/slow"), "timeout_s": 0.1})
    elapsed = time.perf_counter() - began
    release.set()
    await settled(httpserver)

    assert elapsed < 2
    assert call(result).error is not None
    assert call(result).error.type == "timeout"
    assert "0.1 s" in call(result).error.message


async def settled(server: HTTPServer) -> None:
    """Wait until the (single-threaded) server has answered every request it received."""
    for _ in range(100):
        if server.log:
            return
        await asyncio.sleep(0.01)


# -- pool and services ------------------------------------------------------------------


def test_the_node_declares_the_http_pool():
    assert HttpRequest.pool == "http"


async def test_the_request_holds_a_slot_of_the_http_pool(registry, httpserver):
    executor = Executor(registry)
    seen: list[int] = []

    def record(request: Request) -> Response:
        seen.append(executor.pools.in_use("http"))
        return Response("ok")

    httpserver.expect_request("/pooled").respond_with_handler(record)

    await fetch(executor, {"url": httpserver.url_for("/pooled")})

    assert seen == [1]
    assert executor.pools.in_use("http") == 0


async def test_a_host_supplied_session_is_used_and_left_open(registry, httpserver):
    """The host's session is the one sent through: only its resolver knows the name, and
    the second run finds the first one's connection open (no second lookup)."""
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[IPAddress]:
        calls.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    httpserver.expect_request("/shared").respond_with_data("ok")
    url = f"http://shared.test:{httpserver.port}/shared"
    async with OutboundSession(OutboundPolicy(), resolver=resolve) as session:
        executor = Executor(registry, services=HostServices(http_session=session))
        result = await fetch(executor, {"url": url})
        again = await fetch(executor, {"url": url})

        assert not session.closed

    assert [call(r).outputs["output"]["body"] for r in (result, again)] == ["ok", "ok"]
    assert calls == ["shared.test"]
    assert [request.headers["Host"] for request, _ in httpserver.log] == [
        f"shared.test:{httpserver.port}"
    ] * 2


def test_the_output_port_documents_the_response_shape():
    schema = HttpRequest.outputs["output"].json_schema()
    assert schema is not None
    assert set(schema["properties"]) == {"status", "headers", "body"}
    json.dumps(schema)
