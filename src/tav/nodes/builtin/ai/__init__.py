"""AI nodes: chat, structured output, classification, agents, embeddings and RAG.

They speak ``tav.nodes.ai``'s provider-neutral types; the host supplies the models and
collections (``tav.ai``, ``tav.storage.vectors``)."""

from tav.nodes.base import Node
from tav.nodes.builtin.ai.agent import Agent
from tav.nodes.builtin.ai.classify import Classify
from tav.nodes.builtin.ai.structured import Structured

AI_NODE_TYPES: list[type[Node]] = [Structured, Classify, Agent]
