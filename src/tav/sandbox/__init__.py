"""Running authors' code out of process, in a sandbox: the ``code.python`` node's host.

``SandboxRunner`` (``tav.nodes.code.CodeRunner``) runs a job in a fresh interpreter under
bubblewrap: its own user, PID, IPC, UTS, cgroup and network namespaces (no network unless
the node asks and ``TAV_CODE_ALLOW_NETWORK`` allows), a read-only view of only what Python
needs (``view``, ``elf``), a private ``/tmp``, the user ``nobody``, no new privileges, a
seccomp filter (``seccomp``), and limits on time, CPU, memory, processes, open files and
output (``config.Limits``), set by the interpreter on itself before the code runs
(``entry``). Interpreters are started ahead of need (``warm``), each for one job
(``process``).

Rejected:

- ``exec`` in the server, or a subinterpreter: the code would share the server's memory,
  files and secrets; Python offers no sandbox inside a process (CVE-2025-3248 and its kin).
- One sandboxed interpreter forking a child per job: a fork is cheaper than a start, but
  the children would share a ``/tmp``, a PID namespace (one run could watch or signal
  another), an IPC namespace (System V memory outlives a process) and a network namespace;
  cleaning between jobs, or giving each child namespaces of its own, would redo
  bubblewrap's work in our code, where a slip leaks one run's data to the next.
- A seccomp filter that allows a list of calls (Dify's): a C library that uses a call the
  list lacks breaks code with "operation not permitted" (dify-sandbox #171, #274). The
  filter here refuses a short list of calls instead, the ones containers refuse.
- Containers (Docker, gVisor): a daemon, or root, and hundreds of milliseconds a run.
"""
