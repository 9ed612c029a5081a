"""MCP servers' tools, for nodes (``tav.nodes.mcp.McpClients``): one connection per server.

``McpPool`` keeps one connection per ``mcp_server`` credential, made on the first call and
reused by every later call of every execution: for HTTP one MCP session over a kept-alive
HTTP client, for stdio one process started in the code sandbox (``tav.sandbox.command``,
handed in as a ``CommandLauncher``). A connection whose server ended (its process died,
its session closed) is made again on the next call; one unused for ``idle_s`` is closed,
and every one at shutdown. A credential changed since its connection was made gets a new
one.

Each connection lives in a task of its own (the SDK's client is an async context that
must be left in the task that entered it); calls from any execution send requests on it
concurrently, and nothing is shared between servers but the table of connections: a
server that hangs, or whose start hangs, holds up its own calls only, each ending at the
credential's ``call_timeout_s``.

Errors (``tav.nodes.mcp`` lists the types): an ``isError`` result or a JSON-RPC error is
the server's (``mcp_tool_error``, its message); an answer that is not MCP is
``mcp_protocol_error``; no answer in time ``mcp_timeout``; a server that cannot be
reached or started, or ends, ``mcp_unavailable``.

An HTTP server's requests go through the outbound policy as ``core.http_request``'s do
(``_Guarded``: every connection judged and pinned to the address it was judged for), not
only a check of its address when the session starts: a name may resolve elsewhere later.

The SDK's own client (``mcp.Client``) speaks the protocol; the stdio transport is ours
(``_Stdio``) because the SDK's starts a process itself, and a sandboxed start needs
bubblewrap's file descriptors and, as root, the users mapped while it waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol, cast

import anyio
import anyio.abc
import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage
from mcp_types import CONNECTION_CLOSED, INVALID_REQUEST, PARSE_ERROR
from pydantic import ValidationError

from tav.core.errors import NodeError
from tav.nodes.context import Credential
from tav.nodes.mcp import McpResult, McpTool, ServerCommand
from tav.nodes.outbound import HTTPX2, OutboundTransport, Resolver, resolve
from tav.nodes.outbound.errors import OutboundRefused
from tav.nodes.outbound.policy import OutboundPolicy

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 30
"""A connection (or a process's start and handshake) must be made within this, and within
the call's own timeout."""
MAX_LINE_BYTES = 16 * 1024 * 1024
"""Largest message a stdio server may write (one line)."""
SAID_BYTES = 2048
"""What a stdio server wrote to its standard error last, kept for error messages."""
ENDING_WAIT_S = 2
"""How long a stdio server whose output ended is waited for, to tell why it ended."""


class CommandLauncher(Protocol):
    """Starts a stdio server's command (``tav.sandbox.command.CommandSandbox``)."""

    def open(self, command: ServerCommand) -> AbstractAsyncContextManager[anyio.abc.Process]: ...

    def ending(self, command: ServerCommand, returncode: int | None, said: str) -> str | None:
        """Which of its limits the server of ``command`` ran into as it ended (its exit
        status ``returncode``, the end of its standard error ``said``), if that shows."""
        ...


@dataclass(frozen=True, slots=True)
class _Server:
    """What a connection is made from: a credential's data, by name."""

    name: str
    data: Mapping[str, Any]

    @property
    def timeout_s(self) -> float:
        return float(self.data.get("call_timeout_s") or 60)

    @property
    def stdio(self) -> bool:
        return self.data.get("transport") == "stdio"

    def command(self) -> ServerCommand:
        return ServerCommand(
            command=str(self.data["command"]),
            args=tuple(self.data.get("args") or ()),
            env=dict(self.data.get("env") or {}),
            network=bool(self.data.get("network")),
            paths=tuple(self.data.get("paths") or ()),
            memory_mb=self.data.get("memory_mb"),
            cpu_s=self.data.get("cpu_s"),
            max_processes=self.data.get("max_processes"),
        )

    def headers(self) -> dict[str, str]:
        headers = dict(self.data.get("headers") or {})
        token = self.data.get("access_token")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers


def _key(credential: Credential) -> str:
    text = json.dumps(credential.data, sort_keys=True, default=str)
    return f"{credential.id}:{hashlib.sha256(text.encode()).hexdigest()}"


class McpPool:
    """``McpClients``: connections to MCP servers, one per credential."""

    def __init__(
        self,
        *,
        launcher: CommandLauncher | None,
        outbound: OutboundPolicy,
        idle_s: float = 300,
        tools_ttl_s: float = 30,
        resolver: Resolver = resolve,
    ) -> None:
        self._launcher = launcher
        self._outbound = outbound
        self._resolver = resolver
        self._idle_s = idle_s
        self._tools_ttl_s = tools_ttl_s
        self._connections: dict[str, _Connection] = {}
        self._sweeper: asyncio.Task[None] | None = None

    async def list_tools(self, credential: Credential) -> list[McpTool]:
        connection = self._connection(credential)
        server = connection.server
        with connection.using():
            cached = connection.tools
            if cached is not None and cached[0] > time.monotonic():
                return cached[1]
            try:
                async with asyncio.timeout(server.timeout_s):
                    client = await connection.client()
                    tools = await _all_tools(client)
            except TimeoutError:
                raise NodeError(
                    f"MCP server {server.name!r} did not list its tools within "
                    f"{server.timeout_s:g} s",
                    type="mcp_timeout",
                    retryable=True,
                ) from None
            except Exception as exc:
                raise connection.failed(exc, "listing its tools") from None
            connection.tools = (time.monotonic() + self._tools_ttl_s, tools)
            return tools

    async def call_tool(
        self, credential: Credential, tool: str, arguments: Mapping[str, Any]
    ) -> McpResult:
        connection = self._connection(credential)
        server = connection.server
        with connection.using():
            try:
                async with asyncio.timeout(server.timeout_s):
                    client = await connection.client()
                    result = await client.call_tool(tool, dict(arguments))
            except TimeoutError:
                raise NodeError(
                    f"MCP server {server.name!r}: tool {tool!r} did not answer within "
                    f"{server.timeout_s:g} s (the credential's call_timeout_s)",
                    type="mcp_timeout",
                    retryable=True,
                ) from None
            except Exception as exc:
                raise connection.failed(exc, f"calling tool {tool!r}") from None
        content = [_block(block) for block in result.content]
        if result.is_error:
            said = McpResult(content).text or "no message"
            raise NodeError(
                f"MCP server {server.name!r}, tool {tool!r}: {said}", type="mcp_tool_error"
            )
        return McpResult(content=content, structured=result.structured_content)

    async def aclose(self) -> None:
        """Close every connection (and stop every stdio server)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        connections, self._connections = list(self._connections.values()), {}
        await asyncio.gather(*(c.aclose() for c in connections))
        loop = asyncio.get_running_loop()  # (and the sessions being closed already)
        closing = [task for task in _BACKGROUND if task.get_loop() is loop]
        await asyncio.gather(*closing, return_exceptions=True)

    def _connection(self, credential: Credential) -> _Connection:
        if credential.kind != "mcp_server":
            raise NodeError(
                f"credential {credential.name!r} is a {credential.kind!r} credential; an MCP "
                "server is an 'mcp_server' credential",
                type="credential_kind",
            )
        key = _key(credential)
        found = self._connections.get(key)
        if found is not None:
            return found
        for old in [k for k in self._connections if k.startswith(f"{credential.id}:")]:
            _spawn(self._connections.pop(old).aclose())  # the credential changed
        server = _Server(credential.name, dict(credential.data))
        if server.stdio and self._launcher is None:
            raise NodeError(
                f"MCP server {server.name!r} runs a command, and this host runs none",
                type="mcp_not_allowed",
            )
        connection = _Connection(server, self._launcher, self._outbound, self._resolver)
        self._connections[key] = connection
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.create_task(self._sweep(), name="mcp-idle-sweeper")
        return connection

    async def _sweep(self) -> None:
        """Close the connections unused for ``idle_s``."""
        while self._connections:
            await asyncio.sleep(max(self._idle_s / 4, 0.05))
            now = time.monotonic()
            for key, connection in list(self._connections.items()):
                if connection.idle_since is not None and now - connection.idle_since > self._idle_s:
                    del self._connections[key]
                    await connection.aclose()


_BACKGROUND: set[asyncio.Task[None]] = set()


def _spawn(coroutine: Any) -> None:
    task = asyncio.ensure_future(coroutine)
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


class _Connection:
    """One server's session, held open by a task of its own."""

    def __init__(
        self,
        server: _Server,
        launcher: CommandLauncher | None,
        outbound: OutboundPolicy,
        resolver: Resolver,
    ) -> None:
        self.server = server
        self._launcher = launcher
        self._outbound = outbound
        self._resolver = resolver
        self._guarded: _Guarded | None = None
        self._client: Client | None = None
        self._held: tuple[asyncio.Task[None], asyncio.Event] | None = None
        """The task holding the session open, and the event that ends it."""
        self._starting = asyncio.Lock()
        self._stdio: _Stdio | None = None
        self.tools: tuple[float, list[McpTool]] | None = None
        self.in_use = 0
        self.idle_since: float | None = time.monotonic()

    @contextlib.contextmanager
    def using(self) -> Any:
        self.in_use += 1
        self.idle_since = None
        try:
            yield
        finally:
            self.in_use -= 1
            if not self.in_use:
                self.idle_since = time.monotonic()

    @property
    def alive(self) -> bool:
        return self._client is not None and self._held is not None and not self._held[0].done()

    async def client(self) -> Client:
        """The session, made (again) when there is none or its server ended."""
        if self.alive:
            assert self._client is not None
            return self._client
        async with self._starting:
            if self.alive:
                assert self._client is not None
                return self._client
            await self.aclose()
            self.tools = None
            ready: asyncio.Future[Client] = asyncio.get_running_loop().create_future()
            ready.add_done_callback(_retrieved)
            stop = asyncio.Event()
            task = asyncio.create_task(self._hold(ready, stop), name=f"mcp:{self.server.name}")
            self._held = (task, stop)
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    self._client = await asyncio.shield(ready)
            except TimeoutError:
                await self._abandon()
                what = "start" if self.server.stdio else "connect"
                raise NodeError(
                    f"it did not {what} and answer within {CONNECT_TIMEOUT_S} s",
                    type="mcp_timeout",
                    retryable=True,
                ) from None
            except BaseException:
                await self._abandon()
                raise
            return self._client

    async def _abandon(self) -> None:
        """Stop a connection being made (no need to wait for it to end well)."""
        held, self._held = self._held, None
        self._client = None
        if held is not None and not held[0].done():
            held[0].cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await held[0]

    async def _hold(self, ready: asyncio.Future[Client], stop: asyncio.Event) -> None:
        try:
            async with Client(self._transport(), cache=None) as client:
                ready.set_result(client)
                ended = self._stdio.ended if self._stdio is not None else anyio.Event()
                async with anyio.create_task_group() as group:
                    group.start_soon(_set_when, ended, stop)
                    await stop.wait()
                    group.cancel_scope.cancel()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc if isinstance(exc, Exception) else ConnectionError(exc))
            if not isinstance(exc, Exception):
                raise
            log.debug("MCP server %r: its connection ended: %r", self.server.name, exc)

    def _transport(self) -> AbstractAsyncContextManager[Any]:
        if self.server.stdio:
            assert self._launcher is not None
            self._stdio = _Stdio(self._launcher, self.server.command())
            return self._stdio.open()
        self._stdio = None
        return self._http()

    @asynccontextmanager
    async def _http(self) -> AsyncIterator[Any]:
        url = str(self.server.data["url"])
        timeout = httpx2.Timeout(CONNECT_TIMEOUT_S, read=None)
        self._guarded = _Guarded(self._outbound, self._resolver)
        async with (
            httpx2.AsyncClient(
                headers=self.server.headers(),
                timeout=timeout,
                # (an httpx transport made for httpx2's classes: ``flavour``)
                transport=cast(httpx2.AsyncBaseTransport, self._guarded),
                trust_env=False,  # (a proxy would resolve and connect where it likes)
                max_redirects=self._outbound.max_redirects,
            ) as http,
            streamable_http_client(url, http_client=http) as streams,
        ):
            yield streams

    def failed(self, exc: BaseException, doing: str) -> NodeError:
        """The node error for ``exc``, raised while ``doing``; a connection that cannot
        go on is closed (the next call makes it again)."""
        broken = self._stdio.broken if self._stdio is not None else None
        limit = self._stdio.limit if self._stdio is not None else None
        refused = self._guarded.failure if self._guarded is not None else None
        if refused is not None:
            error = _outbound_error(self.server, refused)
        elif limit is not None:
            error = NodeError(
                f"MCP server {self.server.name!r} ended while {doing}: {limit}; it starts "
                "again on the next call",
                type="mcp_unavailable",
                retryable=True,
            )
        elif broken is not None:
            error = NodeError(
                f"MCP server {self.server.name!r} answered what is not MCP while {doing}: {broken}",
                type="mcp_protocol_error",
            )
        else:
            error = _classify(self.server.name, exc, doing, self._said())
        if error.type != "mcp_tool_error":  # the next call makes it again
            held, self._held = self._held, None
            self._client = None
            if held is not None:
                _spawn(self._close(held))
        return error

    def _said(self) -> str:
        if self._stdio is None:
            return ""
        return self._stdio.said()

    async def aclose(self) -> None:
        held, self._held = self._held, None
        self._client = None
        if held is not None:
            await self._close(held)

    async def _close(self, held: tuple[asyncio.Task[None], asyncio.Event]) -> None:
        """End a session: its task leaves the client (a stdio server is stopped)."""
        task, stop = held
        stop.set()
        try:
            async with asyncio.timeout(5):
                await asyncio.shield(task)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        except Exception:  # (it ended with its own error, handled where it was raised)
            log.debug("MCP server %r closed with an error", self.server.name, exc_info=True)


