"""The application: one composition root, the use cases, and the lifecycles of the
processes that run them.

``root`` builds every part of a process from ``Settings`` (``build``): the database and
its repositories, the vault, the node registry, the bus, the outbound policy and its
clients, the AI services, the executor with its host services, and the use-case
services. ``tav serve``, ``tav run``, ``tav.run_workflow`` and the queue's worker all
start from it.

The use cases, as services that the API, the CLI and the triggers call: ``Executions``
(``executions``): start, run from node, retry, cancel, delete, wait until stored, resume.
``Workflows`` (``workflows``): create, save, restore, (de)activate, delete, each with its
checks and its triggers kept in step. ``RuntimeConfig`` (``settings``): the runtime
settings in force, and changing them. ``Plans`` (``plans``): compiled plans, kept per
stored workflow version. ``StoredWorkflowLoader`` (``loader``): the workflows a node
names. Each takes its collaborators in its constructor, from the root. The HTTP layer only
translates: a use case raises domain errors (``tav.core.errors``), and ``tav.api.errors``
answers them with their status.

The lifecycles: ``server.Server`` (``tav serve``, ``tav run``: migrate, resume, prune,
drain) and ``headless`` (``tav run --no-store``, ``tav.run_workflow``: the execution kept
in memory).
"""
