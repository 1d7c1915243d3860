"""The one place every customer message passes before the bot, and the one way to reach a conversation.

Every input channel (the website chat, WeChat, the REST API) hands each incoming message
to :func:`Gateway.receive` instead of calling Rasa's ``on_new_message`` itself. The
gateway

* cleans the text (lone surrogates, control characters, overlong input) and masks
  personal numbers (card, ID, phone), so the tracker store, the logs and every later
  reader only ever see the masked form; a phone number the complaint form takes as the
  call-back number is sealed for staff after the turn (:mod:`bot.channels.callback`);
* passes a ``/command`` on only when it is a button the server signed for this
  conversation (:mod:`bot.channels.security`); one typed by a customer never reaches the bot
  and gets a polite answer instead;
* serialises each conversation's messages in arrival order and refuses politely, instead
  of dropping, when a customer floods one conversation;
* signs the buttons of every reply for the conversation they are offered to;
* answers in the customer's script: a customer who writes Traditional reads the replies, their
  button titles and FAQ answers in Traditional (Taiwan phrasing unless ``REPLY_TRADITIONAL``
  says otherwise), and a message that does not tell (digits, "ok", a button) keeps the
  conversation's script (:mod:`bot.channels.reply_script`);
* answers each question of a run-on message ("信用卡年费多少？另外房贷利率呢") in turn,
  and offers a person when the customer sends the same question a third time;
* makes sure every message gets an answer: when the bot's turn produced nothing (the
  action server or the database is down), it answers from the Rasa side with the
  domain's own responses and the bank's generated contact facts: urgent steps for a lost
  card or fraud, the hotline and a person otherwise;
* remembers on which channel each conversation lives, so any component can
  :func:`Gateway.send` to a conversation without knowing the channel;
* lets a human agent take a conversation over (:func:`Gateway.hand_over`): the stored
  conversation is paused, the customer's messages are stored without an answer from the bot
  (the staff desk reads them there) and reach in-process listeners; :func:`Gateway.agent_says`
  stores and delivers the person's replies.

Channels register an :class:`Outbound` (how to deliver to one recipient on that
channel) once, at start-up. The gateway lives in the Rasa server's process; one
instance (:data:`gateway`) serves all channels.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage
from rasa.shared.core.events import BotUttered, ConversationPaused, ConversationResumed, UserUttered

from banktext import redact, redact_keeping_phones, to_simplified
from bot import settings
from bot.channels import callback, security
from bot.channels.reply_script import SCRIPT_KEY, in_script, recorded_script, told_by

logger = logging.getLogger(__name__)

Message = dict[str, Any]  # a bot message as Rasa produces it: text, buttons, image, custom ...

#: Longest message the bot reads; a channel may hold a shorter line (the web page: 500).
MAX_TEXT_CHARS = 2000
#: Messages of one conversation waiting for the bot before further ones are refused politely.
MAX_PENDING = 30
BANK_FACTS = Path(__file__).resolve().parents[1] / "resources" / "bank_facts.json"
DOMAIN_FILE = Path(__file__).resolve().parents[2] / "domain.yml"
#: What the Rasa side answers on its own when the bot's turn said nothing, by the intent it read.
DEGRADED_RESPONSES = {
    "report_lost_card": "utter_lost_card_steps",
    "report_fraud": "utter_fraud_urgent",
    "request_human": "utter_handoff",
    "ask_contact": "utter_contact",
}
DEGRADED_DEFAULT = "utter_service_unavailable"
BUSY_RESPONSE = "utter_too_many_messages"
TYPED_COMMAND_RESPONSE = "utter_typed_command"
REPEATED_RESPONSE = "utter_offer_human_repeated"
REPEATS_BEFORE_A_PERSON = 3
_NOISE = re.compile(r"[\s\u3000,，.。!！?？~～、:：;；…]+")
#: A typed message longer than this is no button's label.
MAX_LABEL_CHARS = 16


#: At most this many labels are remembered (the catalogue's names, the forms' options: a few hundred).
MAX_KNOWN_LABELS = 20_000


def _label_key(text: str) -> str:
    """A button label or a message as compared: Simplified, lower case, without spaces or punctuation."""
    return _NOISE.sub("", to_simplified(text or "")).lower()


def learn_labels(labels: set[str], messages: list[Message]) -> None:
    """Remember the labels of the buttons offered: a message equal to none of them is no typed label, and
    the stored conversation is read only for one that is (:meth:`Gateway._label_typed`)."""
    for message in messages:
        for button in message.get("buttons") or []:
            key = _label_key(str(button.get("title") or ""))
            if key and len(key) <= MAX_LABEL_CHARS and len(labels) < MAX_KNOWN_LABELS:
                labels.add(key)


#: "…，另外…", "…？还有…": a second question in the same message, after a clause ends.
_SECOND_QUESTION = re.compile(
    r"(?<=[，,。.？?！!；;\s])(?:另外|还有(?:就是)?|顺便问(?:一下|下)?|再问(?:一下|下)?|还想问(?:一下|下)?|以及)[，,：:]?"
)
#: Shorter pieces are not questions of their own ("…，还有吗").
MIN_QUESTION_CHARS = 4


def split_run_on(text: str) -> list[str]:
    """The questions of a run-on message, in order; one element when it asks one thing."""
    pieces = [p.strip(" ，,。.？?！!；;") for p in _SECOND_QUESTION.split(text or "")]
    pieces = [p for p in pieces if p]
    if len(pieces) < 2 or any(len(p) < MIN_QUESTION_CHARS for p in pieces):
        return [text]
    return pieces


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufeff]")


class Outbound(Protocol):
    """How a channel delivers messages to one of its recipients outside a reply."""

    async def deliver(self, recipient_id: str, messages: list[Message]) -> None:
        """Send ``messages`` (Rasa bot-message dicts) to ``recipient_id``."""

    async def agent_status(self, recipient_id: str, agent: str | None) -> None:
        """Tell the recipient a human agent (name) took over, or the bot is back (None)."""


@dataclass
class Incoming:
    """A customer's message as a channel received it, before the bot sees it.

    ``trusted_payload``: the channel itself produced the text as one of the payloads it
    offered (WeChat's numbered menu), so a ``/command`` in it is not a customer's typing.
    ``phones``: the phone numbers masking took out of the text, (masked, digits), kept for this
    message only (never stored, never printed), so a call-back number can be sealed for staff.
    """

    channel: str
    sender_id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    message_id: str | None = None
    trusted_payload: bool = False
    phones: list[tuple[str, str]] = field(default_factory=list, repr=False)


InboundHook = Callable[[Incoming], Awaitable[Incoming | None]]
AgentListener = Callable[[Incoming, str], Awaitable[None]]


def clean_text(text: Any) -> str:
    """Text the NLU can read: no lone surrogates, control characters or byte-order marks, not overlong."""
    if not isinstance(text, str):
        return ""
    return _CONTROL.sub("", text)[:MAX_TEXT_CHARS]


async def mask_personal_numbers(incoming: Incoming) -> Incoming:
    """The gateway's first hook: card, ID and phone numbers never go further unmasked."""
    incoming.text, incoming.phones = redact_keeping_phones(incoming.text)
    return incoming


@lru_cache(maxsize=1)
def bank_facts() -> dict[str, str]:
    """The bank's contact points generated from the knowledge seed (``make nlu-export``)."""
    try:
        facts = json.loads(BANK_FACTS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        logger.error("%s is missing: answers without the action server cannot name the hotline", BANK_FACTS)
        return {}
    return {k: str(v) for k, v in facts.items() if not k.startswith("_")}


class WatchedOutput(OutputChannel):
    """Wraps a channel's output for one turn: writes the replies in the customer's script,
    signs buttons and counts what was sent.

    ``script``: the script the replies are written in (``"traditional"``, or ``"simplified"``/
    None for the domain's own); ``variant``: which Traditional (``tw``, ``hk``, ``t``).
    """

    def __init__(
        self, inner: OutputChannel, script: str | None = None, variant: str = "tw", labels: set[str] | None = None
    ) -> None:
        self.inner = inner
        self.sent = 0
        self.script = script
        self.variant = variant
        self.labels = labels if labels is not None else set()

    def name(self) -> str:  # type: ignore[override]
        return self.inner.name()

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        self.sent += 1
        learn_labels(self.labels, [message])
        message = in_script(dict(message), self.script, self.variant)
        await self.inner.send_response(recipient_id, security.sign_buttons(recipient_id, message))

    # whatever a bot calls, it goes through send_response: counted, buttons signed, then delivered
    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text, **kwargs})

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: list, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text, "buttons": buttons, **kwargs})

    async def send_quick_replies(self, recipient_id: str, text: str, quick_replies: list, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text, "quick_replies": quick_replies, **kwargs})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"image": image, **kwargs})

    async def send_attachment(self, recipient_id: str, attachment: Any, **kwargs: Any) -> None:  # type: ignore[override]
        await self.send_response(recipient_id, {"attachment": attachment, **kwargs})

    async def send_elements(self, recipient_id: str, elements: Any, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"elements": elements, **kwargs})

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"custom": json_message, **kwargs})


