"""ai.structured and ai.classify: params checked when the workflow is validated, and the
nodes' behaviour against a scripted chat service (the provider side is covered by
tests/integration/test_ai_structured.py, through real LangChain clients)."""

from __future__ import annotations

from typing import Any

import pytest

from tav.core.errors import NodeError
from tav.core.states import ExecutionStatus
from tav.engine.executor import Executor
from tav.engine.plan import validate
from tav.nodes.builtin.ai.json_schema import object_schema_problems, schema_problems
from tav.nodes.host import HostServices
from tests.helpers import node, run, statuses, workflow
from tests.unit.nodes.scripted_models import ScriptedModels, answer


@pytest.fixture
def models() -> ScriptedModels:
    return ScriptedModels()


@pytest.fixture
def executor(registry, bus, store, models) -> Executor:
    return Executor(registry, bus=bus, store=store, services=HostServices(chat_models=models))


def problems_of(registry, *nodes: dict[str, Any], links: tuple[str, ...] = ()) -> list[str]:
    return [str(p) for p in validate(workflow(*nodes, links=links), registry)]


PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name"],
}

# -- the JSON Schema check --------------------------------------------------------------


@pytest.mark.parametrize(
    "schema",
    [
        PERSON,
        {"type": "object"},
        {"type": "object", "properties": {"n": {"type": ["integer", "null"]}}},
        {
            "type": "object",
            "properties": {
                "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
                "any": True,
                "either": {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/n"}]},
            },
            "$defs": {"n": {"type": "number", "exclusiveMaximum": 1.5}},
            "x-unknown-keyword": {"passes": True},
        },
    ],
)
def test_valid_object_schemas_have_no_problems(schema):
    assert object_schema_problems(schema) == []


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        ("object", "schema: a schema must be an object, got a string"),
        ({"type": "strng"}, "schema.type: unknown type 'strng'"),
        ({"type": []}, "schema.type: a list of types must be non-empty"),
        ({"properties": []}, "schema.properties: must be an object of schemas by name"),
        ({"properties": {"a": {"type": "int"}}}, "schema.properties.a.type: unknown type 'int'"),
        ({"items": {"type": 3}}, "schema.items.type: unknown type 3"),
        ({"anyOf": []}, "schema.anyOf: must be a non-empty list of schemas"),
        ({"anyOf": [{"type": "x"}]}, "schema.anyOf[0].type: unknown type 'x'"),
        ({"required": "name"}, "schema.required: must be a list of property names"),
        ({"enum": []}, "schema.enum: must be a non-empty list of values"),
        ({"minLength": -1}, "schema.minLength: must be a whole number, 0 or more"),
        ({"maximum": "9"}, "schema.maximum: must be a number"),
        ({"description": 5}, "schema.description: must be a string"),
    ],
)
def test_schema_mistakes_are_located(schema, problem):
    problems = schema_problems(schema)
    assert problems, schema
    assert problems[0].startswith(problem), problems


def test_an_answer_schema_must_describe_an_object():
    assert object_schema_problems({"type": "string"}) == [
        'schema.type: must be "object" (the answer is an object)'
    ]
    assert object_schema_problems({"properties": {}}) != []


# -- ai.structured params ---------------------------------------------------------------


def test_a_bad_schema_is_a_located_validation_problem(registry):
    bad = {"type": "object", "properties": {"age": {"type": "int"}}}
    problems = problems_of(registry, node("x", "ai.structured", params={"schema": bad}))

    assert len(problems) == 1
    assert problems[0].startswith("node 'x', params.schema: ")
    assert "schema.properties.age.type: unknown type 'int'" in problems[0]


def test_structured_needs_a_schema_and_takes_a_templated_one(registry):
    missing = problems_of(registry, node("x", "ai.structured", params={"prompt": "hi"}))
    templated = problems_of(
        registry, node("x", "ai.structured", params={"schema": "{{ vars.schema }}"})
    )

    assert missing == ["node 'x', params.schema: required param is missing"]
    assert templated == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"temperature": 3}, "params.temperature"),
        ({"models": [{"credential": "c"}]}, "params.models.0.model"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "params.messages.0.role"),
        ({"cache": "sometimes"}, "params.cache"),
    ],
)
def test_structured_params_are_checked(registry, params, field):
    problems = problems_of(
        registry, node("x", "ai.structured", params={"schema": PERSON, **params})
    )
    assert [p.split(":")[0] for p in problems] == [f"node 'x', {field}"]


# -- ai.structured run ------------------------------------------------------------------


