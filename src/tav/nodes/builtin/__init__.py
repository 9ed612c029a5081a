"""The built-in node types, one small module per family."""

from tav.nodes.base import Node
from tav.nodes.builtin.ai import AI_NODE_TYPES
from tav.nodes.builtin.core.data import Output, Set
from tav.nodes.builtin.core.flow import Fail, If, Merge, Noop, Switch
from tav.nodes.builtin.core.http import HttpRequest
from tav.nodes.builtin.core.timing import Delay
from tav.nodes.builtin.core.workflows import Map, Subworkflow
from tav.nodes.builtin.triggers.manual import ManualTrigger

BUILTIN_NODE_TYPES: list[type[Node]] = [
    ManualTrigger,
    Set,
    If,
    Switch,
    Merge,
    Delay,
    Noop,
    Fail,
    HttpRequest,
    Output,
    Subworkflow,
    Map,
    *AI_NODE_TYPES,
]
