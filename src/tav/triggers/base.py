"""What every kind of trigger shares: its armed form and what it may use.

An *activation* is what a trigger node's ``activation(params)`` says (its kind and
settings); a kind turns it into an ``Armed`` trigger while the workflow is active: a
background task (schedule, MQTT subscription, mailbox poller) or an entry in a table (a
webhook path). ``TriggerKind`` is the small interface each module implements.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from tav.core.errors import NotFound, Problem
from tav.core.modes import ExecutionMode
from tav.triggers.clock import Clock
from tav.triggers.ports import (
    Credentials,
    Launcher,
    ReceivedFiles,
    StateStore,
    TriggeredWorkflow,
)

logger = logging.getLogger("tav.triggers")


class Refusal(StrEnum):
    """Why a workflow cannot be activated: the stable ``code`` of each problem of an
    ``ActivationInvalid`` (and of each entry of its API error's ``details``)."""

    NO_TRIGGER = "no_trigger"
    """No trigger node of a kind that arms: only ``trigger.manual``, or none at all."""
    KIND_UNKNOWN = "trigger_kind_unknown"
    """A trigger node names a kind this server does not know (a plugin not installed)."""
    TEMPLATED = "trigger_templated"
    """A trigger's params hold a template: a trigger is armed before any run exists."""
    PARAMS_INVALID = "trigger_params_invalid"
    """The trigger's kind refuses its params."""
    CREDENTIAL_MISSING = "credential_missing"
    """The credential a trigger names does not exist."""
    CREDENTIAL_KIND = "credential_kind"
    """The credential a trigger names is of a kind the trigger cannot use."""
    TRIGGER_INVALID = "trigger_invalid"
    """Any other reason a trigger's kind gives for not arming it (a plugin's)."""


class ActivationInvalid(Exception):
    """The workflow cannot be activated as it is (no trigger to arm, bad settings).

    ``problems`` are located problems (``Problem.to_dict()``), each with its ``code``
    (a ``Refusal``); the message is the first one's. A kind's ``check`` may raise it with
    a message only: the manager locates it on the trigger node."""

    def __init__(
        self,
        message: str,
        problems: list[dict[str, Any]] | None = None,
        *,
        code: Refusal = Refusal.TRIGGER_INVALID,
    ) -> None:
        super().__init__(message)
        self.problems = problems or [refusal(code, message)]

    @classmethod
    def of(cls, problems: list[dict[str, Any]]) -> ActivationInvalid:
        return cls(problems[0]["message"], problems)

    def at(self, node_id: str) -> ActivationInvalid:
        """The same refusal, its unlocated problems placed on node ``node_id``."""
        return ActivationInvalid.of(
            [
                p if p.get("node") else refusal(p["code"], p["message"], node_id)
                for p in self.problems
            ]
        )


def refusal(code: Refusal, message: str, node: str | None = None) -> dict[str, Any]:
    """One problem of an ``ActivationInvalid``: where, what, and its stable code."""
    return {**Problem(message, node=node).to_dict(), "code": str(code)}


class TriggerClash(Exception):
    """Another active workflow already holds something only one may hold (a webhook
    method and path)."""

    def __init__(self, claim: str, workflow_id: str, workflow_name: str) -> None:
        super().__init__(
            f"{claim} is already used by active workflow {workflow_name!r} ({workflow_id})"
        )
        self.claim = claim
        self.workflow_id = workflow_id
        self.workflow_name = workflow_name


@dataclass(frozen=True)
class Activation:
    """One trigger node of a workflow, as it is armed."""

    node_id: str
    kind: str
    config: Any
    """The node's params, validated (``WebhookParams``, ``ScheduleParams``, ...)."""
    claims: frozenset[str]
    """What no other active workflow may hold at the same time."""


@dataclass(frozen=True)
class Host:
    """What armed triggers use: the clock, the launcher, their state, credentials."""

    launcher: Launcher
    state: StateStore
    credentials: Credentials
    clock: Clock
    files: ReceivedFiles
    """Where large email attachments are kept (the file store)."""


@dataclass(frozen=True)
class Target:
    """What a trigger starts: this workflow, with the other trigger nodes skipped."""

    workflow: TriggeredWorkflow
    node_id: str
    skip: frozenset[str]

    async def launch(self, host: Host, payload: Any, mode: ExecutionMode) -> Any:
        """Start a run and wait until it is recorded; returns ``Started``."""
        started = await host.launcher.launch(self.workflow, payload, mode=mode, skip=self.skip)
        await started.recorded
        return started


class Armed(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class TriggerKind(Protocol):
    """One kind of trigger (``tav.triggers.webhook``, ``.schedule``, ...)."""

    def parse(self, activation: Mapping[str, Any]) -> Any:
        """The activation's settings, validated; raises ``pydantic.ValidationError``."""
        ...

    def claims(self, config: Any) -> frozenset[str]: ...

    async def check(self, config: Any, host: Host) -> None:
        """Raise ``ActivationInvalid`` if it cannot be armed (a missing credential)."""
        ...

    def arm(self, target: Target, config: Any, host: Host) -> Armed: ...


class Background:
    """An armed trigger that is one background task, cancelled when disarmed."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._task: asyncio.Task[None] | None = None

    def body(self) -> Coroutine[Any, Any, None]:
        raise NotImplementedError

    async def start(self) -> None:
        self._task = asyncio.create_task(self._guarded(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _guarded(self) -> None:
        try:
            await self.body()
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug in the trigger: say so, do not take the server down
            logger.exception("trigger %s stopped", self.name)


async def check_credential(host: Host, credential_id: str, kinds: tuple[str, ...]) -> None:
    """Refuse an activation whose credential is missing or of another kind."""
    try:
        credential = await host.credentials.reveal(credential_id)
    except NotFound:
        raise ActivationInvalid(
            f"there is no credential with id {credential_id!r}", code=Refusal.CREDENTIAL_MISSING
        ) from None
    if credential.kind not in kinds:
        wanted = " or ".join(kinds)
        raise ActivationInvalid(
            f"credential {credential_id!r} is of kind {credential.kind!r}; this trigger "
            f"needs {wanted}",
            code=Refusal.CREDENTIAL_KIND,
        )
