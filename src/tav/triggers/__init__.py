"""Triggers: what starts executions of active workflows without a person asking.

``TriggerManager`` (``manager``) arms the trigger nodes of active workflows, one module
per kind: ``webhook`` (a table of paths the HTTP layer serves), ``schedule`` (cron and
intervals, never firing a slot twice), ``mqtt`` (topic subscriptions) and ``email`` (IMAP
pollers). Each kind is a record (``kinds``: ``TriggerKindSpec``); plugins add theirs,
found by ``discovery``. What the manager needs from its host is in ``ports``; ``clock`` lets tests
drive time. See docs/reference/triggers.md.
"""

from tav.triggers.base import Activation, ActivationInvalid, Host, Refusal, TriggerClash
from tav.triggers.clock import Clock, ManualClock, SystemClock
from tav.triggers.kinds import BUILTIN_KINDS, KindSetup, TriggerKindSpec, default_kinds
from tav.triggers.manager import TriggerManager, find_clash, plan_document, plan_triggers
from tav.triggers.webhook import WebhookError

__all__ = [
    "BUILTIN_KINDS",
    "Activation",
    "ActivationInvalid",
    "Clock",
    "Host",
    "KindSetup",
    "ManualClock",
    "Refusal",
    "SystemClock",
    "TriggerClash",
    "TriggerKindSpec",
    "TriggerManager",
    "WebhookError",
    "default_kinds",
    "find_clash",
    "plan_document",
    "plan_triggers",
]
