"""The built-in node types, one small module per family."""

from tav.nodes.base import Node
from tav.nodes.builtin.ai import AI_NODE_TYPES
from tav.nodes.builtin.core.data import Output, Set
from tav.nodes.builtin.core.flow import Fail, If, Merge, Noop, Switch
from tav.nodes.builtin.core.http import HttpRequest
from tav.nodes.builtin.core.timing import Delay
from tav.nodes.builtin.core.workflows import Map, Subworkflow
from tav.nodes.builtin.export import EXPORT_NODE_TYPES
from tav.nodes.builtin.files import FILE_NODE_TYPES
from tav.nodes.builtin.services import SERVICE_NODE_TYPES
from tav.nodes.builtin.triggers.email import EmailTrigger
from tav.nodes.builtin.triggers.manual import ManualTrigger
from tav.nodes.builtin.triggers.mqtt import MqttTrigger
from tav.nodes.builtin.triggers.schedule import ScheduleTrigger
from tav.nodes.builtin.triggers.webhook import WebhookTrigger

BUILTIN_NODE_TYPES: list[type[Node]] = [
    ManualTrigger,
    WebhookTrigger,
    ScheduleTrigger,
    MqttTrigger,
    EmailTrigger,
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
    *FILE_NODE_TYPES,
    *EXPORT_NODE_TYPES,
    *SERVICE_NODE_TYPES,
]
