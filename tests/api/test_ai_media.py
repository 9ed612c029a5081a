"""Stored files shown to a model: an uploaded image reaches the provider as an image
content block; one beyond the size limit fails the node with a clear error."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import httpx

from tav.app.server import Server
from tests.api.helpers import run_to_end, stored
from tests.api.test_ai_chat import openai_credential
from tests.api.test_files import PNG, upload
from tests.fakes.llm import FakeProviders, Reply
from tests.helpers import document, node


def describe_document(credential: str) -> dict[str, Any]:
    models = [{"credential": credential, "model": "gpt-test"}]
    return document(
        node("start", "trigger.manual"),
        node("chat", "ai.llm_chat", params={"prompt": "What is this?", "models": models}),
        links=("start -> chat",),
        name="describe",
    )


async def test_an_uploaded_image_reaches_the_model_as_an_image_block(
    client: httpx.AsyncClient, server: Server, fake_llm: FakeProviders
) -> None:
    credential = await openai_credential(client, fake_llm)
    fake_llm.reply("openai", Reply(text="A single pixel"))
    uploaded = await upload(client, "pixel.png", PNG)
    workflow_id = await stored(server, describe_document(credential))

    execution = await run_to_end(client, workflow_id, input=uploaded["value"])

    assert execution["status"] == "succeeded", execution
    assert execution["nodes"]["chat"]["outputs"]["output"]["text"] == "A single pixel"
    [request] = fake_llm.requests
    [text, image] = request.json["messages"][-1]["content"]
    assert text == {"type": "text", "text": "What is this?"}
    assert image["type"] == "image_url"
    prefix, _, data = image["image_url"]["url"].partition(",")
    assert prefix == "data:image/png;base64"
    assert base64.b64decode(data) == PNG


async def test_a_stored_file_beyond_the_limit_is_refused(
    client: httpx.AsyncClient, server: Server, fake_llm: FakeProviders
) -> None:
    credential = await openai_credential(client, fake_llm)
    server.parts.ai.configure(
        dataclasses.replace(server.parts.ai.config, max_media_bytes=len(PNG) - 1)
    )
    uploaded = await upload(client, "pixel.png", PNG)
    workflow_id = await stored(server, describe_document(credential))

    execution = await run_to_end(client, workflow_id, input=uploaded["value"])

    assert execution["status"] == "failed"
    error = execution["nodes"]["chat"]["error"]
    assert error["type"] == "media_too_large"
    assert "pixel.png" in error["message"]
    assert fake_llm.requests == []
