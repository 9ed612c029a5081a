"""What a credential makes redacted: secret values, their URL and header parts, logins,
and the encoded forms they travel in."""

from __future__ import annotations

import base64
import json
import urllib.parse
from typing import Any

import pytest
from pydantic import BaseModel

from tav.credentials import Vault
from tav.credentials.keys import generate_key, to_fernet_key
from tav.credentials.kinds import KINDS, secret_fields
from tav.credentials.redaction import secret_parameter, to_redact

# A fixed value: the test ids carry it, and parallel test runs collect the same ids.
TOKEN = "tok5c1e9b07a3d84f62b8e4a91d6c0f27e3"
PASSWORD = 'pä ss:w/rd+"&1'


def vault_for(kind: str, data: dict[str, Any]) -> Vault:
    vault = Vault([to_fernet_key(generate_key())])
    vault.remember(to_redact(kind, KINDS[kind].model_validate(data).model_dump(mode="json")))
    return vault


def test_a_discord_webhook_token_is_redacted_alone() -> None:
    url = f"https://discord.com/api/webhooks/1234567890123456789/{TOKEN}"
    vault = vault_for("discord", {"webhook_url": url})

    shown = vault.redact(f'{{"webhook_id": "1234567890123456789", "token": "{TOKEN}"}}')

    assert shown == '{"webhook_id": "1234567890123456789", "token": "***"}'
    assert vault.redact(f"POST {url}?wait=true") == "POST ***?wait=true"


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        (f"https://hooks.slack.com/services/T0123ABCD/B0123ABCD/{TOKEN[:24]}", TOKEN[:24]),
        (f"https://api.telegram.org/bot123456:{TOKEN}/sendMessage", f"123456:{TOKEN}"),
        (f"https://example.org/hook/{TOKEN}", TOKEN),
        (f"https://user:{urllib.parse.quote(PASSWORD, safe='')}@example.org/x", PASSWORD),
        (f"https://{TOKEN}@example.org/repo.git", TOKEN),
        (f"https://example.org/in?token={TOKEN}&wait=true", TOKEN),
        (f"https://example.org/in?api_key={TOKEN}", TOKEN),
        (f"https://example.org/in?apiKey={TOKEN}", TOKEN),
        (f"https://example.org/in?access_token={TOKEN}", TOKEN),
        (f"https://x.blob.core.windows.net/c?sv=2024&sig={TOKEN}", TOKEN),
        (f"https://s3.example/o?X-Amz-Signature={TOKEN}", TOKEN),
        (f"https://example.org/cb#access_token={TOKEN}", TOKEN),
    ],
)
def test_the_secret_part_of_a_secret_url(url: str, secret: str) -> None:
    vault = vault_for("discord", {"webhook_url": url})

    assert vault.redact(f"it said {secret}!") == "it said ***!"


def test_query_values_not_named_like_secrets_stay() -> None:
    vault = vault_for("discord", {"webhook_url": f"https://x.org/h/{TOKEN}?wait=true&author=ada"})

    assert vault.redact("wait=true author=ada") == "wait=true author=ada"


def test_ids_and_ordinary_path_segments_of_a_secret_url_stay() -> None:
    url = f"https://discord.com/api/webhooks/1234567890123456789/{TOKEN}"
    vault = vault_for("discord", {"webhook_url": url})

    text = "webhook 1234567890123456789 at discord.com/api/webhooks"
    assert vault.redact(text) == text


def test_a_url_in_a_field_that_is_not_secret_gives_its_secret_parts() -> None:
    data = {
        "api_key": "sk-only-this-key",
        "base_url": f"https://u:{TOKEN}@llm.lan/v1?key=k-{TOKEN}",
    }
    vault = vault_for("openai", data)

    assert vault.redact(f"{TOKEN} k-{TOKEN} u llm.lan/v1") == "*** *** u llm.lan/v1"


@pytest.mark.parametrize("encode", ["plain", "url", "url_plus", "json", "json_ascii", "html"])
def test_encoded_forms_of_a_password(encode: str) -> None:
    forms = {
        "plain": PASSWORD,
        "url": urllib.parse.quote(PASSWORD, safe=""),
        "url_plus": urllib.parse.quote_plus(PASSWORD),
        "json": json.dumps(PASSWORD, ensure_ascii=False)[1:-1],
        "json_ascii": json.dumps(PASSWORD)[1:-1],
        "html": "pä ss:w/rd+&quot;&amp;1",
    }
    vault = vault_for("basic", {"username": "ada", "password": PASSWORD})

    assert vault.redact(f"<{forms[encode]}>") == "<***>"


