"""The node SDK: base class, ports, context, capabilities, registry and built-in nodes.

A node type is one small class; see docs/architecture/nodes.md.
"""

from tav.core.errors import NodeError, OperationalError
from tav.nodes.base import Node, NodeSpec, Outputs, Port
from tav.nodes.context import Arrival, Inputs, NodeContext

__all__ = [
    "Arrival",
    "Inputs",
    "Node",
    "NodeContext",
    "NodeError",
    "NodeSpec",
    "OperationalError",
    "Outputs",
    "Port",
]
