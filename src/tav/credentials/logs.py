"""Keeping stored secrets out of the process's logs, whoever logs them."""

from __future__ import annotations

import logging

from tav.credentials.vault import Vault


class RedactingFilter(logging.Filter):
    """Formats each record and replaces every secret the vault knows with ``***``.

    Installed on handlers (not loggers), so that it sees records from every logger,
    tracebacks included."""

    def __init__(self, vault: Vault) -> None:
        super().__init__()
        self.vault = vault

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.vault.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            if self.vault.redact(text) != text:
                record.exc_text = self.vault.redact(text)
                record.exc_info = None
        return True


DEFAULT_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access")
"""The root logger and uvicorn's."""


def install(vault: Vault, *loggers: logging.Logger) -> RedactingFilter:
    """Add a ``RedactingFilter`` to every handler of ``loggers`` (default:
    ``DEFAULT_LOGGERS``)."""
    found = loggers or tuple(logging.getLogger(name) for name in DEFAULT_LOGGERS)
    redacting = RedactingFilter(vault)
    for each in found:
        for handler in each.handlers:
            # Per vault: another server in this process (tests) installed its own.
            if not any(getattr(f, "vault", None) is vault for f in handler.filters):
                handler.addFilter(redacting)
    return redacting


def uninstall(redacting: RedactingFilter, *loggers: logging.Logger) -> None:
    """Take ``redacting`` off the handlers ``install`` put it on (the same ``loggers``)."""
    found = loggers or tuple(logging.getLogger(name) for name in DEFAULT_LOGGERS)
    for each in found:
        for handler in each.handlers:
            handler.removeFilter(redacting)
