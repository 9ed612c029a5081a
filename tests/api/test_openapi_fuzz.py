"""Schemathesis over the OpenAPI document: no request, valid or not, gets a 5xx.

Runs the in-process ASGI app (SQLite in a temporary data dir) with an API key: for every
operation, a few derandomized examples of valid and of invalid data, checking only
``not_a_server_error`` (the route tests check the 4xx bodies). Random ids only ever reach
the 404 branch, so every operation with ids in its path runs a second time with the ids of
things that exist: a stored workflow, a succeeded and a failed execution, a variable, a node
type. Every failing operation is reported, not only the first.

One test drives Hypothesis per operation rather than ``schema.parametrize()`` with
``schemathesis.pytest.from_fixture``: that lazy loader breaks on pytest 9 (it sets
``Function._nodeid``), and loading the schema at import would start a server at collection.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans

from tav.api.app import create_app
from tav.app.root import build
from tav.app.server import Server
from tav.nodes.builtin import BUILTIN_NODE_TYPES
from tav.nodes.registry import NodeRegistry
from tav.nodes.testing import TESTING_NODE_TYPES
from tav.settings import Settings
from tests.helpers import document, node

MAX_EXAMPLES = 10  # per operation, mode and pass: about 35 operations, well under a minute


def _registry() -> NodeRegistry:
    return NodeRegistry([*BUILTIN_NODE_TYPES, *TESTING_NODE_TYPES])


async def _seed(config: Settings) -> dict[str, Any]:
    """An API key and things that exist, made before the app under test starts."""
    server = Server(build(config, registry=_registry()))
    await server.start(resume=False, prune=False)
    try:
        _, key = await server.parts.auth.create_api_key("schemathesis")
        greet = document(
            node("start", "trigger.manual"),
            node("greet", "core.set", params={"values": {"text": "Hi {{ trigger.name }}"}}),
            node("result", "core.output"),
            links=("start -> greet", "greet -> result"),
            name="greet",
        )
        stored = await server.parts.workflows.create(greet)
        runs = server.parts.executions_service
        succeeded = await runs.run(stored.document, {"name": "Ada"}, stored=stored)
        failed = await runs.run(stored.document, {}, stored=stored)  # trigger.name missing
        await succeeded.wait()
        await failed.wait()
        await server.parts.variables.put("region", "eu")
        credential = await server.parts.credentials.create("main", "api_key", {"api_key": "k-123"})
        upload = await server.parts.files.add(b"a,b\n1,2\n", name="a.csv", kind="upload")
        await server.parts.writer.flush()
    finally:
        await server.stop(timeout_s=0)
    return {
        "key": key,
        "path": {
            "workflow_id": stored.id,
            "version": 1,
            "execution_id": (succeeded.execution_id, failed.execution_id),
            "name": "region",
            "type_id": "core.set",
            "credential_id": credential.id,
            "file_id": upload.id,
        },
    }


@pytest.fixture(scope="module")
def fuzz_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("fuzz") / "data"
    return Settings(
        data_dir=data_dir,
        database_url=None,
        retention_max_age_days=None,
        retention_max_count=None,
        shutdown_timeout_s=0,
        allowed_hosts=["testserver"],  # the host of Schemathesis's ASGI client
    )


@pytest.fixture(scope="module")
def seeded(fuzz_settings: Settings) -> dict[str, Any]:
    return asyncio.run(_seed(fuzz_settings))


@pytest.fixture(scope="module")
def app(fuzz_settings: Settings, seeded: dict[str, Any]) -> Iterator[FastAPI]:
    yield create_app(fuzz_settings, server=Server(build(fuzz_settings, registry=_registry())))
    shutdown_lifespans()  # stops the server the schema's ASGI client started


@pytest.fixture(scope="module")
def api_schema(app: FastAPI) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_no_operation_answers_5xx(
    api_schema: schemathesis.BaseSchema, seeded: dict[str, Any]
) -> None:
    headers = {"Authorization": f"Bearer {seeded['key']}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    # Deleting comes last, so that the other operations find the seeded things.
    operations.sort(key=lambda operation: operation.method.upper() == "DELETE")
    failures = []
    for operation in operations:
        for path_parameters in _known_ids(operation, seeded["path"]):
            for mode in GenerationMode:
                try:
                    _fuzz(operation, mode, headers, path_parameters)
                except Unsatisfiable:
                    pass  # nothing to make invalid: an operation without parameters or body
                except Exception as exc:
                    trace = "".join(traceback.format_exception(exc))
                    failures.append(
                        f"{operation.label} ({mode.value}, {path_parameters}):\n{trace}"
                    )
    assert not failures, "\n\n".join(failures)


def _known_ids(
    operation: schemathesis.APIOperation, known: dict[str, Any]
) -> list[dict[str, Any] | None]:
    """Generated path parameters, then (when it has any) the ids of seeded things."""
    names = [parameter.name for parameter in operation.path_parameters]
    if not names or not all(name in known for name in names):
        return [None]
    passes: list[dict[str, Any] | None] = [None]
    for choice in range(2):  # execution ids: the succeeded one, then the failed one
        values = {}
        for name in names:
            value = known[name]
            values[name] = value[choice] if isinstance(value, tuple) else value
        if values not in passes:
            passes.append(values)
    return passes


def _fuzz(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    headers: dict[str, str],
    path_parameters: dict[str, Any] | None,
) -> None:
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: schemathesis.Case) -> None:
        try:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])
        except Exception as exc:  # a 5xx, or an exception the app let escape
            exc.add_note(f"reproduce: {case.as_curl_command()}")
            raise

    check()
