"""``tav nodes``: the node catalog on the command line."""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING, Annotated

import typer

from tav.cli.output import fail

if TYPE_CHECKING:  # imported when a command runs, not when the CLI starts
    from rich.table import Table

    from tav.nodes.base import Node
    from tav.nodes.registry import NodeRegistry

app = typer.Typer(help="List and inspect node types.", no_args_is_help=True)
GAP = "  "
TITLE_WIDTH = 26


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
    wide: Annotated[
        bool, typer.Option("--wide", help="Add version and category; descriptions whole.")
    ] = False,
) -> None:
    """List every node type: built-ins, installed plugins and TAV_NODES_PATH files.

    One line per type, cut to the terminal's width; --wide shows more."""
    from rich.console import Console

    registry = _registry()
    for unavailable in registry.unavailable():
        typer.echo(
            f"warning: node type {unavailable.type} could not be loaded: {unavailable.reason}",
            err=True,
        )
    if as_json:
        typer.echo(json.dumps(registry.catalog(), indent=2))
    elif wide:
        Console().print(_wide_table(registry))
    else:
        for line in _compact_lines(registry, shutil.get_terminal_size().columns):
            typer.echo(line)


def _summary(node_type: type[Node]) -> str:
    return " ".join(node_type.describe().split("\n\n")[0].split())


def _compact_lines(registry: NodeRegistry, width: int) -> list[str]:
    """Type, title and the start of the description, one line per type, ``width`` wide
    (the type always whole)."""
    rows = [("type", "title", "description")]
    rows += [(t.spec.type, t.spec.title, _summary(t)) for t in registry]
    type_width = max(len(row[0]) for row in rows)
    title_width = min(max(len(row[1]) for row in rows), TITLE_WIDTH)
    room = max(width - type_width - title_width - 2 * len(GAP), 0)
    return [
        f"{kind:<{type_width}}{GAP}{_cut(title, title_width):<{title_width}}{GAP}"
        f"{_cut(summary, room)}".rstrip()
        for kind, title, summary in rows
    ]


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)].rstrip() + "…"


def _wide_table(registry: NodeRegistry) -> Table:
    from rich.table import Table

    table = Table("type", "version", "category", "title", "description", box=None, pad_edge=False)
    for node_type in registry:
        spec = node_type.spec
        table.add_row(spec.type, str(spec.version), spec.category, spec.title, _summary(node_type))
    return table


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
