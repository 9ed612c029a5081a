"""Runtime settings: the values in force, and a change to them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tav.core.workflow import KeepSuccesses
from tav.settings import AICredentialLimits, AIModelLink, RuntimeSettings


class SettingsPublic(BaseModel):
    """The runtime settings in force: set over the API, else from TAV_* or built in."""

    pools: dict[str, int] = Field(description="Concurrency limits by pool.")
    pool_default_limit: int = Field(description="Limit of pools not named in pools.")
    retention_max_age_days: float | None = Field(
        description="Executions older than this are pruned; null keeps them."
    )
    retention_max_count: int | None = Field(
        description="At most this many executions are kept; null keeps all."
    )
    keep_successes: KeepSuccesses = Field(
        description="What is stored of a successful execution of a workflow whose settings "
        "do not say: all of it, its summary and input, or only a count. Failures are "
        "always stored in full."
    )
    ai_default_models: list[AIModelLink] = Field(
        description="Model chain of AI nodes that name none, tried in order."
    )
    ai_default_embedding_models: list[AIModelLink] = Field(
        description="Embedding model chain of AI nodes that name none, tried in order."
    )
    ai_limits: dict[str, AICredentialLimits] = Field(
        description="Limits of single provider credentials, by credential id."
    )


class SettingsUpdate(RuntimeSettings):
    """A change: fields left out keep their value. ``pools`` replaces the limits set over
    the API; a pool it does not name goes back to its TAV_POOLS or built-in limit."""

    # A request body is built with its route, as FastAPI expects, not on first use.
    model_config = ConfigDict(defer_build=False)
