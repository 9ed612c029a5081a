"""Checking a model's structured answer against the JSON Schema it was asked to fit, with
the ``jsonschema`` package: the first problem (its best match), where it is and what."""

from __future__ import annotations

from typing import Any


def problem(value: Any, schema: dict[str, Any]) -> str | None:
    """Why ``value`` does not fit ``schema``, or ``None`` when it does."""
    from jsonschema import exceptions, validators  # (loaded with the first structured answer)

    error = exceptions.best_match(validators.validator_for(schema)(schema).iter_errors(value))
    if error is None:
        return None
    where = "$" + "".join(f"[{p!r}]" for p in error.absolute_path)
    return f"{where}: {error.message}"
