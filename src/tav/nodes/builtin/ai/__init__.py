"""AI nodes: chat, structured output, classification, agents, embeddings and RAG.

They speak ``tav.nodes.ai``'s provider-neutral types; the host supplies the models and
collections (``tav.ai``, ``tav.storage.vectors``)."""