class _Guarded(OutboundTransport):
    """The outbound policy on every request of an HTTP server's session, as on those of
    ``core.http_request``: each new connection (the session's first, one more for
    concurrent requests or once an idle one expired, a redirect's) resolves the name,
    judges the addresses and connects to one it judged, which the connection keeps. A name
    that later resolves to a refused address is refused at the next connection.

    Answers are bounded by ``max_response_bytes`` (decompressed too), but event streams:
    the SDK bounds each of their events, and one lives as long as the session.

    What the policy raised is kept (``failure``): the SDK ends the whole session on an
    error of its transport, and its callers see only that it closed.
    """

    def __init__(self, policy: OutboundPolicy, resolver: Resolver) -> None:
        super().__init__(policy, resolver=resolver, flavour=HTTPX2)
        self.failure: NodeError | None = None

    async def handle_async_request(self, request: Any) -> Any:
        try:
            return await super().handle_async_request(request)
        except NodeError as exc:
            self.failure = exc
            raise

    def _bounded(self, request: Any, response: Any) -> Any:
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            return response
        bounded = super()._bounded(request, response)
        bounded.stream = _Noted(bounded.stream, self)
        return bounded


class _Noted(httpx2.AsyncByteStream):
    """A bounded answer's body; the ``ResponseTooLarge`` it raises is kept as the failure."""

    def __init__(self, stream: Any, guarded: _Guarded) -> None:
        self._stream = stream
        self._guarded = guarded

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except NodeError as exc:
            self._guarded.failure = exc
            raise

    async def aclose(self) -> None:
        await self._stream.aclose()


