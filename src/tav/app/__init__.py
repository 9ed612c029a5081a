"""The use cases of TAV Engine, as services that the API, the CLI and the triggers call.

``Executions`` (``executions``): start, run from node, retry, cancel, delete, wait until
stored, resume. ``Workflows`` (``workflows``): create, save, restore, (de)activate,
delete, each with its checks and its triggers kept in step. ``RuntimeConfig``
(``settings``): the runtime settings in force, and changing them. ``Plans`` (``plans``):
compiled plans, kept per stored workflow version.

Each service takes its collaborators (repositories, the executor, the writer, the trigger
manager...) in its constructor; the host builds them (``tav.server.Server``). The HTTP
layer only translates: a use case raises domain errors (``tav.core.errors``), and
``tav.api.errors`` answers them with their status.
"""
