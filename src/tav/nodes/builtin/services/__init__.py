"""Service nodes: mail, chat messages, MQTT and signed webhooks (``tav.nodes.services``
says what they ask of the host; ``tav.services`` implements it)."""
