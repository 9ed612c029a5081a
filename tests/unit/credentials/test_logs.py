"""The logging filter: every secret a vault knows, whoever logs it, tracebacks included."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from tav.credentials import Vault
from tav.credentials.keys import generate_key, to_fernet_key
from tav.credentials.logs import install
from tav.credentials.redaction import to_redact


def vault_knowing(secret: str) -> Vault:
    vault = Vault([to_fernet_key(generate_key())])
    vault.remember(
        to_redact("discord", {"webhook_url": f"https://d.example/api/webhooks/1/{secret}"})
    )
    return vault


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    logger = logging.getLogger("tests.redacting")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_messages_and_tracebacks_are_redacted(logger: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = logger
    install(vault_knowing("first-token-0123456789"), log)

    log.warning("sent %s", "token first-token-0123456789")
    try:
        raise RuntimeError("refused first-token-0123456789")
    except RuntimeError:
        log.exception("failed")

    assert "first-token" not in stream.getvalue()
    assert "RuntimeError: refused ***" in stream.getvalue()


def test_each_vault_installed_on_a_handler_redacts(
    logger: tuple[logging.Logger, io.StringIO],
) -> None:
    """Two servers in one process (tests, a CLI command beside a server) each install
    their vault on the same handlers."""
    log, stream = logger
    install(vault_knowing("first-token-0123456789"), log)
    install(vault_knowing("second-token-0123456789"), log)

    log.warning("first-token-0123456789 second-token-0123456789")

    assert stream.getvalue().strip() == "*** ***"
