"""``tav``: the command-line entry point; each command group lives in its own module."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from tav.cli import admin, credentials, nodes, queue, run, serve, worker, workflows
from tav.cli.version import version

app = typer.Typer(
    name="tav",
    help="TAV Engine: local-first workflow automation for AI-powered automations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"tav {version()}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    pass


app.command("run")(run.run_command)
app.command("serve")(serve.serve_command)
app.command("worker")(worker.worker_command)
app.add_typer(nodes.app, name="nodes")
app.add_typer(admin.users, name="users")
app.add_typer(admin.api_keys, name="api-keys")
app.add_typer(credentials.app, name="credentials")
app.add_typer(workflows.app, name="workflows")
app.add_typer(queue.app, name="queue")


def main() -> None:
    from pydantic import ValidationError

    from tav.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"TAV_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        typer.echo(f"error: invalid setting: {problems}", err=True)
        raise SystemExit(2) from None
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    app()