class Gateway:
    """Routes incoming messages to the bot (or a human agent) and outgoing ones to channels."""

    def __init__(self) -> None:
        self._outbound: dict[str, Outbound] = {}
        self._where: OrderedDict[str, str] = OrderedDict()  # conversation id -> channel name
        self._agents: dict[str, str] = {}  # conversation id -> agent holding it
        self._hooks: list[InboundHook] = [mask_personal_numbers]
        self._agent_listeners: list[AgentListener] = []
        self._turns: dict[str, asyncio.Lock] = {}
        self._pending: dict[str, int] = {}
        self._repeats: OrderedDict[str, tuple[str, int]] = OrderedDict()
        self._scripts: OrderedDict[str, str] = OrderedDict()  # conversation id -> script of its replies
        self._labels: set[str] = set()  # the button labels this server has offered (compared as _label_key)
        self.variant = settings.reply_traditional()
        self._app: Any = None

    # --- set-up -------------------------------------------------------------
    def register_channel(self, name: str, outbound: Outbound) -> None:
        """Called by a channel when its routes are built."""
        self._outbound[name] = outbound

    def bind(self, app: Any) -> None:
        """The Rasa server's Sanic app: its agent renders the answers the gateway gives on its own."""
        self._app = app

    def add_inbound_hook(self, hook: InboundHook) -> None:
        """Run ``hook`` on every incoming message (after masking); returning None drops the message."""
        self._hooks.append(hook)

    def add_agent_listener(self, listener: AgentListener) -> None:
        """Receive the messages of conversations a human agent holds."""
        self._agent_listeners.append(listener)

    @property
    def _agent(self) -> Any:
        return getattr(getattr(self._app, "ctx", None), "agent", None)

    # --- incoming -----------------------------------------------------------
    async def receive(
        self,
        incoming: Incoming,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        output_channel: OutputChannel | None = None,
    ) -> Incoming | None:
        """Pass one customer message on: hooks, then the agent holding the conversation or the bot.

        Returns the message as it was passed on (masked), or None when a hook dropped it
        or the conversation had too many messages waiting.
        """
        conversation = incoming.sender_id
        # the script the message tells, else the one this server last saw; within the bot's
        # turn the stored conversation has the last word (carry_script_into_turns)
        told = told_by(incoming.text)
        if told:  # known at once, for the channel's own lines while the bot works ("请稍候")
            self._note_script(conversation, told)
        output = WatchedOutput(
            output_channel or CollectingOutputChannel(),
            told or self._scripts.get(conversation),
            self.variant,
            self._labels,
        )
        if self._pending.get(conversation, 0) >= MAX_PENDING:
            logger.warning("conversation on %s flooded: a message was refused", incoming.channel)
            await self._answer_alone(conversation, BUSY_RESPONSE, output)
            return None
        self._pending[conversation] = self._pending.get(conversation, 0) + 1
        try:
            async with self._turns.setdefault(conversation, asyncio.Lock()):
                passed = await self._receive(incoming, on_new_message, output)
                if output.script:
                    self._note_script(conversation, output.script)
                return passed
        finally:
            self._pending[conversation] -= 1
            if not self._pending[conversation]:
                del self._pending[conversation]
                self._turns.pop(conversation, None)

    async def _receive(
        self,
        incoming: Incoming,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        output: WatchedOutput,
    ) -> Incoming | None:
        self._remember(incoming.sender_id, incoming.channel)
        metadata = dict(incoming.metadata) if isinstance(incoming.metadata, dict) else {}
        incoming.text = clean_text(incoming.text)
        if security.looks_like_a_command(incoming.text):
            if not security.is_our_command(incoming.sender_id, incoming.text, metadata, incoming.trusted_payload):
                # "/restart", "/affirm", '/ask_product_info{...}' typed by a customer: never a command
                logger.info("a typed command on %s was not passed to the bot", incoming.channel)
                output.script = output.script or await self._stored_script(incoming.sender_id)
                await self._answer_alone(incoming.sender_id, TYPED_COMMAND_RESPONSE, output)
                return None
            incoming.text = incoming.text.strip()
        metadata.pop(security.SIGNATURE_KEY, None)
        if output.script:
            metadata[SCRIPT_KEY] = output.script
        incoming.metadata = metadata
        for hook in self._hooks:
            result = await hook(incoming)
            if result is None:
                logger.info("message on %s dropped by %s", incoming.channel, getattr(hook, "__name__", hook))
                return None
            incoming = result
        agent = self._agents.get(incoming.sender_id)
        if agent is not None:
            # a person holds the conversation: they hear the message, and the (paused) bot only
            # stores it, so the transcript the desk reads has it; no bot, no splitting
            await asyncio.gather(*(listener(incoming, agent) for listener in self._agent_listeners))
            if self._agent is not None:
                await self._bot_turn(incoming, incoming.text, metadata, on_new_message, output)
            incoming.phones = []
            return incoming
        if not security.looks_like_a_command(incoming.text):
            pressed = await self._label_typed(incoming.sender_id, incoming.text)
            if pressed:  # "随时要用" typed at the goal question: that answer, not a complaint
                incoming.text = pressed
        parts = split_run_on(incoming.text)
        answered = 0
        if incoming.message_id:
            metadata["channel_message_id"] = incoming.message_id
            answered = await self._answered_before(incoming, output)
        for part in parts[answered:]:  # "信用卡年费多少？另外房贷利率呢": each question answered in turn
            await self._bot_turn(incoming, part, metadata, on_new_message, output)
        if incoming.phones and answered < len(parts):
            await callback.keep_taken_numbers(self._agent, incoming.sender_id, incoming.phones, len(parts) - answered)
        incoming.phones = []  # the digits go no further than this message
        if (
            answered < len(parts)
            and self._asked_again(incoming.sender_id, incoming.text)
            and not await self._paused(incoming.sender_id)
        ):
            await self._answer_alone(incoming.sender_id, REPEATED_RESPONSE, output)
        return incoming

    async def _label_typed(self, conversation_id: str, text: str) -> str | None:
        """The payload of the button whose label the customer typed instead of pressing it, among the
        buttons of the bot's last answer (as the stored conversation has them, so any server of the
        cluster knows): the NLU read some labels as something else ("随时要用", an answer to what the
        money is for, as a complaint, which left the recommendation). None when no label was typed."""
        key = _label_key(text)
        if key not in self._labels or self._agent is None:  # no label this server offered: no read
            return None
        try:
            tracker = await self._agent.tracker_store.retrieve(conversation_id)
        except Exception as exc:  # no store: the NLU reads the message as usual
            logger.error("no tracker to read the buttons offered: %s", type(exc).__name__)
            return None
        for event in reversed(tracker.events if tracker else ()):
            if isinstance(event, UserUttered):
                break
            if isinstance(event, BotUttered):
                for button in (event.data or {}).get("buttons") or []:
                    payload = str(button.get("payload") or "")
                    if payload.startswith("/") and _label_key(str(button.get("title") or "")) == key:
                        return payload
        return None

    async def _answered_before(self, incoming: Incoming, output: WatchedOutput) -> int:
        """How many parts of this message the bot has already answered, their answers sent again.

        A message comes twice with the same id when its first server died after storing the turn
        and before answering (nginx then passes the request to another server), or when a caller
        or WeChat retries: the conversation holds the answers, so the bot does not run twice (a
        complaint filed twice, a questionnaire answer counted twice)."""
        try:
            tracker = await self._agent.tracker_store.retrieve(incoming.sender_id)
        except Exception as exc:  # no agent or store: nothing known to be answered
            logger.error("no tracker to check for a repeated message: %s", type(exc).__name__)
            return 0
        answered, inside, answers = 0, False, []
        for event in tracker.events if tracker else ():
            if isinstance(event, UserUttered):
                inside = (event.metadata or {}).get("channel_message_id") == incoming.message_id
                answered += inside
            elif inside and isinstance(event, BotUttered):
                answers.append(event.message())
        if answered:
            logger.info(
                "a message on %s came again: its %d answers sent from the conversation", incoming.channel, len(answers)
            )
        for answer in answers:
            await output.send_response(incoming.sender_id, answer)
        return answered

    async def _bot_turn(
        self,
        incoming: Incoming,
        text: str,
        metadata: dict[str, Any],
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        output: WatchedOutput,
    ) -> None:
        """One message to the bot; when it says nothing (action server or database down), the
        Rasa side answers on its own, unless a person holds the conversation (it is paused)."""
        before = output.sent
        try:
            await on_new_message(
                UserMessage(text, output, incoming.sender_id, input_channel=incoming.channel, metadata=metadata)
            )
        except Exception as exc:  # the customer still gets an answer below; the text is not logged
            logger.error("the bot failed on a message from %s: %s", incoming.channel, type(exc).__name__, exc_info=exc)
        if output.sent == before and not await self._paused(incoming.sender_id):
            await self._answer_alone(incoming.sender_id, await self._latest_intent(incoming.sender_id), output)

    def _asked_again(self, conversation_id: str, text: str) -> bool:
        """Whether the customer has now sent the same question three times in a row: the answers
        did not help, so a person is offered (once per run of repeats)."""
        key = _NOISE.sub("", text or "")
        if len(key) < 2:
            return False
        last, count = self._repeats.get(conversation_id, ("", 0))
        count = count + 1 if key == last else 1
        self._repeats[conversation_id] = (key, count)
        self._repeats.move_to_end(conversation_id)
        while len(self._repeats) > 100_000:
            self._repeats.popitem(last=False)
        return count == REPEATS_BEFORE_A_PERSON

    def _note_script(self, conversation_id: str, script: str) -> None:
        self._scripts[conversation_id] = script
        self._scripts.move_to_end(conversation_id)
        while len(self._scripts) > 100_000:
            self._scripts.popitem(last=False)

    async def _stored_script(self, conversation_id: str) -> str | None:
        """The script of the conversation's replies as its stored conversation records it."""
        try:
            tracker = await self._agent.tracker_store.retrieve(conversation_id)
        except Exception:  # no agent or store: the domain's own script
            return None
        script = recorded_script(tracker.events) if tracker else None
        if script:
            self._note_script(conversation_id, script)
        return script

    def in_customer_script(self, conversation_id: str, text: str) -> str:
        """A channel's own line (a notice, a menu hint) in the script this server last saw the
        customer write; no tracker is read."""
        return in_script({"text": text}, self._scripts.get(conversation_id), self.variant)["text"]

    async def script_of_conversation(self, conversation_id: str) -> str | None:
        """The script a conversation's replies are written in, as its stored conversation says
        (it may have moved on on another server of the cluster), else as this server last saw."""
        return await self._stored_script(conversation_id) or self._scripts.get(conversation_id)

    async def _paused(self, conversation_id: str) -> bool:
        try:
            tracker = await self._agent.tracker_store.retrieve(conversation_id)
            return bool(tracker and tracker.is_paused())
        except Exception:  # no agent or store: not known to be paused
            return False

    async def _latest_intent(self, conversation_id: str) -> str:
        agent = self._agent
        try:
            tracker = await agent.tracker_store.retrieve(conversation_id)
            intent = (tracker.latest_message.intent or {}).get("name") if tracker else None
        except Exception as exc:  # no agent yet, tracker store down
            logger.error("no tracker for an unanswered message: %s", type(exc).__name__)
            intent = None
        return DEGRADED_RESPONSES.get(intent or "", DEGRADED_DEFAULT)

    async def _answer_alone(self, conversation_id: str, response: str, output: OutputChannel) -> None:
        """Answer with the domain's ``response``, filled with the bank's facts, without the action server."""
        if response not in (BUSY_RESPONSE, TYPED_COMMAND_RESPONSE, REPEATED_RESPONSE):
            logger.warning("the bot gave no answer: the Rasa side answers with %s", response)
        message: Message | None = None
        agent = self._agent
        if agent is not None:
            try:
                from rasa.shared.core.trackers import DialogueStateTracker

                tracker = DialogueStateTracker(conversation_id, agent.domain.slots)
                message = await agent.nlg.generate(response, tracker, output.name(), **bank_facts())
            except Exception as exc:
                logger.error("could not render %s: %s", response, type(exc).__name__)
        if not message:
            text = _domain_text(response) or _domain_text(DEGRADED_DEFAULT)
            for key, value in bank_facts().items():
                text = text.replace("{" + key + "}", value)
            message = {"text": text}
        await output.send_response(conversation_id, message)

    # --- outgoing -----------------------------------------------------------
    def _remember(self, conversation_id: str, channel: str) -> None:
        self._where[conversation_id] = channel
        self._where.move_to_end(conversation_id)
        while len(self._where) > 100_000:
            self._where.popitem(last=False)

    def channel_of(self, conversation_id: str) -> str | None:
        """The channel a conversation was last seen on by this server, if any."""
        return self._where.get(conversation_id)

    async def _channel(self, conversation_id: str) -> Outbound | None:
        """The conversation's channel: as last seen here, else as its stored conversation says
        (after a restart, or when it lives on another server of the cluster)."""
        name = self._where.get(conversation_id)
        if name is None and self._agent is not None:
            try:
                tracker = await self._agent.tracker_store.retrieve(conversation_id)
                name = tracker.get_latest_input_channel() if tracker else None
            except Exception as exc:  # store down: the conversation cannot be reached now
                logger.error("no stored conversation to find a channel: %s", type(exc).__name__)
            if name:
                self._remember(conversation_id, name)
        return self._outbound.get(name or "")

    async def locate(self, conversation_id: str) -> bool:
        """Look up and keep the conversation's channel and script from its stored conversation.

        Called before a turn the bot starts by itself (a reminder days later): that turn may open
        a new session, whose events name neither. False when the channel is unknown."""
        found = await self._channel(conversation_id)
        await self._stored_script(conversation_id)
        return found is not None

    async def send(self, conversation_id: str, messages: list[Message], in_customer_script: bool = True) -> bool:
        """Deliver ``messages`` to a conversation on its own channel; False when it is unknown.

        The bot's messages are written in the customer's script (``in_customer_script``); a
        person's reply is delivered as they typed it."""
        outbound = await self._channel(conversation_id)
        if outbound is None:
            logger.warning("no channel known for a conversation")
            return False
        script = await self.script_of_conversation(conversation_id) if in_customer_script else None
        learn_labels(self._labels, messages)
        messages = [in_script(dict(m), script, self.variant) for m in messages]
        await outbound.deliver(conversation_id, [security.sign_buttons(conversation_id, m) for m in messages])
        return True

    # --- human agents -------------------------------------------------------
    def agent_of(self, conversation_id: str) -> str | None:
        return self._agents.get(conversation_id)

    async def hand_over(self, conversation_id: str, agent: str | None) -> bool:
        """A human ``agent`` takes the conversation over; ``None`` gives it back to the bot.

        The stored conversation is paused (Rasa's ``ConversationPaused``) while a person holds
        it and resumed after, so a restarted or second server keeps the bot silent too; the
        customer's channel is told. False when the conversation's channel is unknown."""
        if agent is None:
            self._agents.pop(conversation_id, None)
        else:
            self._agents[conversation_id] = agent
        await self._store(conversation_id, ConversationPaused() if agent is not None else ConversationResumed())
        outbound = await self._channel(conversation_id)
        if outbound is None:
            return False
        await outbound.agent_status(conversation_id, agent)
        return True

    async def agent_says(self, conversation_id: str, agent: str, text: str) -> bool:
        """A person's reply: stored in the conversation (masked, marked with who wrote it) and
        delivered on the customer's channel. False when the channel is unknown."""
        text = redact(clean_text(text))
        await self._store(conversation_id, BotUttered(text, metadata={"agent": agent}))
        return await self.send(conversation_id, [{"text": text}], in_customer_script=False)

    async def _store(self, conversation_id: str, event: Any) -> None:
        """Append ``event`` to the stored conversation under its lock (no bot turn interleaves);
        a pause or resume only when it changes something."""
        agent = self._agent
        if agent is None:  # a channel served without the assistant (tests, stubs): nothing stored
            return
        async with agent.lock_store.lock(conversation_id):
            tracker = await agent.tracker_store.get_or_create_tracker(conversation_id)
            if isinstance(event, (ConversationPaused, ConversationResumed)) and tracker.is_paused() == isinstance(
                event, ConversationPaused
            ):
                return
            tracker.update(event)
            await agent.tracker_store.save(tracker)


