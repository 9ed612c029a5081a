"""The MCP server itself, on the official SDK: list the offered workflows as tools, and
call one (``tav.app.tools`` has the use cases; this translates them to the protocol).

Stateless streamable HTTP: every request is served on its own, with nothing kept between
requests, so any of several API processes behind a load balancer answers any request
(the "Session not found" of servers that keep sessions in one process's memory cannot
happen). Each request gets its own session manager, entered for that request only: the
manager's task group then never outlives the request, and the app needs no start-up or
shut-down step for it. Responses are SSE streams rather than single JSON bodies
(``json_response`` off): a JSON body carries the result alone, and a tool call's progress
notifications (node started, node finished) ride the same response before its result.

Tool results: a run that succeeded gives its output as text (JSON, or the text itself) and
as structured content (the output if it is an object, else ``{"result": output}``); a run
that failed is a tool error (``isError``) naming the node and its message; arguments the
input schema refuses are a tool error naming the field; a run that parks on a
``core.wait`` ends the call at once, saying what it waits for and the link that decides
it; a run that outlasts ``TAV_MCP_CALL_TIMEOUT_S`` ends the call (a tool error) and goes
on. The execution's id is in the result's ``_meta`` as ``tav/execution_id``.
"""

from __future__ import annotations

import json
from typing import Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError
from starlette.types import Receive, Scope, Send

from tav.api.deps import PRINCIPAL_SCOPE_KEY, Principal
from tav.app.tools import ArgumentsInvalid, Outcome, Step, Tools
from tav.core.errors import NotFound, TavError
from tav.core.roles import Role
from tav.core.states import ExecutionStatus

NAME = "tav"
EXECUTION_META = "tav/execution_id"


class McpServer:
    """The SDK's low-level server over ``tools``, serving one HTTP request at a time."""

    def __init__(self, tools: Tools) -> None:
        self.tools = tools
        self.server: Server[Any] = Server(
            NAME,
            title="TAV Engine",
            instructions="Workflows of this TAV Engine server, offered as tools.",
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        manager = StreamableHTTPSessionManager(self.server, stateless=True, json_response=False)
        async with manager.run():
            await manager.handle_request(scope, receive, send)

    async def _list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        offered = await self.tools.offered()
        return types.ListToolsResult(
            tools=[
                types.Tool(
                    name=tool.name,
                    title=tool.title,
                    description=tool.description or tool.title,
                    input_schema=tool.input_schema,
                )
                for tool in offered
            ]
        )

    async def _call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        principal = _principal(ctx)
        if not principal.role.at_least(Role.editor):
            return _error(
                f"calling a tool runs a workflow, which needs the editor role (or above); "
                f"the API key's role is {principal.role}"
            )
        report = _reporter(ctx) if _wants_progress(ctx) else None
        try:
            outcome = await self.tools.call(
                params.name, params.arguments, by=principal.user, report=report
            )
        except NotFound as error:
            raise MCPError(code=types.INVALID_PARAMS, message=str(error)) from None
        except ArgumentsInvalid as error:
            return _error(f"bad arguments: {error}")
        except TavError as error:  # the workflow cannot run: invalid, server shutting down
            return _error(f"the workflow could not be started: {error}")
        return _result(outcome, self.tools.timeout_s)


def _principal(ctx: ServerRequestContext[Any]) -> Principal:
    """Who calls: what ``McpEndpoint`` found from the API key, in the request's scope."""
    request = ctx.request
    found = request.scope.get(PRINCIPAL_SCOPE_KEY) if request is not None else None
    if not isinstance(found, Principal):  # only a request through McpEndpoint reaches here
        raise MCPError(code=types.INVALID_REQUEST, message="not authenticated")
    return found


def _wants_progress(ctx: ServerRequestContext[Any]) -> bool:
    return ctx.meta is not None and ctx.meta.get("progress_token") is not None


def _reporter(ctx: ServerRequestContext[Any]) -> Any:
    async def report(step: Step) -> None:
        await ctx.session.report_progress(step.settled, step.total or None, step.message)

    return report


def _result(outcome: Outcome, timeout_s: float) -> types.CallToolResult:
    meta = {EXECUTION_META: outcome.execution_id}
    if outcome.timed_out:
        return _error(
            f"the run did not end within {timeout_s:g} s; it goes on as execution "
            f"{outcome.execution_id}",
            meta,
        )
    if outcome.status is ExecutionStatus.WAITING:
        return _waiting(outcome, meta)
    if outcome.status is not ExecutionStatus.SUCCEEDED:
        structured = {"status": str(outcome.status), "node_id": outcome.failed_node}
        return _error(outcome.error or f"the run {outcome.status}", meta, structured)
    output = outcome.output
    text = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
    return types.CallToolResult(
        content=[types.TextContent(text=text)],
        structured_content=output if isinstance(output, dict) else {"result": output},
        _meta=meta,
    )


def _waiting(outcome: Outcome, meta: dict[str, Any]) -> types.CallToolResult:
    lines = [f"The run waits (execution {outcome.execution_id}); it goes on once decided."]
    for wait in outcome.waits:
        what = f' "{wait.title}"' if wait.title else ""
        lines.append(f"- node '{wait.node_id}' waits ({wait.mode}{what}): decide at {wait.url}")
    waits = [
        {"node_id": w.node_id, "mode": w.mode, "title": w.title, "url": w.url}
        for w in outcome.waits
    ]
    return types.CallToolResult(
        content=[types.TextContent(text="\n".join(lines))],
        structured_content={
            "status": "waiting",
            "execution_id": outcome.execution_id,
            "waits": waits,
        },
        _meta=meta,
    )


def _error(
    message: str,
    meta: dict[str, Any] | None = None,
    structured: dict[str, Any] | None = None,
) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=message)],
        structured_content=structured,
        is_error=True,
        _meta=meta,
    )
