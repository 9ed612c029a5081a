"""The ``Node`` base class: what a node type declares and the one method it implements.

A node type is a class with a ``spec`` (stable type id, version, title, category), a
Pydantic ``Params`` model (its JSON Schema drives the editor's form), named input and
output ``Port``\\s, an optional resource ``pool``, the host services it ``requires``, and
``async def run``. ``run`` returns a
dict from output port to value; a port left out stays inactive, and so do the edges
from it — that is how branching works.

Classes are checked when they are defined, so a mistake fails at import with a message
that names the class, not later in the middle of an execution.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from tav.core.model import Model
from tav.core.workflow import RetryPolicy
from tav.nodes.host import Requirement

if TYPE_CHECKING:
    from tav.nodes.context import NodeContext

TYPE_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
PORT_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")

Outputs = dict[str, Any]
"""What ``run`` returns: output port name → value. Ports left out stay inactive."""

ParamsMigration = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """Identity and presentation of a node type."""

    type: str
    version: int = 1
    title: str = ""
    category: str = "core"
    description: str = ""
    icon: str = "box"


@dataclass(frozen=True, slots=True)
class Port:
    """A named input or output of a node type.

    For inputs, ``required`` ports must receive a value on at least one active edge or the
    node is skipped; a ``many`` port receives the list of every value that arrived (in the
    document's edge order) instead of the first. ``schema`` describes the port's values as
    a JSON Schema, or as a Pydantic model whose schema is generated when the catalog is
    read (generating it at import would build the model there).
    """

    description: str = ""
    required: bool = True
    many: bool = False
    schema: dict[str, Any] | type[BaseModel] | None = field(default=None, compare=False)

    def json_schema(self) -> dict[str, Any] | None:
        """The port's values as a JSON Schema, if described."""
        if isinstance(self.schema, type):
            return self.schema.model_json_schema()
        return self.schema


class NoParams(Model):
    """Params of a node type that takes none."""

    model_config = ConfigDict(extra="forbid")


class Node:
    """Base class of every node type.

    Subclass it, set ``spec`` and implement ``run``; see docs/architecture/nodes.md.
    Intermediate base classes pass ``abstract=True`` in their class statement.
    """

    spec: ClassVar[NodeSpec]
    Params: ClassVar[type[BaseModel]] = NoParams
    inputs: ClassVar[dict[str, Port]] = {"input": Port()}
    outputs: ClassVar[dict[str, Port]] = {"output": Port()}
    pool: ClassVar[str | None] = None
    """Named concurrency pool the node runs in (``http``, ``llm``, ``cpu`` or custom)."""
    default_retry: ClassVar[RetryPolicy | None] = None
    """Retry policy used when a workflow sets none for the node."""
    raw_params: ClassVar[frozenset[str]] = frozenset()
    """Params whose strings are passed as written instead of rendered as templates."""
    max_per_workflow: ClassVar[int | None] = None
    migrations: ClassVar[dict[int, ParamsMigration]] = {}
    """``{N: f}``: ``f`` turns params written for version N into params for version N+1."""
    requires: ClassVar[tuple[Requirement[Any], ...]] = ()
    """Host services the node cannot run without (``tav.nodes.host``: ``FILES``, ...), on
    top of its capabilities' (``LLMCapability`` requires ``CHAT_MODELS``); compiling a
    workflow refuses it on a host that lacks one. After the class statement, this holds
    them all."""

    def __init_subclass__(cls, abstract: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.requires = _requirements(cls)
        if not abstract:
            _check_node_class(cls)

    @classmethod
    def output_ports(cls, params: BaseModel | None) -> dict[str, Port]:
        """Output ports for these params; override when ports derive from params.

        ``params`` is ``None`` when the params are not known (invalid, or templated).
        """
        return cls.outputs

    @classmethod
    def describe(cls) -> str:
        return cls.spec.description or inspect.cleandoc(cls.__doc__ or "")

    async def run(self, params: Any, input: Any, ctx: NodeContext) -> Outputs:
        """Do the node's work; return its outputs by port."""
        raise NotImplementedError


def _requirements(cls: type[Node]) -> tuple[Requirement[Any], ...]:
    """What ``cls``, its bases and its capabilities declare in ``requires``, once each."""
    found: dict[Requirement[Any], None] = {}
    for klass in reversed(cls.__mro__):
        for requirement in vars(klass).get("requires", ()):
            if not isinstance(requirement, Requirement):
                raise TypeError(
                    f"node class {cls.__module__}.{cls.__qualname__}: requires must list "
                    f"requirements from tav.nodes.host (FILES, CHAT_MODELS, ...), not "
                    f"{requirement!r}"
                )
            found[requirement] = None
    return tuple(found)


def _check_node_class(cls: type[Node]) -> None:
    name = f"{cls.__module__}.{cls.__qualname__}"

    def fail(message: str) -> None:
        raise TypeError(f"node class {name}: {message}")

    spec = cls.__dict__.get("spec")
    if not isinstance(spec, NodeSpec):
        fail("needs `spec = NodeSpec(type=..., ...)` in its class body")
        return
    if not TYPE_ID_PATTERN.match(spec.type):
        fail(f"type id {spec.type!r} must look like 'family.name' (lowercase, dots)")
    if spec.version < 1:
        fail("spec.version must be 1 or more")
    if not (isinstance(cls.Params, type) and issubclass(cls.Params, BaseModel)):
        fail("Params must be a pydantic BaseModel subclass")
    if not inspect.iscoroutinefunction(cls.run) or cls.run is Node.run:
        fail("must implement `async def run(self, params, input, ctx)`")
    for kind, ports in (("input", cls.inputs), ("output", cls.outputs)):
        for port_name, port in ports.items():
            if not PORT_PATTERN.match(port_name) or not isinstance(port, Port):
                fail(f"{kind} port {port_name!r} must be a Port with a simple name")
    missing = [v for v in range(1, spec.version) if v not in cls.migrations]
    if cls.migrations and missing:
        fail(f"migrations must cover every older version; missing {missing}")
    if not spec.title:
        cls.spec = replace(spec, title=spec.type.rpartition(".")[2].replace("_", " ").title())
