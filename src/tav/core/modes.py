"""How an execution started: its ``mode``, stored with it and shown by the API."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class ExecutionMode(StrEnum):
    """Who or what started an execution. Stored as the value (at most 16 characters)."""

    API = "api"
    """Through the API: ``POST /workflows/{id}/run`` (a run from a node, with
    ``from_execution``, included) by a script or any other client but the editor."""
    EDITOR = "editor"
    """By the editor's Run or its run from a node: ``POST /workflows/{id}/run`` with
    ``"mode": "editor"``, the one other mode that request may name (``RunRequestMode``).
    A label of where a person started it, not a permission: the API trusts it as it
    trusts the caller."""
    CLI = "cli"
    """By ``tav run`` on this machine."""
    RETRY = "retry"
    """A failed or cancelled execution run again (``POST /executions/{id}/retry``)."""
    SUBWORKFLOW = "subworkflow"
    """By a ``core.subworkflow`` or ``core.map`` node of another execution."""
    WEBHOOK = "webhook"
    """By a request to an active workflow's ``trigger.webhook``."""
    SCHEDULE = "schedule"
    """By an active workflow's ``trigger.schedule``, when it fired."""
    EMAIL = "email"
    """By an active workflow's ``trigger.email``, for a message that arrived."""
    MQTT = "mqtt"
    """By an active workflow's ``trigger.mqtt``, for a message on its topic."""
    MCP = "mcp"
    """By a tool call of an MCP client (``/mcp``): a workflow offered as a tool."""
    TRIGGER = "trigger"
    """By an active workflow's trigger of a kind a plugin adds (``tav.triggers``)."""


RunRequestMode = Literal[ExecutionMode.API, ExecutionMode.EDITOR]
"""The modes a run request may name: the others say what the server itself started (a
retry, a trigger, a sub-workflow) and cannot be claimed by a caller."""
