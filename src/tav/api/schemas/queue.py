"""Queue mode's state, as ``GET /api/v1/queue`` shows it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class WorkerPublic(BaseModel):
    name: str = Field(description="The worker's Celery name (tav-<pid>@<host>).")
    concurrency: int = Field(description="Executions it runs at once, at most.")
    running: int = Field(description="Executions it runs now.")


class QueuePublic(BaseModel):
    mode: Literal["embedded", "queue"] = Field(
        description="embedded: this process runs every execution (no queue); queue: "
        "workers run them (TAV_QUEUE_URL)."
    )
    broker_up: bool | None = Field(description="The broker answered (queue mode).")
    queued: int = Field(description="Executions waiting for a worker.")
    running: int = Field(description="Executions running on a worker.")
    unpublished: int = Field(
        description="Queued executions the broker has not taken yet: the sweeper publishes "
        "them within seconds of its coming back."
    )
    oldest_queued_age_s: float | None = Field(description="How long the oldest has waited.")
    workers: list[WorkerPublic] = Field(description="The workers that answered.")
    trigger_leader: str | None = Field(
        description="The API process (host:pid) that arms the schedules, MQTT "
        "subscriptions and mailbox pollers of active workflows (webhooks are served by "
        "every one); null while none does (another is taking over)."
    )
    leads_triggers: bool = Field(description="Whether the process that answered leads them.")
