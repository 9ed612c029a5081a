"""The live progress view of ``tav run``, fed by execution events.

On a terminal it is a live table (rich); elsewhere one line per settled node.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from tav.core.events import Event
from tav.core.states import CancelReason
from tav.engine.plan import ExecutionPlan

STYLES = {
    "pending": "dim",
    "running": "cyan",
    "retrying": "yellow",
    "succeeded": "green",
    "failed": "red",
    "skipped": "dim",
    "cancelled": "magenta",
}
CANCEL_NOTES = {
    CancelReason.CANCELLED: "",
    CancelReason.UPSTREAM_FAILED: "not run: a node it depends on failed",
    CancelReason.SIBLING_FAILED: "stopped: another node failed",
}
"""What a cancelled node's line adds: nobody cancelled it when a node failed."""
SETTLED = {
    "node.completed": "succeeded",
    "node.failed": "failed",
    "node.skipped": "skipped",
    "node.cancelled": "cancelled",
}


class ProgressView:
    def __init__(self, plan: ExecutionPlan, *, live: bool) -> None:
        self.plan = plan
        self.console = Console(stderr=True)
        self.rows: dict[str, dict[str, Any]] = {
            node_id: {"status": "pending", "attempts": 0, "ms": None, "note": ""}
            for node_id in plan.nodes
        }
        self.live = Live(self._table(), console=self.console, transient=False) if live else None

    def __enter__(self) -> ProgressView:
        if self.live:
            self.live.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.live:
            self.live.update(self._table())
            self.live.__exit__(kind, exc, tb)

    def update(self, event: Event) -> None:
        node_id = getattr(event, "node_id", None)
        if node_id is None or node_id not in self.rows:
            return
        row = self.rows[node_id]
        if event.type == "node.started":
            row.update(status="running", attempts=event.attempt)
        elif event.type == "node.retrying":
            row.update(status="retrying", note=event.error.message)
        elif event.type in SETTLED:
            row["status"] = SETTLED[event.type]
            row["ms"] = getattr(event, "duration_ms", None)
            row["note"] = _note(event)
            if not self.live:
                self._line(node_id)
        if self.live:
            self.live.update(self._table())

    def _line(self, node_id: str) -> None:
        row = self.rows[node_id]
        duration = f" {row['ms']:.0f} ms" if row["ms"] is not None else ""
        note = f" — {row['note']}" if row["note"] else ""
        self.console.print(
            f"[{STYLES[row['status']]}]{row['status']:>9}[/] {node_id}{duration}{note}",
            highlight=False,
        )

    def _table(self) -> Table:
        table = Table("node", "type", "status", "attempts", "time", "note", title=self.plan.name)
        for node_id, row in self.rows.items():
            status = row["status"]
            table.add_row(
                node_id,
                self.plan.nodes[node_id].node_type.spec.type,
                f"[{STYLES[status]}]{status}[/]",
                str(row["attempts"] or ""),
                f"{row['ms']:.0f} ms" if row["ms"] is not None else "",
                row["note"][:60],
            )
        return table


def _note(event: Event) -> str:
    if event.type == "node.failed":
        return f"{event.error.type}: {event.error.message}"
    if event.type == "node.skipped":
        return event.reason
    if event.type == "node.completed" and event.pinned:
        return "pinned"
    if event.type == "node.cancelled":
        return CANCEL_NOTES[event.reason]
    return ""
