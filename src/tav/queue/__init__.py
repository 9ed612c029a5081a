"""Queue mode's workers: the Celery worker (``tav worker``) and what it runs.

A worker is a Celery worker process whose tasks hand each execution to one long-lived
asyncio event loop (``tav.queue.loop``), where a ``Runner`` claims it with a lease,
resumes it from its settled nodes through the same composition root as ``tav serve``
(``tav.app.root.build``), renews the lease while it runs and fences its writes.
"""
