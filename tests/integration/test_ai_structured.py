"""ai.structured and ai.classify through the real chat service and LangChain clients,
against the fake provider servers (``tests.fakes.llm``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tav.ai.config import AIConfig
from tav.ai.services import AIServices
from tav.core.errors import NotFound
from tav.core.states import ExecutionStatus
from tav.engine.executor import Executor
from tav.nodes.ai import ModelRef
from tav.nodes.context import Credential
from tav.nodes.host import HostServices
from tests.fakes.llm import FakeProviders, Reply
from tests.helpers import node, run, statuses, workflow

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}


class Credentials:
    """One provider credential per kind, pointing at the fake servers."""

    def __init__(self, fake: FakeProviders) -> None:
        self.fake = fake

    async def reveal(self, credential_id: str) -> Credential:
        if credential_id not in ("openai", "anthropic"):
            raise NotFound(f"no credential {credential_id!r}")
        data = {"api_key": "sk-test", "base_url": self.fake.url(credential_id)}
        return Credential(id=credential_id, name=credential_id, kind=credential_id, data=data)

    def redact(self, text: str) -> str:
        return text.replace("sk-test", "***")


@pytest.fixture
def executor(registry, bus, store, fake_llm) -> Executor:
    config = AIConfig(default_models=(ModelRef(credential="openai", model="gpt-test"),))
    return Executor(
        registry,
        bus=bus,
        store=store,
        services=HostServices(chat_models=AIServices(config)),
        secrets=Credentials(fake_llm),
    )


def extract(**params: Any):
    return workflow(
        node("start", "trigger.manual"),
        node("x", "ai.structured", params={"prompt": "{{ trigger.text }}", **params}),
        links=("start -> x",),
    )


def openai_bodies(fake: FakeProviders) -> list[dict[str, Any]]:
    return [r.json for r in fake.requests_to("openai")]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_a_valid_first_answer_is_the_output(executor, fake_llm, provider):
    fake_llm.reply(provider, Reply(text='{"name": "Ada", "age": 36}', usage=(11, 4)))
    models = [{"credential": provider, "model": "m1"}]
    result = await run(executor, extract(schema=PERSON, models=models), {"text": "Ada, 36"})

    assert result.status is ExecutionStatus.SUCCEEDED, result.nodes["x"].error
    assert result.nodes["x"].outputs["output"] == {
        "object": {"name": "Ada", "age": 36},
        "provider": provider,
        "model": "m1",
        "usage": {"input_tokens": 11, "output_tokens": 4, "total_tokens": 15},
    }
    assert len(fake_llm.requests_to(provider)) == 1
    assert result.nodes["x"].usage == {"input_tokens": 11, "output_tokens": 4, "total_tokens": 15}


async def test_an_invalid_answer_is_asked_again_and_the_second_one_used(executor, fake_llm):
    fake_llm.reply(
        "openai",
        Reply(text='{"name": "Ada", "age": "thirty-six"}'),
        Reply(text='{"name": "Ada", "age": 36}'),
    )
    result = await run(executor, extract(schema=PERSON), {"text": "Ada, thirty-six"})

    assert result.status is ExecutionStatus.SUCCEEDED, result.nodes["x"].error
    assert result.nodes["x"].outputs["output"]["object"] == {"name": "Ada", "age": 36}
    first, second = openai_bodies(fake_llm)
    assert first["response_format"]["json_schema"]["schema"]["properties"] == PERSON["properties"]
    told = json.dumps(second["messages"])
    assert "does not fit the JSON Schema" in told


async def test_invalid_twice_fails_the_node_clearly_and_is_not_retried(executor, fake_llm):
    bad = Reply(text='{"name": "Ada"}')
    fake_llm.reply("openai", bad, bad, bad, bad)
    wf = workflow(
        node("start", "trigger.manual"),
        node(
            "x",
            "ai.structured",
            params={"prompt": "{{ trigger.text }}", "schema": PERSON},
            retry={"max_attempts": 3, "backoff_s": 0},
        ),
        links=("start -> x",),
    )
    result = await run(executor, wf, {"text": "Ada"})

    assert result.status is ExecutionStatus.FAILED
    node_result = result.nodes["x"]
    assert node_result.attempts == 1
    assert node_result.error is not None
    assert node_result.error.type == "invalid_answer"
    assert not node_result.error.retryable
    assert "does not fit the JSON Schema" in node_result.error.message
    assert "age" in node_result.error.message
    assert len(fake_llm.requests_to("openai")) == 2


# -- ai.classify ------------------------------------------------------------------------


def triage(**params: Any):
    ports = ("billing", "tech", "other")
    return workflow(
        node("start", "trigger.manual"),
        node("classify", "ai.classify", params={"labels": list(ports), **params}),
        *(node(f"to_{port}") for port in ports),
        links=("start -> classify", *(f"classify:{p} -> to_{p}" for p in ports)),
    )


async def test_classify_routes_to_the_port_of_the_label_and_skips_the_others(executor, fake_llm):
    fake_llm.reply("openai", Reply(text='{"label": "tech", "confidence": 0.8}'))
    ticket = {"subject": "Crash", "body": "The app crashes on start"}
    result = await run(executor, triage(prompt="{{ trigger.body }}"), ticket)

    assert result.status is ExecutionStatus.SUCCEEDED, result.nodes["classify"].error
    assert statuses(result) == {
        "start": "succeeded",
        "classify": "succeeded",
        "to_billing": "skipped",
        "to_tech": "succeeded",
        "to_other": "skipped",
    }
    assert result.nodes["to_tech"].outputs == {"output": ticket}
    classification = result.nodes["classify"].outputs["classification"]
    assert (classification["label"], classification["confidence"]) == ("tech", 0.8)
    (body,) = openai_bodies(fake_llm)
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["label"]["enum"] == ["billing", "tech", "other"]


async def test_a_label_that_is_not_offered_is_asked_again(executor, fake_llm):
    fake_llm.reply(
        "openai",
        Reply(text='{"label": "sales", "confidence": 0.9}'),
        Reply(text='{"label": "billing", "confidence": 0.7}'),
    )
    result = await run(executor, triage(), "Where is my invoice?")

    assert result.nodes["classify"].outputs["billing"] == "Where is my invoice?"
    assert statuses(result)["to_billing"] == "succeeded"


async def test_no_label_twice_goes_to_the_fallback_label(executor, fake_llm):
    wrong = Reply(text='{"label": "sales", "confidence": 0.9}')
    fake_llm.reply("openai", wrong, wrong)
    result = await run(executor, triage(fallback_label="other"), "Hello there")

    assert result.status is ExecutionStatus.SUCCEEDED, result.nodes["classify"].error
    assert statuses(result)["to_other"] == "succeeded"
    assert result.nodes["classify"].outputs["classification"]["label"] == "other"
    assert result.nodes["classify"].outputs["classification"]["confidence"] is None
