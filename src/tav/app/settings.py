"""Runtime settings (pools, retention, what is kept of successes, the AI default chains
and limits), changed while the server runs.

Changes are stored (they outlive restarts and override TAV_* values) and applied at once:
pool limits to the slots taken from now on, the AI defaults to the next model call,
retention from the next prune.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from tav.ai import AIConfig, AIServices
from tav.ai.providers import CHAT_KINDS, EMBEDDING_KINDS
from tav.core.errors import InputInvalid, NotFound
from tav.core.workflow import KeepSuccesses
from tav.credentials import CredentialService
from tav.engine.pools import Pools
from tav.settings import AICredentialLimits, AIModelLink, RuntimeSettings, Settings
from tav.storage.config import SettingRepository

logger = logging.getLogger("tav.app")


@dataclass(frozen=True, slots=True)
class InForce:
    """The runtime settings in force."""

    pools: dict[str, int]
    pool_default_limit: int
    retention_max_age_days: float | None
    retention_max_count: int | None
    keep_successes: KeepSuccesses
    ai_default_models: list[AIModelLink]
    ai_default_embedding_models: list[AIModelLink]
    ai_limits: dict[str, AICredentialLimits]


class RuntimeConfig:
    def __init__(
        self,
        settings: Settings,
        *,
        stored: SettingRepository,
        pools: Pools,
        ai: AIServices,
        credentials: CredentialService,
    ) -> None:
        self.settings = settings
        """The settings in force: the environment's, with the stored changes over them."""
        self.stored = stored
        self.pools = pools
        self.ai = ai
        self.credentials = credentials

    def in_force(self) -> InForce:
        return InForce(
            pools=dict(self.pools.limits),
            pool_default_limit=self.pools.default_limit,
            retention_max_age_days=self.settings.retention_max_age_days,
            retention_max_count=self.settings.retention_max_count,
            keep_successes=self.settings.keep_successes,
            ai_default_models=self.settings.ai_default_models,
            ai_default_embedding_models=self.settings.ai_default_embedding_models,
            ai_limits=self.settings.ai_limits,
        )

    async def change(self, changes: RuntimeSettings) -> InForce:
        """Store the fields set in ``changes`` and apply them; ``InputInvalid`` for a
        default model chain naming a credential that does not exist or of the wrong kind."""
        await self._check_chains(changes)
        await self.stored.put_many(changes.model_dump(exclude_unset=True))
        self.apply(await self.stored.all())
        return self.in_force()

    def apply(self, stored: Mapping[str, Any]) -> None:
        """Apply the stored runtime settings over the environment's: pool limits at once,
        retention from the next prune. Stored values that no longer validate are logged
        and ignored rather than stopping the server."""
        known = {key: value for key, value in stored.items() if key in RuntimeSettings.model_fields}
        try:
            changes = RuntimeSettings.model_validate(known).model_dump(exclude_unset=True)
        except ValidationError as exc:
            logger.warning("ignoring the stored runtime settings: %s", exc)
            return
        pools = {**self.settings.pools, **changes.pop("pools", {})}
        self.settings = self.settings.model_copy(update=changes)
        self.pools.set_limits(pools, default_limit=self.settings.pool_default_limit)
        self.ai.configure(AIConfig.from_settings(self.settings))

    async def _check_chains(self, changes: RuntimeSettings) -> None:
        chains = (
            ("ai_default_models", changes.ai_default_models, CHAT_KINDS, "a chat provider"),
            (
                "ai_default_embedding_models",
                changes.ai_default_embedding_models,
                EMBEDDING_KINDS,
                "an embeddings provider",
            ),
        )
        for field, chain, kinds, what in chains:
            for index, link in enumerate(chain):
                try:
                    credential = await self.credentials.get(link.credential)
                except NotFound:
                    raise InputInvalid(
                        f"{field}[{index}]: no credential with id {link.credential!r}"
                    ) from None
                if credential.kind not in kinds:
                    raise InputInvalid(
                        f"{field}[{index}]: credential {link.credential!r} is of kind "
                        f"{credential.kind!r}, not {what} ({', '.join(kinds)})"
                    )