async def test_structured_outputs_the_object_with_who_answered(executor, models):
    models.answers.append(answer({"name": "Ada", "age": 36}))
    wf = workflow(
        node("start", "trigger.manual"),
        node(
            "x",
            "ai.structured",
            params={
                "prompt": "Who is in {{ trigger.text }}?",
                "system": "Extract people.",
                "schema": PERSON,
                "models": [{"credential": "c", "model": "m"}],
                "temperature": 0,
                "cache": True,
            },
        ),
        links=("start -> x",),
    )
    result = await run(executor, wf, {"text": "Ada (36) wrote it"})

    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.nodes["x"].outputs["output"] == {
        "object": {"name": "Ada", "age": 36},
        "provider": "openai",
        "model": "m",
        "usage": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0},
    }
    request = models.requests[0]
    assert request.json_schema == PERSON
    assert request.messages == [
        {"role": "system", "content": "Extract people."},
        {"role": "user", "content": "Who is in Ada (36) wrote it?"},
    ]
    assert (request.temperature, request.cache, request.stream) == (0, True, False)
    assert [m.model for m in request.models] == ["m"]


async def test_without_a_prompt_the_input_is_the_user_message(executor, models):
    models.answers.append(answer({"name": "Ada"}))
    wf = workflow(
        node("start", "trigger.manual"),
        node("x", "ai.structured", params={"schema": PERSON}),
        links=("start -> x",),
    )
    await run(executor, wf, {"text": "Ada"})

    assert models.requests[0].messages == [{"role": "user", "content": '{"text": "Ada"}'}]


async def test_messages_come_before_the_prompt(executor, models):
    models.answers.append(answer({"name": "Ada"}))
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    wf = workflow(
        node("x", "ai.structured", params={"schema": PERSON, "messages": history, "prompt": "go"})
    )
    await run(executor, wf)

    assert models.requests[0].messages == [*history, {"role": "user", "content": "go"}]


async def test_message_content_keeps_its_blocks(executor, models):
    models.answers.append(answer({"name": "Ada"}))
    image = {"media": "v1", "kind": "image", "mime_type": "image/png", "data": "iVBORw0KGgo="}
    history = [
        {"role": "user", "content": [{"type": "text", "text": "Who is this?"}, image]},
        {"role": "assistant", "content": None},
        {"role": "user", "content": {"name": "?"}},
    ]
    wf = workflow(node("x", "ai.structured", params={"schema": PERSON, "messages": history}))
    await run(executor, wf)

    assert models.requests[0].messages == [
        history[0],
        {"role": "assistant", "content": ""},
        {"role": "user", "content": '{"name": "?"}'},
    ]


async def test_nothing_to_send_fails_without_retrying(executor, models):
    wf = workflow(node("x", "ai.structured", params={"schema": PERSON}, retry={}))
    result = await run(executor, wf)

    error = result.nodes["x"].error
    assert error is not None
    assert error.type == "params_invalid"
    assert not error.retryable
    assert result.nodes["x"].attempts == 1
    assert models.requests == []


async def test_a_chat_service_error_fails_the_node_as_it_says(executor, models):
    models.answers.append(NodeError("no valid answer", type="invalid_answer", retryable=False))
    wf = workflow(node("x", "ai.structured", params={"schema": PERSON, "prompt": "p"}))
    result = await run(executor, wf)

    error = result.nodes["x"].error
    assert error is not None
    assert (error.type, error.retryable) == ("invalid_answer", False)


# -- ai.classify params -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"labels": []}, "params.labels: Value error, give at least one label"),
        ({"labels": {}}, "params.labels: Value error, give at least one label"),
        ({"labels": ["a b"]}, "params.labels: Value error, label 'a b' must be a port name"),
        ({"labels": ["classification"]}, "params.labels: Value error, label 'classification'"),
        ({"labels": ["a", "a"]}, "params.labels: Value error, labels must be unique"),
        (
            {"labels": ["a", "b"], "fallback_label": "c"},
            "params.fallback_label: Value error, must be one of the labels (a, b)",
        ),
    ],
)
def test_classify_labels_are_checked(registry, params, message):
    problems = problems_of(registry, node("c", "ai.classify", params=params))
    assert len(problems) == 1
    assert problems[0].startswith(f"node 'c', {message}"), problems


