"""Models built on first use: TAV's own, and FastAPI's; nobody else's."""

from __future__ import annotations

from pydantic import BaseModel, Field

import tav.api  # noqa: F401  (imports FastAPI with its models deferred)
from tav.core.model import Model


class Order(Model):
    sku: str = Field(min_length=1)
    quantity: int = 1


def test_a_model_is_built_on_first_use_and_then_validates_as_ever():
    class Late(Model):
        name: str

    assert not Late.__pydantic_complete__
    assert Late.model_validate({"name": "x"}).name == "x"
    assert Late.__pydantic_complete__
    assert Order.model_json_schema()["required"] == ["sku"]


def test_other_models_are_built_at_once_after_fastapi_was_imported():
    class Plain(BaseModel):
        name: str

    assert Plain.__pydantic_complete__
