"""The one place every customer message passes before the bot, and the one way to reach a conversation.

Every input channel (the website chat, WeChat, ...) hands each incoming message to
:func:`Gateway.receive` instead of calling Rasa's ``on_new_message`` itself. The
gateway

* masks personal numbers (card, ID, phone) before the text reaches the bot, so
  the tracker store, the logs and every later reader only ever see the masked form;
* remembers on which channel each conversation lives, so any component can
  :func:`Gateway.send` to a conversation without knowing the channel;
* lets a human agent take a conversation over (:func:`Gateway.hand_over`): while
  an agent holds it, customer messages go to the agent's listeners instead of the
  bot, and the channel is told so the page can show "connected to a human agent".

Channels register an :class:`Outbound` (how to deliver to one recipient on that
channel) once, at start-up. The gateway lives in the Rasa server's process; one
instance (:data:`gateway`) serves all channels.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage

# One masking rule for both services: the action server masks what it stores with the
# same function, from banktext, which depends on neither service.
from banktext import redact

logger = logging.getLogger(__name__)

Message = dict[str, Any]  # a bot message as Rasa produces it: text, buttons, image, custom ...


class Outbound(Protocol):
    """How a channel delivers messages to one of its recipients outside a reply."""

    async def deliver(self, recipient_id: str, messages: list[Message]) -> None:
        """Send ``messages`` (Rasa bot-message dicts) to ``recipient_id``."""

    async def agent_status(self, recipient_id: str, agent: str | None) -> None:
        """Tell the recipient a human agent (name) took over, or the bot is back (None)."""


@dataclass
class Incoming:
    """A customer's message as a channel received it, before the bot sees it."""

    channel: str
    sender_id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    message_id: str | None = None


InboundHook = Callable[[Incoming], Awaitable[Incoming | None]]
AgentListener = Callable[[Incoming, str], Awaitable[None]]


async def mask_personal_numbers(incoming: Incoming) -> Incoming:
    """The gateway's first hook: card, ID and phone numbers never go further unmasked."""
    incoming.text = redact(incoming.text)
    return incoming


class Gateway:
    """Routes incoming messages to the bot (or a human agent) and outgoing ones to channels."""

    def __init__(self) -> None:
        self._outbound: dict[str, Outbound] = {}
        self._where: dict[str, str] = {}  # conversation id -> channel name
        self._agents: dict[str, str] = {}  # conversation id -> agent holding it
        self._hooks: list[InboundHook] = [mask_personal_numbers]
        self._agent_listeners: list[AgentListener] = []

    # --- set-up -------------------------------------------------------------
    def register_channel(self, name: str, outbound: Outbound) -> None:
        """Called by a channel when its routes are built."""
        self._outbound[name] = outbound

    def add_inbound_hook(self, hook: InboundHook) -> None:
        """Run ``hook`` on every incoming message (after masking); returning None drops the message."""
        self._hooks.append(hook)

    def add_agent_listener(self, listener: AgentListener) -> None:
        """Receive the messages of conversations a human agent holds."""
        self._agent_listeners.append(listener)

    # --- incoming -----------------------------------------------------------
    async def receive(
        self,
        incoming: Incoming,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        output_channel: OutputChannel | None = None,
    ) -> Incoming | None:
        """Pass one customer message on: hooks, then the agent holding the conversation or the bot.

        Returns the message as it was passed on (masked), or None when a hook dropped it.
        """
        self._where[incoming.sender_id] = incoming.channel
        for hook in self._hooks:
            result = await hook(incoming)
            if result is None:
                logger.info("message on %s dropped by %s", incoming.channel, getattr(hook, "__name__", hook))
                return None
            incoming = result
        agent = self._agents.get(incoming.sender_id)
        if agent is not None:
            await asyncio.gather(*(listener(incoming, agent) for listener in self._agent_listeners))
            return incoming
        metadata = dict(incoming.metadata)
        if incoming.message_id:
            metadata.setdefault("channel_message_id", incoming.message_id)
        await on_new_message(
            UserMessage(
                incoming.text,
                output_channel or CollectingOutputChannel(),
                incoming.sender_id,
                input_channel=incoming.channel,
                metadata=metadata,
            )
        )
        return incoming

    # --- outgoing -----------------------------------------------------------
    def channel_of(self, conversation_id: str) -> str | None:
        """The channel a conversation was last seen on, if any."""
        return self._where.get(conversation_id)

    async def send(self, conversation_id: str, messages: list[Message]) -> bool:
        """Deliver ``messages`` to a conversation on its own channel; False when it is unknown."""
        outbound = self._outbound.get(self._where.get(conversation_id, ""))
        if outbound is None:
            logger.warning("no channel known for conversation %s", conversation_id)
            return False
        await outbound.deliver(conversation_id, messages)
        return True

    # --- human agents -------------------------------------------------------
    def agent_of(self, conversation_id: str) -> str | None:
        return self._agents.get(conversation_id)

    async def hand_over(self, conversation_id: str, agent: str | None) -> bool:
        """A human ``agent`` takes the conversation over; ``None`` gives it back to the bot."""
        if agent is None:
            self._agents.pop(conversation_id, None)
        else:
            self._agents[conversation_id] = agent
        outbound = self._outbound.get(self._where.get(conversation_id, ""))
        if outbound is None:
            return False
        await outbound.agent_status(conversation_id, agent)
        return True


gateway = Gateway()
