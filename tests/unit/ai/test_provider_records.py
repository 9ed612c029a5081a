"""The provider records are the one place a provider is described: the vault's credential
kinds, the chain's kinds, the failure reading, the fakes and the docs follow from them."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from tav.ai import failures
from tav.ai.providers import BY_KIND, CHAT_KINDS, EMBEDDING_KINDS, PROVIDERS, Provider
from tav.credentials.kinds import KINDS, kind_schemas, secret_fields
from tests.fakes.llm import API_PATHS
from tests.fakes.llm import PROVIDERS as FAKE_PROVIDERS

DOCS = Path(__file__).resolve().parents[3] / "docs" / "reference" / "ai-system.md"


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.kind)
def test_each_provider_is_a_credential_kind_with_its_model(provider: Provider):
    assert KINDS[provider.kind] is provider.credential
    assert "base_url" in provider.credential.model_fields
    assert (provider.credential.__doc__ or "").strip()


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.kind)
def test_the_default_base_url_is_the_one_the_credential_form_shows(provider: Provider):
    field = provider.credential.model_fields["base_url"]
    if provider.default_base_url is None:
        assert field.is_required()
    else:
        shown = f"{field.default} {field.description or ''}"
        assert provider.default_base_url in shown


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.kind)
def test_its_packages_are_installed_and_their_errors_move_a_chain_on(provider: Provider):
    for name in (provider.package, *provider.libraries):
        assert importlib.util.find_spec(name) is not None, name
        assert name.partition(".")[0] in failures.PROVIDER_LIBRARIES


def test_the_chain_kinds_follow_from_the_records():
    assert tuple(p.kind for p in PROVIDERS) == CHAT_KINDS
    assert set(EMBEDDING_KINDS) == {p.kind for p in PROVIDERS if p.embeddings is not None}
    assert "anthropic" not in EMBEDDING_KINDS
    assert len(BY_KIND) == len(PROVIDERS), "a kind named by two records"


def test_the_kinds_list_says_which_are_providers_and_what_they_offer():
    listed = {entry["kind"]: entry["provider"] for entry in kind_schemas()}

    assert {kind for kind, provider in listed.items() if provider} == set(BY_KIND)
    for provider in PROVIDERS:
        assert listed[provider.kind] == {
            "title": provider.title,
            "api": provider.api,
            "chat": True,
            "embeddings": provider.embeddings is not None,
            "default_base_url": provider.default_base_url,
        }
    assert listed["smtp"] is None


def test_secrets_of_provider_kinds_are_marked():
    assert secret_fields("openai") == {"api_key"}
    assert secret_fields("ollama") == {"headers"}
    assert secret_fields("openai_compatible") == {"api_key"}


def test_the_fakes_serve_every_provider_by_the_api_it_speaks():
    assert set(FAKE_PROVIDERS) == set(BY_KIND)
    assert {p.api for p in PROVIDERS} <= set(API_PATHS)


def test_the_docs_have_a_row_for_every_provider():
    text = DOCS.read_text()
    section = text[text.index("## Providers and credentials") : text.index("## Model chains")]
    rows = set(re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE))

    assert rows == set(BY_KIND)
