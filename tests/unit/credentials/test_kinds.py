"""Credential kinds of the service nodes; smtp data written before `security` existed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tav.credentials.kinds import KINDS, secret_fields, secret_values


@pytest.mark.parametrize(
    ("data", "security"),
    [
        ({"host": "mail.example.org", "starttls": True}, "starttls"),
        ({"host": "mail.example.org", "starttls": False}, "none"),
        ({"host": "mail.example.org"}, "starttls"),
        ({"host": "mail.example.org", "port": 465, "security": "tls"}, "tls"),
    ],
)
def test_smtp_security_and_the_old_starttls_flag(data: dict[str, object], security: str):
    parsed = KINDS["smtp"].model_validate(data)

    assert parsed.model_dump()["security"] == security
    assert "starttls" not in parsed.model_dump()


def test_smtp_security_is_one_of_three():
    with pytest.raises(ValidationError):
        KINDS["smtp"].model_validate({"host": "h", "security": "ssl"})


@pytest.mark.parametrize(
    ("kind", "secrets"),
    [
        ("slack", {"token"}),
        ("telegram", {"bot_token"}),
        ("discord", {"webhook_url", "bot_token"}),
        ("hmac", {"secret"}),
    ],
)
def test_service_kinds_mark_their_secrets(kind: str, secrets: set[str]):
    assert secret_fields(kind) == secrets


def test_discord_takes_a_webhook_or_a_bot_token():
    for data in ({}, {"webhook_url": "https://x/1/t", "bot_token": "b"}):
        with pytest.raises(ValidationError, match="either webhook_url or bot_token"):
            KINDS["discord"].model_validate(data)
    data = {"webhook_url": "https://discord.example/api/webhooks/1/tok"}
    assert secret_values("discord", KINDS["discord"].model_validate(data).model_dump()) == [
        data["webhook_url"]
    ]
