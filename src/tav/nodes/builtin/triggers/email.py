"""``trigger.email``: each new message in an IMAP mailbox starts a run."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from tav.core.model import Model
from tav.nodes.base import Node, NodeSpec, Port
from tav.nodes.capabilities import TriggerCapability


class EmailParams(Model):
    model_config = ConfigDict(extra="forbid")

    credential: str = Field(
        min_length=1, max_length=200, description="An imap credential: the server and account."
    )
    mailbox: str = Field("INBOX", min_length=1, max_length=200, description="Folder to watch.")
    poll_interval_s: float = Field(60, ge=0.1, le=86400, description="Seconds between polls.")
    mark_seen: bool = Field(False, description="Mark each message seen once its run started.")


class EmailTrigger(TriggerCapability, Node):
    """Starts the workflow for each new (unseen) message in an IMAP mailbox, while the
    workflow is active. It remembers the messages it has seen across restarts."""

    spec = NodeSpec(type="trigger.email", title="Email (IMAP)", category="triggers", icon="mail")
    Params = EmailParams
    outputs = {"output": Port("The message: {from, to, subject, date, text, html, attachments}.")}
    trigger_kind = "email"
    raw_params = frozenset(EmailParams.model_fields)