def _outbound_error(server: _Server, failure: NodeError) -> NodeError:
    where = f"MCP server {server.name!r} ({server.data.get('url')})"
    if isinstance(failure, OutboundRefused):
        return NodeError(f"{where}: {failure.message}", type="mcp_not_allowed")
    return NodeError(f"{where}: {failure.message}", type="mcp_protocol_error")


def _retrieved(future: asyncio.Future[Any]) -> None:
    """A connection's outcome is read even when nobody waits for it any more."""
    if not future.cancelled():
        future.exception()


async def _set_when(ended: anyio.Event, stop: asyncio.Event) -> None:
    await ended.wait()
    stop.set()


async def _all_tools(client: Client) -> list[McpTool]:
    tools: list[McpTool] = []
    cursor: str | None = None
    for _ in range(100):  # (a server that pages for ever)
        page = await client.list_tools(cursor=cursor)
        tools += [
            McpTool(
                name=tool.name,
                description=tool.description or "",
                input_schema=dict(tool.input_schema),
                output_schema=dict(tool.output_schema) if tool.output_schema else None,
                title=tool.title,
            )
            for tool in page.tools
        ]
        cursor = page.next_cursor
        if not cursor:
            break
    return tools


def _block(block: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = block.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _classify(name: str, exc: BaseException, doing: str, said: str) -> NodeError:
    leaves = _leaves(exc)
    known = [leaf for leaf in leaves if isinstance(leaf, NodeError)]
    if known:
        first = known[0]
        return NodeError(
            f"MCP server {name!r}: {first.message}", type=first.type, retryable=first.retryable
        )
    leaf = leaves[0]
    said = " ".join(said.split())[-300:]
    said_text = f"; it said: {said}" if said else ""
    if isinstance(leaf, MCPError):
        if leaf.code == CONNECTION_CLOSED:
            return NodeError(
                f"MCP server {name!r} closed the connection while {doing}{said_text}",
                type="mcp_unavailable",
                retryable=True,
            )
        if leaf.code in (PARSE_ERROR, INVALID_REQUEST):  # what the SDK says of garbage
            return NodeError(
                f"MCP server {name!r} answered what is not MCP while {doing}: {str(leaf)[:300]}",
                type="mcp_protocol_error",
            )
        return NodeError(f"MCP server {name!r}, {doing}: {leaf}", type="mcp_tool_error")
    if isinstance(leaf, httpx2.HTTPStatusError):
        status = leaf.response.status_code
        return NodeError(
            f"MCP server {name!r} answered HTTP {status} while {doing}",
            type="mcp_unavailable",
            retryable=status >= 500 or status == 429,
        )
    if isinstance(leaf, httpx2.TransportError | OSError | ConnectionError | EOFError):
        return NodeError(
            f"MCP server {name!r} cannot be reached while {doing}: {leaf}{said_text}",
            type="mcp_unavailable",
            retryable=True,
        )
    if isinstance(leaf, ValidationError | ValueError | KeyError | TypeError):
        return NodeError(
            f"MCP server {name!r} answered what is not MCP while {doing}: "
            f"{type(leaf).__name__}: {str(leaf)[:300]}",
            type="mcp_protocol_error",
        )
    return NodeError(
        f"MCP server {name!r} failed while {doing}: {type(leaf).__name__}: {leaf}{said_text}",
        type="mcp_protocol_error",
    )


class _Stdio:
    """A stdio server's transport: newline-delimited JSON-RPC on the process's standard
    input and output; what it writes to its standard error is kept (its tail) to explain
    an end."""

    def __init__(self, launcher: CommandLauncher, command: ServerCommand) -> None:
        self._launcher = launcher
        self._command = command
        self._said = bytearray()
        self.ended = anyio.Event()
        self._quiet = anyio.Event()
        """Its standard error ended."""
        self.broken: str | None = None
        """Why the connection was ended: the server wrote what is not a message."""
        self.limit: str | None = None
        """The limit the server ran into as it ended, when that shows."""

    def said(self) -> str:
        return self._said.decode("utf-8", "replace")

    @asynccontextmanager
    async def open(self) -> AsyncIterator[Any]:
        async with self._launcher.open(self._command) as process:
            reader_in, reader_out = anyio.create_memory_object_stream[SessionMessage | Exception](0)
            writer_in, writer_out = anyio.create_memory_object_stream[SessionMessage](0)
            async with anyio.create_task_group() as group:
                group.start_soon(self._read, process, reader_in)
                group.start_soon(self._write, process, writer_out)
                group.start_soon(self._errors, process)
                try:
                    yield reader_out, writer_in
                finally:
                    group.cancel_scope.cancel()
                    for stream in (reader_in, reader_out, writer_in, writer_out):
                        await stream.aclose()

    async def _read(
        self,
        process: anyio.abc.Process,
        out: anyio.abc.ObjectSendStream[SessionMessage | Exception],
    ) -> None:
        assert process.stdout is not None
        buffer = b""
        try:
            async for chunk in process.stdout:
                buffer += chunk
                if len(buffer) > MAX_LINE_BYTES:
                    self.broken = f"a message longer than {MAX_LINE_BYTES} bytes"
                    return
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if not line.strip():
                        continue
                    message = _message(line)
                    if isinstance(message, Exception):  # (the SDK would ignore it)
                        self.broken = f"a line that is not JSON-RPC: {line[:120]!r}"
                        return
                    await out.send(message)
            await self._ending(process)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            pass
        finally:
            self.ended.set()
            await out.aclose()

    async def _ending(self, process: anyio.abc.Process) -> None:
        """Its output ended: which limit it ran into, if that shows, is known before the
        calls waiting for it learn that it ended (bounded: a server may close its output
        and go on)."""
        with anyio.move_on_after(ENDING_WAIT_S):
            await process.wait()
            await self._quiet.wait()
        self.limit = self._launcher.ending(self._command, process.returncode, self.said())

    async def _write(
        self, process: anyio.abc.Process, messages: anyio.abc.ObjectReceiveStream[SessionMessage]
    ) -> None:
        assert process.stdin is not None
        with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            async for message in messages:
                text = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                await process.stdin.send(text.encode() + b"\n")

    async def _errors(self, process: anyio.abc.Process) -> None:
        if process.stderr is None:
            self._quiet.set()
            return
        with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            async for chunk in process.stderr:
                self._said += chunk
                del self._said[:-SAID_BYTES]
        self._quiet.set()


def _message(line: bytes) -> SessionMessage | Exception:
    try:
        return SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValueError as exc:
        return exc
