"""A live draft against a real ``tav serve`` killed mid-session (SIGKILL): what was typed
more than ``TAV_COLLAB_FLUSH_S`` before the crash is there when the server is back, for a
client that never saw it; a client that kept its copy reconnects and brings what the
server lacks; everyone converges."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest
from pycrdt import Doc, Map

from tav.collab.protocol import CloseCode
from tests.api.collab import eventually, joined
from tests.api.test_collab import chat_workflow
from tests.integration.test_durability import Tav

PROMPT = "Answer: {{ trigger.question }}"
SERVICE_RESTART = 1012
"""What uvicorn closes open WebSockets with when it stops."""


@pytest.fixture
def tav(tmp_path: Path):
    served = Tav(tmp_path / "data", tmp_path / "serve.log", TAV_COLLAB_FLUSH_S="0.2")
    yield served
    served.kill()
    assert "Traceback" not in served.log.read_text(), served.log.read_text()


def prompt_of(doc: Doc[Any]) -> str:
    return str(doc.get("nodes", type=Map)["answer"]["params"]["prompt"])


async def test_a_crash_loses_no_more_than_the_last_moment_and_clients_converge_after(tav):
    async with await tav.start() as http:
        created = await http.post("/api/v1/workflows", json=chat_workflow(PROMPT))
        assert created.status_code == 201, created.text
        workflow_id = created.json()["id"]

    kept: Doc[Any] = Doc()
    async with joined(tav.url, workflow_id, tav.headers, kept) as alice:
        alice.text("answer", "prompt").insert(0, "Written: ")
        await asyncio.sleep(1.0)  # five times TAV_COLLAB_FLUSH_S
        tav.signal(signal.SIGKILL)
        assert await tav.wait(10) == -signal.SIGKILL
    # typed while the server was down, as the editor lets one go on typing offline
    text = kept.get("nodes", type=Map)["answer"]["params"]["prompt"]
    text.insert(len(str(text).encode()), " (offline)")

    async with await tav.start() as http:
        draft = (await http.get(f"/api/v1/workflows/{workflow_id}/draft")).json()
        assert draft["document"]["nodes"][1]["params"]["prompt"] == f"Written: {PROMPT}"
        async with joined(tav.url, workflow_id, tav.headers) as bob:
            assert prompt_of(bob.doc) == f"Written: {PROMPT}"
            async with joined(tav.url, workflow_id, tav.headers, kept):
                expected = f"Written: {PROMPT} (offline)"
                await eventually(lambda: prompt_of(bob.doc) == expected)
                assert prompt_of(kept) == expected
            await asyncio.sleep(0.5)
            draft = (await http.get(f"/api/v1/workflows/{workflow_id}/draft")).json()
            assert draft["document"]["nodes"][1]["params"]["prompt"] == expected
            # a server that stops tells who is still there to come back
            tav.signal(signal.SIGTERM)
            code, _ = await bob.closed(within=10)
            assert code in (CloseCode.GOING_AWAY, SERVICE_RESTART)
            await tav.wait(15)

    async with await tav.start() as http:  # and the draft was kept on the way out
        draft = (await http.get(f"/api/v1/workflows/{workflow_id}/draft")).json()
        assert draft["document"]["nodes"][1]["params"]["prompt"] == expected
