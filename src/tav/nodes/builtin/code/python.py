"""``code.python``: the author's Python, run in the host's sandbox (``tav.sandbox``).

The node hands its code and what the code sees to the host's ``CodeRunner`` and passes on
what comes back: ``main``'s value down ``output``, what the code prints as the node's log
(``node.progress`` events ``{"log": text}``, and the node's logger), and the runner's
``NodeError`` (``code_error`` with the author's line, ``timeout``, ``memory_limit``, ...)
as the node's error. docs/reference/code.md says what the code sees and may do.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from tav.core.model import Model
from tav.nodes.base import Node, NodeSpec, Outputs, Port
from tav.nodes.code import CodeJob
from tav.nodes.context import NodeContext
from tav.nodes.host import CODE
from tav.nodes.params import CODE as CODE_FORMAT

EXAMPLE = """def main(input):
    # input: what arrived on the input port; trigger, vars and nodes are here too
    return {"received": input}
"""


class PythonParams(Model):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(
        EXAMPLE,
        min_length=1,
        max_length=1_000_000,
        description="Python that defines `main(input)`; what it returns (JSON data) goes "
        "down `output`. `trigger`, `vars` and `nodes` are there as templates see them; "
        "`print()` writes to the node's log.",
        json_schema_extra=CODE_FORMAT,
    )
    network: bool = Field(
        False,
        description="Let the code connect to the network, where the server allows it "
        "(TAV_CODE_ALLOW_NETWORK); otherwise it has none.",
    )


class PythonCode(Node):
    """Runs Python in a sandbox: `main(input)` returns the node's output.

    The code runs out of the server's process, as an unprivileged user, with no network
    (unless allowed), no access to the server's files, a private `/tmp`, and limits on
    time, CPU, memory, processes and output; each run starts from a fresh interpreter.
    """

    spec = NodeSpec(type="code.python", title="Python code", category="data", icon="code")
    Params = PythonParams
    outputs = {"output": Port("What main returned.")}
    raw_params = frozenset({"code"})
    pool = "code"
    requires = (CODE,)

    async def run(self, params: PythonParams, input: Any, ctx: NodeContext) -> Outputs:
        job = CodeJob(
            code=params.code,
            input=input,
            trigger=ctx.trigger,
            vars=ctx.vars,
            nodes=ctx.nodes,
            network=params.network,
        )
        log = ctx.log

        def printed(text: str) -> None:
            ctx.progress({"log": text})
            log.info("%s", text.rstrip("\n"))

        return {"output": await ctx.service(CODE).run(job, printed)}