def carry_script_into_turns() -> None:
    """Let each bot turn carry the conversation's script on from the conversation it has loaded.

    A message that does not tell its script ("ok", "1", a button) is answered in the script of
    the conversation's latest customer message. The gateway knows it for the conversations this
    server saw last, but behind nginx the previous message may have gone to the other server
    (REST and WeChat are balanced per request), and after a restart it knows none. Rasa loads
    the stored conversation at the start of every turn anyway, so the script is read from it
    there, at no extra read, before the customer's message is logged with it. Installed once at
    start-up with the other patches of the channels (``bot/channels/__init__.py``)."""
    from rasa.core.processor import MessageProcessor

    original = MessageProcessor._handle_message_with_tracker
    if getattr(original, "carries_script", False):
        return

    async def handle_message_with_tracker(self: MessageProcessor, message: UserMessage, tracker: Any) -> None:
        output = message.output_channel
        if isinstance(output, WatchedOutput) and isinstance(message.metadata, dict) and told_by(message.text) is None:
            recorded = recorded_script(tracker.events)
            if recorded:
                output.script = message.metadata[SCRIPT_KEY] = recorded
        await original(self, message, tracker)

    handle_message_with_tracker.carries_script = True  # type: ignore[attr-defined]
    MessageProcessor._handle_message_with_tracker = handle_message_with_tracker  # type: ignore[method-assign]


@lru_cache(maxsize=8)
def _domain_text(response: str) -> str:
    """A response's first text from the project's domain file: the last resort before a model is loaded."""
    import yaml

    try:
        domain = yaml.safe_load(DOMAIN_FILE.read_text(encoding="utf-8"))
        return str(domain["responses"][response][0]["text"])
    except (OSError, KeyError, IndexError, TypeError, yaml.YAMLError):
        return ""


gateway = Gateway()
