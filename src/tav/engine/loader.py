"""Loading workflow documents from files (JSON or YAML)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tav.core.errors import NotFound, Problem, WorkflowInvalid
from tav.core.workflow import Workflow, parse_workflow

if TYPE_CHECKING:
    import yaml

YAML_SUFFIXES = (".yaml", ".yml")


def parse_document(text: str, *, source: str, yaml_allowed: bool = True) -> Any:
    """JSON (or YAML) text → data; syntax errors become ``WorkflowInvalid`` with a line."""
    try:
        if yaml_allowed and source.lower().endswith(YAML_SUFFIXES):
            return _load_yaml(text, source)
        return json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
    except RecursionError:
        message = "the document is nested too deeply to read"
    except (ValueError, OverflowError) as exc:
        # Valid syntax, impossible value: a YAML date like 2024-13-45, an integer with
        # more digits than Python converts.
        message = f"a value cannot be read: {exc}"
    raise WorkflowInvalid([Problem(message)], source=source)


def _load_yaml(text: str, source: str) -> Any:
    import yaml  # on the first YAML document: most processes never read one

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = Problem(f"not valid YAML: {_yaml_reason(exc)}")
        raise WorkflowInvalid([problem], source=source) from None


def _yaml_reason(exc: yaml.YAMLError) -> str:
    """One line, like the JSON message (PyYAML's own spans lines and quotes the text)."""
    import yaml

    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return str(exc)
    mark = exc.problem_mark
    context = f"{exc.context}: " if exc.context else ""
    return f"{context}{exc.problem} (line {mark.line + 1}, column {mark.column + 1})"


def load_workflow_file(path: str | Path) -> Workflow:
    """Read a workflow file (``.json``, ``.yaml`` or ``.yml``); compiling it checks the rest."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"workflow file not found: {path}") from None
    except OSError as exc:
        raise NotFound(f"cannot read workflow file {path}: {exc.strerror}") from None
    return parse_workflow(parse_document(text, source=str(path)), source=str(path), structure=False)


class FileWorkflowLoader:
    """Resolves ``core.subworkflow`` / ``core.map`` refs as paths relative to the caller."""

    async def load(self, ref: str, *, relative_to: str | None) -> tuple[Workflow, str]:
        base = Path(relative_to).parent if relative_to else Path.cwd()
        path = (base / ref).resolve()
        workflow = await asyncio.to_thread(load_workflow_file, path)
        return workflow, str(path)
