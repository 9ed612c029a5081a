"""Queue mode's broker, as the processes that publish to it see it: Celery's client side
(executions published by id) and the live relay of events between processes.

Imported only in queue mode (``TAV_QUEUE_URL``): a single-process server never imports
Celery. The workers' side (the Celery worker and its tasks) is ``tav.queue``.
"""
