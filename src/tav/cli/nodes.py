"""``tav nodes``: the node catalog on the command line."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from tav.cli.output import fail

if TYPE_CHECKING:  # imported when a command runs, not when the CLI starts
    from tav.nodes.registry import NodeRegistry

app = typer.Typer(help="List and inspect node types.", no_args_is_help=True)


def _registry() -> NodeRegistry:
    from tav.nodes.discovery import discover
    from tav.settings import Settings

    found = discover(Settings().nodes_path)
    registry = found.registry()
    for error in found.errors:
        typer.echo(f"warning: node plugin not loaded: {error}", err=True)
    return registry


@app.command("list")
def list_nodes(
    as_json: Annotated[bool, typer.Option("--json", help="Print the catalog as JSON.")] = False,
) -> None:
    """List every node type: built-ins, installed plugins and TAV_NODES_PATH files."""
    from rich.console import Console
    from rich.table import Table

    registry = _registry()
    for unavailable in registry.unavailable():
        typer.echo(
            f"warning: node type {unavailable.type} could not be loaded: {unavailable.reason}",
            err=True,
        )
    if as_json:
        typer.echo(json.dumps(registry.catalog(), indent=2))
        return
    table = Table("type", "version", "category", "title", "description")
    for node_type in registry:
        spec = node_type.spec
        summary = " ".join(node_type.describe().split("\n\n")[0].split())
        table.add_row(spec.type, str(spec.version), spec.category, spec.title, summary)
    Console().print(table)


@app.command("show")
def show_node(type_id: Annotated[str, typer.Argument(metavar="TYPE")]) -> None:
    """Show one node type: description, ports and params JSON Schema."""
    from tav.core.errors import NotFound

    try:
        info = _registry().describe(type_id)
    except NotFound as exc:
        fail(str(exc))
    typer.echo(json.dumps(info, indent=2))


@app.command("docs")
def node_docs() -> None:
    """Print the built-in node reference (docs/reference/built-in-nodes.md) as Markdown."""
    from tav.nodes.docs import render_reference

    typer.echo(render_reference(), nl=False)
