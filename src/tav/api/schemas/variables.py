"""Global variables: ``vars.<name>`` in every workflow's templates."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

VARIABLE_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"


class VariablePublic(BaseModel):
    name: str
    value: Any


class VariableUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Any = Field(description="Any JSON value; null is a value too.")
