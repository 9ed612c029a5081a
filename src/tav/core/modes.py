"""How an execution started: its ``mode``, stored with it and shown by the API."""

from __future__ import annotations

from enum import StrEnum


class ExecutionMode(StrEnum):
    """Who or what started an execution. Stored as the value (at most 16 characters)."""

    API = "api"
    """Through the API: ``POST /workflows/{id}/run``, the editor's Run and its run from a
    node (``from_execution``) included."""
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
    TRIGGER = "trigger"
    """By an active workflow's trigger of a kind a plugin adds (``tav.triggers``)."""