def test_the_basic_auth_header_and_sasl_plain_of_a_login() -> None:
    vault = vault_for("smtp", {"host": "mail.example.org", "username": "ada", "password": PASSWORD})
    basic = base64.b64encode(f"ada:{PASSWORD}".encode()).decode()
    plain = base64.b64encode(f"\0ada\0{PASSWORD}".encode()).decode()

    assert vault.redact(f"Authorization: Basic {basic}") == "Authorization: Basic ***"
    assert vault.redact(f"AUTH PLAIN {plain}") == "AUTH PLAIN ***"


@pytest.mark.parametrize("prefix", [b"", b"a", b"ab", b"some prefix: "])
def test_base64_of_a_secret_is_found_at_any_alignment(prefix: bytes) -> None:
    vault = vault_for("api_key", {"api_key": TOKEN})
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        text = encode(prefix + TOKEN.encode() + b" and more").decode()

        runs = vault.redact(text).split("***")

        # What is left on either side is too short to encode the whole secret.
        assert len(runs) == 2
        assert all(len(run) < len(TOKEN) * 4 // 3 - 4 for run in runs)


def test_header_credentials_and_a_decoded_basic_header() -> None:
    inner = base64.b64encode(f"svc:{TOKEN}".encode()).decode()
    data = {"headers": {"Authorization": f"Bearer b-{TOKEN}", "X-Proxy": f"Basic {inner}"}}
    vault = vault_for("ollama", data)

    assert vault.redact(f"b-{TOKEN} / {TOKEN}") == "*** / ***"


def test_the_secret_of_a_telegram_bot_token_is_redacted_without_the_bot_id() -> None:
    vault = vault_for("telegram", {"bot_token": f"123456:{TOKEN}"})

    assert vault.redact(f"bot 123456 says {TOKEN}") == "bot 123456 says ***"


def test_pending_is_the_longest_end_that_may_begin_a_secret() -> None:
    vault = vault_for("api_key", {"api_key": TOKEN})

    assert vault.pending(f"the key {TOKEN[:7]}") == 7
    assert vault.pending(vault.redact(f"the key {TOKEN}")) == 0  # whole: redacted
    assert vault.pending("the key tak") == 0


def test_a_password_with_a_space_is_not_split_into_words() -> None:
    vault = vault_for("basic", {"username": "ada", "password": "correct horse battery"})

    assert vault.redact("a horse") == "a horse"
    assert vault.redact("is correct horse battery") == "is ***"


def test_values_shorter_than_four_characters_are_not_redacted() -> None:
    vault = vault_for("basic", {"username": "ada", "password": "abc"})

    assert vault.redact("abc abcd YWRhOmFiYw==") == "abc abcd YWRhOmFiYw=="


def test_a_short_base64_form_is_not_registered() -> None:
    """Base64 of a 4-character password would be 4 characters: they turn up by chance."""
    found = to_redact("api_key", {"api_key": "wxyz"})

    assert all(len(form) >= 4 for form in found)
    assert base64.b64encode(b"wxy").decode() not in found


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("token", True),
        ("api_key", True),
        ("api-key", True),
        ("apiKey", True),
        ("access_token", True),
        ("client_secret", True),
        ("sig", True),
        ("X-Amz-Signature", True),
        ("password", True),
        ("wait", False),
        ("author", False),
        ("thread_id", False),
        ("page", False),
    ],
)
def test_secret_query_parameters(name: str, secret: bool) -> None:
    assert secret_parameter(name) is secret


def test_a_stored_kind_this_version_does_not_know_is_secret_in_every_field() -> None:
    assert TOKEN in to_redact("future_kind", {"whatever": TOKEN})


SECRET_NAMES = ("password", "token", "secret", "key", "headers", "webhook")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_field_named_like_a_secret_is_declared_secret(kind: str) -> None:
    model: type[BaseModel] = KINDS[kind]
    named = {name for name in model.model_fields if any(word in name for word in SECRET_NAMES)}

    assert named <= secret_fields(kind)


def test_a_long_secret_and_many_credentials_are_redacted() -> None:
    """A private key in PEM is thousands of characters; a hundred credentials register a
    thousand forms, all of them in one pattern."""
    key = "-----BEGIN PRIVATE KEY-----\n" + "MIIE" * 800 + "\n-----END PRIVATE KEY-----"
    vault = vault_for("api_key", {"api_key": key})
    for index in range(100):
        vault.remember(to_redact("api_key", {"api_key": f"{TOKEN}-{index}"}))

    assert vault.redact(f"a {key} b {TOKEN}-7 c {TOKEN}-42d") == "a *** b *** c ***d"
