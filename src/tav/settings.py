"""The one settings object: every ``TAV_*`` environment variable (docs/deployment/)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAV_", extra="ignore")

    data_dir: Path = Field(
        Path(".tav"), description="Where TAV Engine keeps its database and files."
    )
    nodes_path: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description=f"Folders of custom node files, separated by '{os.pathsep}'.",
    )
    pools: dict[str, int] = Field(
        default_factory=dict,
        description='Concurrency limits by pool, as JSON: {"http": 64, "llm": 8, "cpu": 2}.',
    )
    pool_default_limit: int = Field(16, ge=1, description="Limit of pools not named in pools.")
    vars: dict[str, Any] = Field(
        default_factory=dict, description="Global variables (vars.<name> in templates), JSON."
    )
    log_level: str = "WARNING"

    @field_validator("nodes_path", mode="before")
    @classmethod
    def _split_paths(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [Path(part) for part in value.split(os.pathsep) if part.strip()]
        return value
