"""What a host supplies to nodes: ``HostServices``, and the ``Requirement``\\s nodes declare.

A host (the server, ``tav run``, a worker, a test) builds one ``HostServices`` and hands it
to its ``Executor``; a field left ``None`` is a service this host does not provide. A node
type names the services it cannot run without in ``requires`` (its capabilities add
theirs), and compiling a workflow reports every node whose requirements the host lacks, so
a workflow that cannot run on this host is refused before anything runs, with the node
named. Node code reaches a required service with ``ctx.service(FILES)``, typed by the
requirement; services a node can do without are read from ``ctx.services``
(``ctx.services.http``).

Rejected: a mapping from protocol type to implementation, looked up at run time
(``ctx.service(Files)``): nothing said before a run what a node would ask for, a missing
service was found only when the node ran, and a lookup by an abstract type cannot be typed
(mypy refuses ``type[Protocol]`` arguments). Dagster checks an op's required resources
when the job is defined for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from tav.core.waits import WaitRequest
from tav.nodes.ai import ChatModels, Embeddings, TextSplitter, VectorStores, WorkflowCatalog
from tav.nodes.code import CodeRunner
from tav.nodes.mcp import McpClients
from tav.nodes.outbound.policy import OutboundPolicy
from tav.nodes.services import Discord, Mailer, MqttPublisher, Slack, Telegram, Webhooks

if TYPE_CHECKING:
    import httpx

    from tav.nodes.outbound.session import OutboundSession

T = TypeVar("T")


class Files(Protocol):
    """Files under the data dir; supplied by the host.

    A stored file travels along edges as a MediaFormat value whose ``uri`` is
    ``file:<id>`` (``metadata.url`` is where to download it); ``read`` takes that uri back.
    """

    async def write(self, data: bytes, *, name: str, mime_type: str) -> dict[str, Any]:
        """Store an export (``files/exports``); returns its file value."""
        ...

    async def read(self, uri: str) -> bytes:
        """The content of the stored file ``uri`` (``file:<id>``); ``NodeError``
        (``file_not_found``) when there is none."""
        ...

    async def save(
        self,
        data: bytes,
        *,
        name: str,
        mime_type: str | None = None,
        execution_id: str | None = None,
        export: bool = False,
    ) -> dict[str, Any]:
        """Store ``data`` and return its file value: a file of the execution
        ``execution_id`` (``files/executions/<id>``, deleted with it), or with ``export`` an
        export (``files/exports``, kept until deleted). ``mime_type`` ``None``: detected
        from the content, else from the name."""
        ...


class Waits(Protocol):
    """Durable waits (``tav.app.waits``): where a parked node's wait is kept, and the
    links that resume it."""

    async def open(self, execution_id: str, node_id: str, request: WaitRequest) -> None:
        """Keep the wait of ``node_id`` (once: opening it again changes nothing)."""
        ...

    def url(self, execution_id: str, node_id: str) -> str:
        """The resume link of the wait ``node_id`` will open, known before it does."""
        ...

    async def detach(
        self, execution_id: str, document: dict[str, Any], input: Any, source: str | None = None
    ) -> None:
        """Keep what the child execution ``execution_id``, which parked, runs (its
        workflow's document and its input; ``source``: where the document came from, as
        the loader said), for whichever process resumes it on its own once its waits are
        decided."""
        ...


@dataclass(frozen=True, slots=True)
class PdfFonts:
    """Font files PDF exports write text in (``TAV_PDF_FONT``): TrueType, OpenType, or the
    first face of a collection. The first is the body font, the others fallbacks for the
    characters it lacks; the system's fonts come after them. Empty: the system's only."""

    files: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HostServices:
    """What a host supplies to nodes: one field per service; ``None``: not provided."""

    http: httpx.AsyncClient | None = None
    """The shared client the service clients and custom nodes send through, under
    ``outbound`` (``tav.nodes.outbound.client``); nodes without it make their own under
    ``outbound``."""
    http_session: OutboundSession | None = None
    """The shared session ``core.http_request`` sends through, under ``outbound``; without
    it, the node makes its own under ``outbound``."""
    outbound: OutboundPolicy = field(default_factory=OutboundPolicy)
    """What requests made for workflows may reach (``TAV_OUTBOUND_*``)."""
    chat_models: ChatModels | None = None
    embeddings: Embeddings | None = None
    vector_stores: VectorStores | None = None
    text_splitter: TextSplitter | None = None
    workflows: WorkflowCatalog | None = None
    files: Files | None = None
    mailer: Mailer | None = None
    slack: Slack | None = None
    discord: Discord | None = None
    telegram: Telegram | None = None
    mqtt: MqttPublisher | None = None
    webhooks: Webhooks | None = None
    waits: Waits | None = None
    """Durable waits: a host that stores executions keeps them (``ctx.park``)."""
    code: CodeRunner | None = None
    """Runs authors' code out of process, in a sandbox (``code.python``)."""
    mcp: McpClients | None = None
    """Connections to MCP servers, kept per credential (``mcp.call_tool``, ``ai.agent``)."""
    pdf_fonts: PdfFonts = field(default_factory=PdfFonts)


@dataclass(frozen=True, slots=True)
class Requirement(Generic[T]):
    """A service a node type cannot run without: ``name`` is its ``HostServices`` field,
    ``title`` what messages call it (``node 'ask' needs chat models, ...``)."""

    name: str
    title: str

    def __post_init__(self) -> None:
        if self.name not in HostServices.__dataclass_fields__:
            raise ValueError(f"a requirement names a field of HostServices, not {self.name!r}")

    def supplied_by(self, services: HostServices) -> T | None:
        """The service ``services`` supplies for this requirement, or ``None``."""
        found: T | None = getattr(services, self.name)
        return found


HTTP: Requirement[httpx.AsyncClient] = Requirement("http", "an HTTP client")
CHAT_MODELS: Requirement[ChatModels] = Requirement("chat_models", "chat models")
EMBEDDINGS: Requirement[Embeddings] = Requirement("embeddings", "embedding models")
VECTOR_STORES: Requirement[VectorStores] = Requirement("vector_stores", "vector stores")
TEXT_SPLITTER: Requirement[TextSplitter] = Requirement("text_splitter", "a text splitter")
WORKFLOWS: Requirement[WorkflowCatalog] = Requirement("workflows", "stored workflows")
FILES: Requirement[Files] = Requirement("files", "stored files")
MAILER: Requirement[Mailer] = Requirement("mailer", "a mail client")
SLACK: Requirement[Slack] = Requirement("slack", "a Slack client")
DISCORD: Requirement[Discord] = Requirement("discord", "a Discord client")
TELEGRAM: Requirement[Telegram] = Requirement("telegram", "a Telegram client")
MQTT: Requirement[MqttPublisher] = Requirement("mqtt", "an MQTT client")
WEBHOOKS: Requirement[Webhooks] = Requirement("webhooks", "a webhook sender")
WAITS: Requirement[Waits] = Requirement("waits", "durable waits (a server or a data dir)")
CODE: Requirement[CodeRunner] = Requirement("code", "a code sandbox")
MCP: Requirement[McpClients] = Requirement("mcp", "MCP clients")


def missing(requires: tuple[Requirement[Any], ...], services: HostServices) -> list[str]:
    """Titles of the requirements ``services`` does not supply, in declared order."""
    return [req.title for req in requires if req.supplied_by(services) is None]
