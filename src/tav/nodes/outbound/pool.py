"""httpcore's connection pool, with its bookkeeping linear in the connections it holds.

httpcore (1.0) re-examines the whole pool each time a request enters or leaves it. It asks
every connection whether it has expired, which for an idle one polls its socket through
anyio's attribute lookup (tens of microseconds), and, for each idle connection, counts all
the connections again. With 50 requests in flight to one host that is quadratic: some
100,000 calls per 50 requests, more CPU than the requests themselves (measured with the
list form of ``core.http_request``, ``bench/fanout.py``). It also counts every connection,
not only the idle ones, against ``max_keepalive_connections``, so a burst wider than that
closes its connections and opens them again the next time.

``LinearPool.assign`` does the same work with one pass over the connections:

- closed connections are dropped, as before (when a request comes, or at a sweep: a pass
  with no request waiting and no idle surplus possible does nothing);
- idle connections beyond ``max_keepalive_connections`` are closed, oldest first (the
  idle ones are counted, not all of them);
- whether an idle connection has expired (its keep-alive ran out, or the server closed
  it) is asked when it is about to be reused, and of every idle connection at most once
  per ``SWEEP_S``, rather than of every connection at every request;
- a queued request gets an idle connection to its origin, else any connection that can
  take it (HTTP/2), else a new one, else an idle connection is closed for a new one: the
  order httpcore follows;
- an idle connection already given to a request is not given to another one before that
  request's task takes it (httpcore's pool does, and the second request, finding it
  busy, asks again: with many requests at once, many times).

``pool_class(core)`` is that pool for an httpcore module (httpcore or httpcore2), or
httpcore's own pool when the module does not have the internals it relies on (a future
httpcore): slower, never wrong.

Rejected: raising ``max_keepalive_connections`` alone (the quadratic scans remain, and
grow with the idle connections kept), and a pool of our own under httpx's transport (it
would have to reimplement HTTP/1.1 and HTTP/2 connection handling that httpcore has).
"""

from __future__ import annotations

import functools
import time
from types import ModuleType
from typing import Any

SWEEP_S = 1.0
"""How often, at most, every idle connection is asked whether it has expired."""
_INTERNALS = ("_connections", "_requests", "_max_connections", "_max_keepalive_connections")


@functools.cache
def pool_class(core: ModuleType) -> type[Any]:
    """A ``LinearPool`` made for ``core`` (httpcore or httpcore2), or its own pool."""
    base = core.AsyncConnectionPool
    probe = base.__new__(base)
    base.__init__(probe)
    if not all(hasattr(probe, name) for name in _INTERNALS) or not hasattr(
        base, "_assign_requests_to_connections"
    ):
        return base  # type: ignore[no-any-return]
    return type("LinearPool", (LinearPool, base), {})


class LinearPool:
    """Mixed into httpcore's ``AsyncConnectionPool`` by ``pool_class``."""

    _connections: list[Any]
    _requests: list[Any]
    _max_connections: int
    _max_keepalive_connections: int
    _next_sweep: float = 0.0
    create_connection: Any  # httpcore's: (origin) -> a new connection

    def _assign_requests_to_connections(self) -> list[Any]:
        """Drop closed connections, close expired and surplus idle ones, and give each
        queued request a connection; returns the connections to close."""
        queued = [r for r in self._requests if r.is_queued()]
        surplus_possible = len(self._connections) > self._max_keepalive_connections
        if not (queued or surplus_possible) and time.monotonic() < self._next_sweep:
            return []  # a response ended: nothing to give, no idle surplus possible
        closing: list[Any] = []
        idle = self._sorted(closing)
        for request in queued:
            origin = request.request.url.origin
            connection = self._reusable(origin, idle, closing) or self._shared(origin)
            if connection is None:
                if len(self._connections) >= self._max_connections:
                    if not idle:
                        continue  # the request waits for a connection to come back
                    victim = idle.pop(0)
                    self._connections.remove(victim)
                    closing.append(victim)
                connection = self.create_connection(origin)
                self._connections.append(connection)
            request.assign_to_connection(connection)
        return closing

    def _sorted(self, closing: list[Any]) -> list[Any]:
        """Keep the open connections, closing expired and surplus idle ones; returns the
        idle ones kept, oldest first."""
        now = time.monotonic()
        sweep = now >= self._next_sweep
        if sweep:
            self._next_sweep = now + SWEEP_S
        # An idle connection given to a request whose task has not taken it yet is not
        # idle for long: offered again, it would be given to a second request too, which
        # then finds it busy and asks again (httpcore's own pool does that).
        taken = {id(r.connection) for r in self._requests if r.connection is not None}
        kept: list[Any] = []
        idle: list[Any] = []
        for connection in self._connections:
            if connection.is_closed():
                continue
            if connection.is_idle() and id(connection) not in taken:
                if sweep and connection.has_expired():
                    closing.append(connection)
                    continue
                idle.append(connection)
            kept.append(connection)
        surplus = len(idle) - self._max_keepalive_connections
        if surplus > 0:
            closing.extend(idle[:surplus])
            dropped = {id(connection) for connection in idle[:surplus]}
            kept = [connection for connection in kept if id(connection) not in dropped]
            idle = idle[surplus:]
        self._connections = kept
        return idle

    def _reusable(self, origin: Any, idle: list[Any], closing: list[Any]) -> Any:
        """An idle connection to ``origin`` that has not expired, taken out of ``idle``;
        expired ones met on the way are closed."""
        for connection in list(idle):
            if not (connection.can_handle_request(origin) and connection.is_available()):
                continue
            idle.remove(connection)
            if connection.has_expired():
                self._connections.remove(connection)
                closing.append(connection)
                continue
            return connection
        return None

    def _shared(self, origin: Any) -> Any:
        """A busy connection that can take one more request to ``origin`` (HTTP/2)."""
        for connection in self._connections:
            if (
                not connection.is_idle()
                and connection.can_handle_request(origin)
                and connection.is_available()
            ):
                return connection
        return None
