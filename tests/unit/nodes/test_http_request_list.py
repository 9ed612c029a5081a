"""The list form of core.http_request (``requests``), against real servers on 127.0.0.1."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from tav.core.errors import Problem, WorkflowInvalid
from tav.core.results import ExecutionResult, NodeResult
from tav.core.states import ExecutionStatus, NodeStatus
from tav.engine.executor import Executor
from tav.nodes.host import HostServices
from tav.nodes.outbound import OutboundPolicy
from tests.fakes.slow_http import SlowHttp, serving
from tests.helpers import node, run, workflow


@pytest.fixture
def httpserver(httpserver_ipv4: HTTPServer) -> HTTPServer:
    """The server bound to 127.0.0.1, so no test depends on how 'localhost' resolves."""
    return httpserver_ipv4


async def fetch(executor: Executor, params: dict[str, Any], **fields: Any) -> ExecutionResult:
    wf = workflow(
        node("start", "trigger.manual"),
        node("call", "core.http_request", params=params, **fields),
        node("failures", "core.output"),
        links=("start -> call", "call:errors -> failures"),
    )
    return await run(executor, wf, {"id": 42})


def call(result: ExecutionResult) -> NodeResult:
    return result.nodes["call"]


def problems(executor: Executor, params: dict[str, Any]) -> list[Problem]:
    with pytest.raises(WorkflowInvalid) as caught:
        executor.compile(workflow(node("call", "core.http_request", params=params)))
    return caught.value.problems


async def test_a_list_of_urls_answers_with_the_responses_in_request_order(executor):
    async with serving(SlowHttp(delay_s=0.05)) as upstream:
        urls = [f"{upstream.url}/item/{i}" for i in (3, 1, 2)]
        wf = workflow(
            node("start", "trigger.manual"),
            node("call", "core.http_request", params={"requests": "{{ trigger.urls }}"}),
            links=("start -> call",),
        )
        result = await run(executor, wf, {"urls": urls})

    assert result.status is ExecutionStatus.SUCCEEDED, result.error
    output = call(result).outputs["output"]
    assert [response["status"] for response in output] == [200, 200, 200]
    assert [response["body"]["path"] for response in output] == ["/item/3", "/item/1", "/item/2"]
    assert "errors" not in call(result).outputs


async def test_the_list_runs_at_most_concurrency_requests_at_once(executor):
    async with serving(SlowHttp(delay_s=0.1)) as upstream:
        urls = [f"{upstream.url}/item/{i}" for i in range(9)]

        began = time.perf_counter()
        result = await fetch(executor, {"requests": urls, "concurrency": 3})
        elapsed = time.perf_counter() - began

    assert result.status is ExecutionStatus.SUCCEEDED, result.error
    assert upstream.most_held == 3
    assert 0.29 <= elapsed < 2.0


async def test_fifty_requests_at_once_take_about_as_long_as_one(executor):
    async with serving(SlowHttp(delay_s=0.2)) as upstream:
        urls = [f"{upstream.url}/item/{i}" for i in range(50)]

        began = time.perf_counter()
        result = await fetch(executor, {"requests": urls, "concurrency": 50})
        elapsed = time.perf_counter() - began

    assert result.status is ExecutionStatus.SUCCEEDED, result.error
    assert upstream.most_held == 50
    assert elapsed < 1.0  # one at a time: 10 s; eight at a time: 1.4 s


async def test_each_request_takes_the_nodes_params_as_defaults(executor, httpserver):
    httpserver.expect_request("/a", method="GET").respond_with_json({"a": True})
    httpserver.expect_request("/b", method="POST").respond_with_json({"b": True})
    params = {
        "headers": {"X-Team": "core", "X-Id": "{{ trigger.id }}"},
        "query": {"v": 1},
        "requests": [
            httpserver.url_for("/a"),
            {
                "url": httpserver.url_for("/b"),
                "method": "POST",
                "headers": {"X-Id": "own"},
                "query": {"page": 2},
                "json": {"n": 1},
            },
        ],
        "concurrency": 1,
    }

    result = await fetch(executor, params)

    assert result.status is ExecutionStatus.SUCCEEDED, result.error
    assert [r["body"] for r in call(result).outputs["output"]] == [{"a": True}, {"b": True}]
    (first, _), (second, _) = httpserver.log
    assert (first.method, first.headers["X-Id"], first.query_string) == ("GET", "42", b"v=1")
    assert first.headers["X-Team"] == "core"
    assert (second.method, second.headers["X-Id"]) == ("POST", "own")
    assert second.headers["X-Team"] == "core"
    assert second.query_string == b"v=1&page=2"
    assert second.json == {"n": 1}


async def test_a_failing_request_fails_the_node_naming_it_and_cancels_the_rest(executor):
    async with serving(SlowHttp(delay_s=0.05)) as upstream:
        urls = [f"{upstream.url}/status/404", *(f"{upstream.url}/item/{i}" for i in range(5))]

        result = await fetch(
            executor, {"requests": urls, "concurrency": 2}, retry={"max_attempts": 3}
        )

    assert result.status is ExecutionStatus.FAILED
    error = call(result).error
    assert error is not None
    assert error.type == "http_error"
    assert error.message.startswith(f"request 0: GET {upstream.url}/status/404 answered 404")
    assert call(result).attempts == 1  # a 404 is not retried
    assert len(upstream.paths) < 6  # the requests not yet sent never were


async def test_with_on_item_error_continue_failures_go_out_on_the_errors_port(executor):
    async with serving(SlowHttp(delay_s=0)) as upstream:
        requests = [
            f"{upstream.url}/item/0",
            {"url": f"{upstream.url}/status/500", "headers": {"X-Try": "1"}},
            f"{upstream.url}/item/2",
        ]
        result = await fetch(executor, {"requests": requests, "on_item_error": "continue"})

    assert result.status is ExecutionStatus.SUCCEEDED
    outputs = call(result).outputs
    assert [r and r["body"]["path"] for r in outputs["output"]] == ["/item/0", None, "/item/2"]
    [failure] = outputs["errors"]
    assert failure["index"] == 1
    assert failure["item"] == {"url": f"{upstream.url}/status/500", "headers": {"X-Try": "1"}}
    assert failure["type"] == "http_error"
    assert "answered 500" in failure["message"]
    assert result.output == outputs["errors"]


async def test_fail_on_status_false_keeps_every_response(executor):
    async with serving(SlowHttp(delay_s=0)) as upstream:
        urls = [f"{upstream.url}/status/503", f"{upstream.url}/item/1"]
        result = await fetch(executor, {"requests": urls, "fail_on_status": False})

    assert [r["status"] for r in call(result).outputs["output"]] == [503, 200]


async def test_every_request_of_the_list_goes_through_the_outbound_policy(executor, httpserver):
    httpserver.expect_request("/ok").respond_with_data("ok")
    requests = [httpserver.url_for("/ok"), "http://169.254.169.254/latest/meta-data/"]

    result = await fetch(executor, {"requests": requests})

    error = call(result).error
    assert error is not None
    assert error.type == "outbound_refused"
    assert error.message.startswith("request 1: GET http://169.254.169.254/latest/meta-data/")
    assert "link-local/metadata" in error.message


async def test_every_response_of_the_list_is_under_the_size_limit(registry, httpserver):
    httpserver.expect_request("/small").respond_with_data("x" * 10)
    httpserver.expect_request("/large").respond_with_data("x" * 5000)
    policy = OutboundPolicy(max_response_bytes=1000)
    executor = Executor(registry, services=HostServices(outbound=policy))
    requests = [httpserver.url_for("/small"), httpserver.url_for("/large")]

    result = await fetch(executor, {"requests": requests, "concurrency": 1})

    error = call(result).error
    assert error is not None
    assert error.type == "response_too_large"
    assert error.message.startswith("request 1: the response of GET")
    assert "larger than 1000 bytes" in error.message


async def test_idempotency_keys_differ_per_request_and_hold_across_attempts(executor, httpserver):
    httpserver.expect_request("/a").respond_with_data("ok")
    requests = [httpserver.url_for("/a")] * 2

    result = await fetch(executor, {"requests": requests, "idempotent": True, "concurrency": 1})

    assert result.status is ExecutionStatus.SUCCEEDED
    keys = [request.headers["Idempotency-Key"] for request, _ in httpserver.log]
    assert keys == [f"{result.execution_id}:call:0", f"{result.execution_id}:call:1"]


async def test_an_empty_list_sends_nothing(executor):
    result = await fetch(executor, {"requests": []})

    assert call(result).outputs == {"output": []}
    assert result.nodes["failures"].status is NodeStatus.SKIPPED


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "one of `url` and `requests`"),
        ({"url": "http://127.0.0.1/", "requests": []}, "one of `url` and `requests`"),
        ({"requests": ["file:///etc/passwd"]}, "params.requests.0.url"),
        ({"requests": [{"url": "file:///etc/passwd"}]}, "params.requests.0.request.url"),
        ({"requests": ["http://127.0.0.1/"], "concurrency": 0}, "params.concurrency"),
        ({"requests": [{"url": "http://127.0.0.1/", "json": 1, "body": "a"}]}, "not both"),
    ],
)
def test_the_list_form_is_checked_when_the_workflow_compiles(executor, params, message):
    [problem] = problems(executor, params)

    assert problem.node == "call"
    assert message in f"{problem.field}: {problem.message}", problem
