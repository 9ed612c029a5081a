"""TAV Engine: local-first workflow automation for AI-powered automations.

``run_workflow`` / ``run_workflow_sync`` run a workflow file or document from Python.
"""

from __future__ import annotations

from typing import Any

__all__ = ["run_workflow", "run_workflow_sync"]


def __getattr__(name: str) -> Any:
    # Imported lazily so that `import tav.core` stays light.
    if name in __all__:
        from tav.app import headless

        return getattr(headless, name)
    raise AttributeError(f"module 'tav' has no attribute {name!r}")
