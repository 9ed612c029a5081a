"""Trigger kinds as records: one ``TriggerKindSpec`` per kind, built-ins and plugins alike.

A trigger node says how it activates with its ``trigger_kind`` (``webhook``,
``schedule``, ...). A ``TriggerKindSpec`` names that kind and builds the object that arms
it (``TriggerKind``: parse, claims, check, arm). ``BUILTIN_KINDS`` are the kinds this
package ships; plugins add theirs through the ``tav.triggers`` entry-point group or in
``TAV_NODES_PATH`` files (``tav.triggers.discovery``), so a plugin can ship a trigger
node *and* the kind that arms it. A ``TriggerManager`` is handed the records it arms.

A kind whose ``make`` is ``None`` is armed by nothing: its nodes run only by hand
(``manual``). A workflow whose trigger nodes are all of such kinds cannot be activated.

Rejected: a closed table of kinds inside the manager (no plugin could add one), and
kinds found through the node classes (the node layer must not know how triggers are
armed: that is a server's business).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from tav.triggers.base import TriggerKind
from tav.triggers.email import EmailKind
from tav.triggers.mqtt import MqttKind
from tav.triggers.schedule import LATE_S, ScheduleKind
from tav.triggers.webhook import WebhookKind, WebhookRoutes


@dataclass(frozen=True, slots=True)
class KindSetup:
    """What the manager that builds a kind gives it."""

    webhooks: WebhookRoutes
    """The table of webhook paths the HTTP layer serves (``/webhook/...``)."""
    schedule_late_s: float = LATE_S
    """Schedule slots that passed at most this long ago fire late rather than missed."""


@dataclass(frozen=True, slots=True)
class TriggerKindSpec:
    """One kind of trigger: the ``trigger_kind`` its nodes name and how it is armed."""

    name: str
    """What a trigger node's ``trigger_kind`` says (``webhook``)."""
    title: str
    """For people, in sentences: "add a {title} trigger" (``MQTT``)."""
    make: Callable[[KindSetup], TriggerKind] | None
    """Builds the kind for one manager; ``None``: nothing to arm, runs only by hand."""
    everywhere: bool = False
    """Armed by every API process: the kind fires on requests, each of which reaches one
    process (``webhook``). Otherwise (a schedule, a subscription, a poller: anything that
    runs in the background) only the trigger leader arms it, so that it fires once for
    the whole deployment (``tav.triggers.leadership``)."""

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"TriggerKindSpec needs a name, got {self.name!r}")
        if self.make is not None and not callable(self.make):
            raise TypeError(f"trigger kind {self.name!r}: make must be callable or None")


BUILTIN_KINDS: tuple[TriggerKindSpec, ...] = (
    TriggerKindSpec("manual", "manual", None),
    TriggerKindSpec(
        "webhook", "webhook", lambda setup: WebhookKind(setup.webhooks), everywhere=True
    ),
    TriggerKindSpec("schedule", "schedule", lambda setup: ScheduleKind(setup.schedule_late_s)),
    TriggerKindSpec("mqtt", "MQTT", lambda _: MqttKind()),
    TriggerKindSpec("email", "email", lambda _: EmailKind()),
)
"""The kinds of ``tav.nodes.builtin.triggers``."""


class Kinds(Mapping[str, TriggerKind]):
    """The kinds one manager arms, by name, built from their records; a record with no
    ``make`` is known but arms nothing (``by_hand``)."""

    def __init__(self, specs: Iterable[TriggerKindSpec], setup: KindSetup) -> None:
        self.specs: dict[str, TriggerKindSpec] = {}
        for spec in specs:
            if spec.name in self.specs and self.specs[spec.name] is not spec:
                raise ValueError(f"trigger kind {spec.name!r} is defined twice")
            self.specs[spec.name] = spec
        self._armed = {s.name: s.make(setup) for s in self.specs.values() if s.make is not None}

    def __getitem__(self, name: str) -> TriggerKind:
        return self._armed[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._armed)

    def __len__(self) -> int:
        return len(self._armed)

    def everywhere(self, name: str) -> bool:
        """Whether every API process arms triggers of kind ``name`` (not the leader only)."""
        spec = self.specs.get(name)
        return spec is not None and spec.everywhere

    def by_hand(self, name: str) -> bool:
        """Whether ``name`` is a known kind that runs only by hand (``manual``)."""
        spec = self.specs.get(name)
        return spec is not None and spec.make is None

    def armable_titles(self) -> str:
        """The kinds that can be armed, for a sentence: "webhook, schedule, MQTT or email"."""
        titles = [self.specs[name].title for name in self._armed]
        return " or ".join(filter(None, [", ".join(titles[:-1]), *titles[-1:]]))


def default_kinds(
    routes: WebhookRoutes,
    specs: Iterable[TriggerKindSpec] = BUILTIN_KINDS,
    *,
    schedule_late_s: float = LATE_S,
) -> Kinds:
    """The kinds of ``specs`` (the built-ins by default), webhooks served from ``routes``."""
    return Kinds(specs, KindSetup(webhooks=routes, schedule_late_s=schedule_late_s))
