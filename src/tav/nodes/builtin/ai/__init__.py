"""AI nodes: chat, structured output, classification, agents, embeddings and RAG.

They speak ``tav.nodes.ai``'s provider-neutral types; the host supplies the models and
collections (``tav.ai``, ``tav.storage.vectors``)."""

from tav.nodes.base import Node
from tav.nodes.builtin.ai.agent import Agent
from tav.nodes.builtin.ai.chat import LLMChat
from tav.nodes.builtin.ai.classify import Classify
from tav.nodes.builtin.ai.rag import RagAnswer
from tav.nodes.builtin.ai.structured import Structured
from tav.nodes.builtin.ai.text import TextSplit
from tav.nodes.builtin.ai.vectors import Embed, VectorSearch, VectorUpsert

AI_NODE_TYPES: list[type[Node]] = [
    LLMChat,
    Structured,
    Classify,
    Agent,
    TextSplit,
    Embed,
    VectorUpsert,
    VectorSearch,
    RagAnswer,
]
