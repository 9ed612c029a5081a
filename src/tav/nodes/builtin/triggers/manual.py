"""``trigger.manual``: start a run by hand (editor, API or ``tav run``)."""

from __future__ import annotations

from tav.nodes.base import Node, NodeSpec, Port
from tav.nodes.capabilities import TriggerCapability


class ManualTrigger(TriggerCapability, Node):
    """Starts the workflow by hand; outputs the run's input payload."""

    spec = NodeSpec(type="trigger.manual", title="Manual trigger", category="triggers", icon="play")
    outputs = {"output": Port("The run's input payload.")}
