"""Running authors' code out of process, in a sandbox: the ``code.python`` node's host.

``SandboxRunner`` (``tav.nodes.code.CodeRunner``) runs a job in a fresh interpreter under
bubblewrap: its own user, PID, IPC, UTS and network namespaces (no network unless the
node asks and ``TAV_CODE_ALLOW_NETWORK`` allows), a read-only view of only what Python
needs (``view``), a private ``/tmp``, the user ``nobody``, no new privileges, and limits on
time, CPU, memory, processes, open files and output (``config.Limits``), set by the
interpreter on itself before the code runs (``entry``). Interpreters are started ahead of
need (``warm``), each for one job.

Rejected:

- ``exec`` in the server, or a subinterpreter: the code would share the server's memory,
  files and secrets; Python offers no sandbox inside a process (CVE-2025-3248 and its kin).
- One sandboxed interpreter forking a child per job: faster still, but the children would
  share a ``/tmp``, a PID namespace (one run could watch or signal another) and a network
  namespace; giving each its own would redo bubblewrap's work in our code.
- seccomp filters of our own: bubblewrap and the namespaces stop what the threat model
  asks (docs/reference/code.md) without a list of system calls to keep up to date.
- Containers (Docker, gVisor): a daemon, or root, and hundreds of milliseconds a run.
"""
