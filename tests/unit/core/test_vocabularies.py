"""The closed vocabularies stored with executions: their values never change (stored rows
and API clients hold them), and each one is documented."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

from tav.core import errors
from tav.core.errors import FailureKind
from tav.core.modes import ExecutionMode, RunRequestMode
from tav.core.results import ErrorInfo
from tav.core.states import CancelReason
from tav.storage.executions import ExecutionSummary

DOCS = Path(__file__).parents[3] / "docs" / "api" / "execution.md"
EXECUTOR_DOCS = DOCS.parents[1] / "architecture" / "executor.md"


def _documented(first_column: str, docs: Path = DOCS) -> set[str]:
    """The values in the first column of the docs table whose header starts with it."""
    text = docs.read_text()
    table = text.split(f"| {first_column} |", 1)[1].split("\n\n", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", table, re.MULTILINE))


def test_execution_modes_keep_their_stored_values() -> None:
    assert {mode.value for mode in ExecutionMode} == {
        "api", "editor", "cli", "retry", "subworkflow", "webhook", "schedule", "email", "mqtt",
        "mcp", "trigger",
    }  # fmt: skip
    assert max(len(mode.value) for mode in ExecutionMode) <= 16  # executions.mode column


def test_every_execution_mode_is_documented() -> None:
    assert _documented("mode") == {mode.value for mode in ExecutionMode}


def test_a_run_request_names_only_the_api_or_the_editor() -> None:
    assert set(get_args(RunRequestMode)) == {ExecutionMode.API, ExecutionMode.EDITOR}


def test_cancel_reasons_keep_their_stored_values_and_are_documented() -> None:
    values = {reason.value for reason in CancelReason}
    assert values == {"cancelled", "upstream_failed", "sibling_failed"}
    assert _documented("`reason`", EXECUTOR_DOCS) == values


def test_failure_kinds_keep_their_stored_values() -> None:
    assert {kind.value for kind in FailureKind} == {
        "cancelled", "crashed", "resume_failed", "not_stored",
    }  # fmt: skip


def test_every_failure_kind_is_documented_in_the_docs_and_the_error_tree() -> None:
    assert _documented("`error.type`") == {kind.value for kind in FailureKind}
    tree = errors.__doc__ or ""
    assert all(re.search(rf"^    {kind.value} ", tree, re.MULTILINE) for kind in FailureKind)


def test_a_stored_mode_reads_back_as_the_enum() -> None:
    summary = ExecutionSummary.model_validate(
        {
            "execution_id": "e",
            "workflow": "w",
            "workflow_id": None,
            "workflow_version": None,
            "status": "failed",
            "mode": "webhook",
            "parent_execution_id": None,
            "error": {"type": "crashed", "message": "gone"},
            "started_at": "2025-01-01T00:00:00Z",
            "finished_at": None,
            "duration_ms": None,
        }
    )
    assert summary.mode is ExecutionMode.WEBHOOK
    assert summary.error == ErrorInfo(type=FailureKind.CRASHED, message="gone")
