"""Small helpers for what commands print."""

from __future__ import annotations

from typing import NoReturn

import typer

EXIT_FAILED = 1
EXIT_INVALID = 2


def fail(message: str, code: int = EXIT_INVALID) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)
