"""A message cut short must not end with the first part of a secret: redaction replaces
whole secrets only, so that part would be shown."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tav.ai.failures import MAX_MESSAGE, classify
from tav.core.errors import NodeError
from tav.core.text import clip
from tav.nodes.http import check

SECRET = f"tavcut{uuid.uuid4().hex}"


def test_an_error_body_is_cut_before_the_word_the_limit_falls_in() -> None:
    body = "refused: " + "word " * 37 + SECRET + " and more"  # the cut at 200 is in SECRET
    response = httpx.Response(401, text=body, request=httpx.Request("GET", "http://x/"))

    with pytest.raises(NodeError) as raised:
        check(response, "GET http://x/")

    assert "tavcut" not in raised.value.message
    assert raised.value.message.endswith("word …")


def test_a_provider_error_is_redacted_before_it_is_cut() -> None:
    message = "Incorrect API key provided: " + "x " * 100 + SECRET + " ok"
    assert len(message) - len(SECRET) < MAX_MESSAGE < len(message)

    failure = classify(RuntimeError(message), timeout_s=5, secrets=(SECRET,))

    assert "tavcut" not in failure.message


@pytest.mark.parametrize(
    ("text", "limit", "clipped"),
    [
        ("short", 10, "short"),
        ("one two three", 9, "one two …"),
        ("one two three", 8, "one two…"),
        ('{"token":"abcdef"}', 14, '{"token":"…'),
        ("x" * 50, 10, "…"),
    ],
)
def test_clip(text: str, limit: int, clipped: str) -> None:
    assert clip(text, limit) == clipped
    assert len(clip(text, limit)) <= limit
