"""The Celery application both sides share: its configuration and the task's name.

The API process never imports the worker's task code: it publishes by name
(``send_task``), carrying the execution's id only (the rest is in its committed row).

Configuration (why each):
- ``task_acks_late`` with ``task_reject_on_worker_lost``: a task is acknowledged once it
  ran, so a worker that dies mid-execution leaves the message to the broker for another
  one (RabbitMQ redelivers when the connection closes, Redis after its visibility
  timeout; the sweeper's republishing of expired leases does not wait for that).
- ``worker_prefetch_multiplier = 1``: a worker reserves no more tasks than it runs.
- Publishing neither retries nor waits past ``publish_timeout_s``: a request must never
  hang on a broker that is down; the sweeper publishes what could not be published.
- No result backend: results are in the database.
- ``worker_disable_rate_limits``: no task has a rate limit, so the worker skips the
  token bucket it would consult for each task.
"""

from __future__ import annotations

from celery import Celery

RUN_EXECUTION = "tav.run_execution"
QUEUE = "tav.executions"
VISIBILITY_TIMEOUT_S = 3600


def make_app(url: str, *, publish_timeout_s: float) -> Celery:
    app = Celery("tav", broker=url, set_as_current=False)
    transport: dict[str, float] = {"visibility_timeout": VISIBILITY_TIMEOUT_S}
    if url.startswith(("redis", "rediss")):
        transport |= {
            "socket_connect_timeout": publish_timeout_s,
            "socket_timeout": publish_timeout_s,
        }
    app.conf.update(
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        worker_disable_rate_limits=True,
        broker_connection_timeout=publish_timeout_s,
        broker_connection_retry_on_startup=True,
        broker_transport_options=transport,
        broker_heartbeat=10,
        task_serializer="json",
        accept_content=["json"],
        enable_utc=True,
    )
    return app
