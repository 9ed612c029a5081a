"""Service nodes: mail, chat messages, MQTT and signed webhooks (``tav.nodes.services``
says what they ask of the host; ``tav.services`` implements it)."""

from tav.nodes.base import Node
from tav.nodes.builtin.services.chat import (
    DiscordSendMessage,
    SlackPostMessage,
    TelegramSendMessage,
)
from tav.nodes.builtin.services.mail import EmailSend
from tav.nodes.builtin.services.mqtt import MqttPublish
from tav.nodes.builtin.services.webhook import WebhookSend

SERVICE_NODE_TYPES: list[type[Node]] = [
    EmailSend,
    SlackPostMessage,
    DiscordSendMessage,
    TelegramSendMessage,
    MqttPublish,
    WebhookSend,
]