def test_classify_has_one_port_per_label(registry):
    labels = {"billing": "Invoices and payments", "tech": "Something is broken"}
    ok = problems_of(
        registry,
        node("c", "ai.classify", params={"labels": labels}),
        node("a"),
        node("b"),
        node("r"),
        links=("c:billing -> a", "c:tech -> b", "c:classification -> r"),
    )
    wrong = problems_of(
        registry,
        node("c", "ai.classify", params={"labels": ["billing"]}),
        node("a"),
        links=("c:sales -> a",),
    )

    assert ok == []
    assert wrong == [
        "edge #0, from: node 'c' (ai.classify) has no output port 'sales' "
        "(outputs: billing, classification)"
    ]


# -- ai.classify run --------------------------------------------------------------------


def classifier(params: dict[str, Any]):
    """start → classify; `billing`, `tech`, `other` → a noop each."""
    ports = ("billing", "tech", "other")
    return workflow(
        node("start", "trigger.manual"),
        node("classify", "ai.classify", params=params),
        *(node(f"to_{port}") for port in ports),
        links=("start -> classify", *(f"classify:{p} -> to_{p}" for p in ports)),
    )


LABELS = {"billing": "Invoices and payments", "tech": "Something is broken", "other": ""}


async def test_classify_routes_the_input_to_the_chosen_label(executor, models):
    models.answers.append(answer({"label": "tech", "confidence": 0.9}))
    ticket = {"text": "The app crashes on start"}
    result = await run(
        executor, classifier({"labels": LABELS, "prompt": "{{ input.text }}"}), ticket
    )

    outputs = result.nodes["classify"].outputs
    assert outputs["tech"] == ticket
    assert outputs["classification"]["label"] == "tech"
    assert outputs["classification"]["confidence"] == 0.9
    assert outputs["classification"]["provider"] == "openai"
    assert statuses(result) == {
        "start": "succeeded",
        "classify": "succeeded",
        "to_billing": "skipped",
        "to_tech": "succeeded",
        "to_other": "skipped",
    }
    request = models.requests[0]
    assert request.json_schema is not None
    assert request.json_schema["properties"]["label"]["enum"] == ["billing", "tech", "other"]
    system = request.messages[0]["content"]
    assert "- billing: Invoices and payments" in system
    assert "- other\n" in system
    assert request.messages[1] == {"role": "user", "content": "The app crashes on start"}


async def test_classify_tells_the_model_the_fallback_and_the_instructions(executor, models):
    models.answers.append(answer({"label": "other", "confidence": 0.2}))
    params = {
        "labels": ["billing", "tech", "other"],
        "fallback_label": "other",
        "instructions": "Refund requests are billing.",
        "system": "You sort support tickets.",
    }
    result = await run(executor, classifier(params), "hello")

    assert "other" in result.nodes["classify"].outputs
    system = models.requests[0].messages[0]["content"]
    assert system.startswith("You sort support tickets.")
    assert "If none of them fits, choose other." in system
    assert "Refund requests are billing." in system


async def test_an_answer_that_is_no_label_goes_to_the_fallback_or_fails(executor, models):
    models.answers += [answer({"label": "sales"}), answer({"label": "sales"})]
    with_fallback = await run(
        executor, classifier({"labels": LABELS, "fallback_label": "other"}), "hi"
    )
    without = await run(executor, classifier({"labels": LABELS}), "hi")

    assert with_fallback.nodes["classify"].outputs["other"] == "hi"
    assert with_fallback.nodes["classify"].outputs["classification"]["confidence"] is None
    error = without.nodes["classify"].error
    assert error is not None
    assert error.type == "invalid_answer"
    assert not error.retryable
    assert "'sales'" in error.message


async def test_answers_that_never_fit_go_to_the_fallback_label(executor, models):
    never = NodeError("the answer does not fit", type="invalid_answer", retryable=False)
    models.answers += [never, never]
    with_fallback = await run(
        executor, classifier({"labels": LABELS, "fallback_label": "other"}), "hi"
    )
    without = await run(executor, classifier({"labels": LABELS}), "hi")

    assert statuses(with_fallback)["to_other"] == "succeeded"
    assert with_fallback.nodes["classify"].outputs["classification"] == {
        "label": "other",
        "confidence": None,
        "provider": None,
        "model": None,
        "usage": None,
    }
    assert without.nodes["classify"].error is not None
    assert without.nodes["classify"].error.type == "invalid_answer"


async def test_other_chat_errors_are_not_routed_to_the_fallback(executor, models):
    models.answers.append(NodeError("every model failed", type="llm_all_failed"))
    result = await run(executor, classifier({"labels": LABELS, "fallback_label": "other"}), "hi")

    assert result.status is ExecutionStatus.FAILED
    assert result.nodes["classify"].error is not None
    assert result.nodes["classify"].error.type == "llm_all_failed"
    assert statuses(result)["to_other"] != "succeeded"
