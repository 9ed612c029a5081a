"""Reading SDK exceptions, and checking structured answers against their schema."""

from __future__ import annotations

import email.utils
import time

import pytest

from tav.ai.failures import classify, parse_retry_after
from tav.ai.schemas import problem


class FakeResponse:
    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status_code = status
        self.headers = headers


class StatusError(Exception):
    def __init__(self, message: str, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.response = FakeResponse(status, headers or {})


def test_statuses_timeouts_and_retry_after_are_read() -> None:
    limited = classify(StatusError("slow down", 429, {"retry-after": "7"}), timeout_s=5)
    assert (limited.outcome, limited.retry_after) == ("rate_limited", 7.0)
    server = classify(StatusError("boom", 503), timeout_s=5)
    assert (server.outcome, server.transient, server.message) == ("failed", True, "HTTP 503: boom")
    denied = classify(StatusError("bad key", 401), timeout_s=5)
    assert not denied.transient
    assert classify(TimeoutError(), timeout_s=2.5).message == "no answer within 2.5 s"


def test_secrets_are_cut_from_error_messages() -> None:
    failure = classify(
        StatusError("key sk-secret-1 is wrong", 401), timeout_s=1, secrets=("sk-secret-1",)
    )
    assert "sk-secret-1" not in failure.message
    assert "***" in failure.message


def test_retry_after_takes_seconds_or_a_date() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = email.utils.formatdate(time.time() + 20, usegmt=True)
    assert 15 < (parse_retry_after(later) or 0) <= 20


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"name": "a", "tags": ["x"]}, None),
        ({"tags": []}, "$: 'name' is a required property"),
        ({"name": 3}, "$['name']: 3 is not of type 'string'"),
        ({"name": "a", "extra": 1}, "('extra' was unexpected)"),
        ({"name": "a", "tags": [1]}, "$['tags'][0]: 1 is not of type 'string'"),
        ({"name": "a", "kind": "z"}, "is not one of"),
    ],
)
def test_the_schema_check_names_the_first_problem(value: object, expected: str | None) -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}},
            "kind": {"enum": ["a", "b"]},
        },
        "required": ["name"],
        "additionalProperties": False,
        "$defs": {"tag": {"type": "string"}},
    }
    found = problem(value, schema)
    if expected is None:
        assert found is None
    else:
        assert found is not None
        assert expected in found


def test_only_what_the_providers_libraries_raise_is_a_provider_failure() -> None:
    import httpx
    import openai

    from tav.ai.failures import ProviderError, provider_failure

    request = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    network = httpx.ConnectError("refused", request=request)
    assert provider_failure(network)
    assert provider_failure(openai.APIConnectionError(request=request))
    assert provider_failure(TimeoutError())
    assert provider_failure(ProviderError("the stream ended without a message"))
    assert not provider_failure(TypeError("unsupported operand"))
    assert not provider_failure(KeyError("model"))
    bug = KeyError("missing")
    bug.__context__ = network  # a bug while handling a provider's error is still a bug
    assert not provider_failure(bug)
    wrapped = RuntimeError("the call failed")
    wrapped.__cause__ = network  # raised from it on purpose
    assert provider_failure(wrapped)
