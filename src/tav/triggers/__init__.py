"""Triggers: what starts executions of active workflows without a person asking.

``TriggerManager`` (``manager``) arms the trigger nodes of active workflows, one module
per kind: ``webhook`` (a table of paths the HTTP layer serves), ``schedule`` (cron and
intervals, never firing a slot twice), ``mqtt`` (topic subscriptions) and ``email`` (IMAP
pollers). What the manager needs from its host is in ``ports``; ``clock`` lets tests
drive time. See docs/reference/triggers.md.
"""

from tav.triggers.base import Activation, ActivationInvalid, Host, TriggerClash
from tav.triggers.clock import Clock, ManualClock, SystemClock
from tav.triggers.manager import (
    TriggerManager,
    default_kinds,
    find_clash,
    plan_document,
    plan_triggers,
)
from tav.triggers.webhook import WebhookError

__all__ = [
    "Activation",
    "ActivationInvalid",
    "Clock",
    "Host",
    "ManualClock",
    "SystemClock",
    "TriggerClash",
    "TriggerManager",
    "WebhookError",
    "default_kinds",
    "find_clash",
    "plan_document",
    "plan_triggers",
]
