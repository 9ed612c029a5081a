"""What the AI services are configured with, taken from ``Settings`` by the host.

Limits live in settings rather than on the credential: they are an operator's choice
about a provider account (stay under its quota), may change while the server runs, and
keeping them out of the credential means changing them never touches a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tav.ai.messages import MAX_MEDIA_BYTES
from tav.nodes.ai import ModelRef


@dataclass(frozen=True)
class Limit:
    """Limits of one credential; ``None`` means no cap."""

    max_concurrent: int | None = 8
    requests_per_minute: int | None = None


@dataclass(frozen=True)
class AIConfig:
    default_models: tuple[ModelRef, ...] = ()
    """The chat chain of requests that name none."""
    default_embedding_models: tuple[ModelRef, ...] = ()
    """The embeddings chain of requests that name none."""
    timeout_s: float = 60
    """One model call, when the request sets no ``timeout_s``."""
    limit: Limit = Limit()
    """Every credential's limits, unless ``limits`` names it."""
    limits: Mapping[str, Limit] = field(default_factory=dict)
    breaker_failures: int = 5
    """Consecutive failures of a credential and model that open its circuit."""
    breaker_cooldown_s: float = 30
    """How long an open circuit skips that credential and model."""
    rate_window_s: float = 60
    """The window ``requests_per_minute`` counts over (shorter only in tests)."""
    max_media_bytes: int = MAX_MEDIA_BYTES
    """The most one media value stored as a file may hold to be sent to a model."""

    def limit_of(self, credential_id: str) -> Limit:
        return self.limits.get(credential_id, self.limit)

    @classmethod
    def from_settings(cls, settings: Any) -> AIConfig:
        """From ``tav.settings.Settings`` (whose runtime values may be plain dicts)."""
        default = Limit(settings.ai_max_concurrent, settings.ai_requests_per_minute)
        limits = {
            credential: _limit(value, default) for credential, value in settings.ai_limits.items()
        }
        return cls(
            default_models=tuple(
                ModelRef.model_validate(_plain(link)) for link in settings.ai_default_models
            ),
            default_embedding_models=tuple(
                ModelRef.model_validate(_plain(link))
                for link in settings.ai_default_embedding_models
            ),
            timeout_s=settings.ai_timeout_s,
            limit=default,
            limits=limits,
            breaker_failures=settings.ai_breaker_failures,
            breaker_cooldown_s=settings.ai_breaker_cooldown_s,
        )


def _plain(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else dict(value.model_dump())


def _limit(value: Any, default: Limit) -> Limit:
    data = _plain(value)
    concurrent = data.get("max_concurrent")
    rpm = data.get("requests_per_minute")
    return Limit(
        default.max_concurrent if concurrent is None else concurrent,
        default.requests_per_minute if rpm is None else rpm,
    )
