"""The gateway: every incoming message passes it masked; any component reaches a conversation through it."""

from __future__ import annotations

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from banktext import is_traditional, to_traditional
from bot.channels import security
from bot.channels.gateway import Gateway, Incoming
from bot.channels.reply_script import SCRIPT_KEY
from bot.channels.security import SIGNATURE_KEY


class RecordingChannel:
    """An Outbound that keeps what a channel would have delivered."""

    def __init__(self) -> None:
        self.delivered: list[tuple] = []
        self.status: list[tuple] = []

    async def deliver(self, recipient_id: str, messages: list) -> None:
        self.delivered.append((recipient_id, messages))

    async def agent_status(self, recipient_id: str, agent: str | None) -> None:
        self.status.append((recipient_id, agent))


@pytest.fixture
def bot_inbox():
    received: list[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        received.append(message)

    on_new_message.received = received  # type: ignore[attr-defined]
    return on_new_message


@pytest.mark.parametrize(
    "text, hidden, shown",
    [
        ("我的卡号6222020200112233445丢了", "6222020200112233445", "6222"),
        ("手机号13812345678收不到验证码", "13812345678", "138****5678"),
        ("身份证110101199003074518过期了", "19900307", "1101**********4518"),
        ("卡号 6222 0202 0011 2233 445 被盗刷", "0202 0011", "6222***********3445"),
        # the formats that reached the conversation store unmasked before banktext
        ("卡号6228\u30004800\u30001234\u30005678", "4800", "6228********5678"),
        ("卡号6228  4800  1234  5678", "4800", "6228********5678"),
        ("卡号6228.4800.1234.5678", "4800", "6228********5678"),
        ("卡号6228－4800－1234－5678", "4800", "6228********5678"),
        ("卡号六二二八四八〇〇一二三四五六七八", "四八〇〇", "6228********5678"),
        ("電話+86 138 1234 5602", "1234", "138****5602"),
        ("电话138-1234-5603", "1234", "138****5603"),
        ("电话138 1234 5604", "1234", "138****5604"),
        ("电话１３８１２３４５６０５", "１２３４", "138****5605"),
        ("电话1 3 8 1 2 3 4 5 6 0 6", "1 2 3 4", "138****5606"),
        ("座机010-12345678", "1234", "010-****5678"),
        ("座機(0755)8888-1234", "8888", "0755-****1234"),
        ("0755 12345678 转 123", "1234", "0755-****5678 转 ***"),
        ("身份证1101 0519 9012 3103 5X", "1231", "1101**********035X"),
    ],
)
async def test_personal_numbers_are_masked_before_the_bot_sees_them(bot_inbox, text, hidden, shown):
    gateway = Gateway()
    await gateway.receive(Incoming("web", "c1", text), bot_inbox)
    (message,) = bot_inbox.received
    assert hidden not in message.text
    assert shown in message.text
    assert message.sender_id == "c1" and message.input_channel == "web"


async def test_a_hook_sees_every_message_and_can_drop_one(bot_inbox):
    gateway = Gateway()
    seen: list[str] = []

    async def spam_filter(incoming: Incoming) -> Incoming | None:
        seen.append(incoming.text)
        return None if "spam" in incoming.text else incoming

    gateway.add_inbound_hook(spam_filter)
    await gateway.receive(Incoming("wechat", "u1", "spam spam 13812345678"), bot_inbox)
    await gateway.receive(Incoming("wechat", "u1", "信用卡年费多少", message_id="m-2"), bot_inbox)
    assert seen == ["spam spam 138****5678", "信用卡年费多少"]  # hooks run after masking
    assert [m.text for m in bot_inbox.received] == ["信用卡年费多少"]
    assert bot_inbox.received[0].metadata["channel_message_id"] == "m-2"


async def test_send_reaches_a_conversation_on_its_own_channel(bot_inbox):
    gateway = Gateway()
    web, wechat = RecordingChannel(), RecordingChannel()
    gateway.register_channel("web", web)
    gateway.register_channel("wechat", wechat)
    await gateway.receive(Incoming("web", "browser-1", "你好"), bot_inbox)
    await gateway.receive(Incoming("wechat", "openid-1", "你好"), bot_inbox)

    assert await gateway.send("openid-1", [{"text": "您好，我是人工客服小李"}])
    assert wechat.delivered == [("openid-1", [{"text": "您好，我是人工客服小李"}])]
    assert web.delivered == []
    assert not await gateway.send("never-seen", [{"text": "?"}])


async def test_a_human_agent_takes_over_and_gives_back(bot_inbox):
    gateway = Gateway()
    web = RecordingChannel()
    gateway.register_channel("web", web)
    to_agent: list[tuple] = []

    async def console(incoming: Incoming, agent: str) -> None:
        to_agent.append((agent, incoming.text))

    gateway.add_agent_listener(console)
    await gateway.receive(Incoming("web", "c9", "转人工"), bot_inbox)
    assert await gateway.hand_over("c9", "王芳")
    assert web.status == [("c9", "王芳")] and gateway.agent_of("c9") == "王芳"

    await gateway.receive(Incoming("web", "c9", "我的卡13812345678是这个号"), bot_inbox)
    assert to_agent == [("王芳", "我的卡138****5678是这个号")]
    assert [m.text for m in bot_inbox.received] == ["转人工"]  # the bot did not answer

    await gateway.hand_over("c9", None)
    await gateway.receive(Incoming("web", "c9", "谢谢"), bot_inbox)
    assert web.status[-1] == ("c9", None)
    assert [m.text for m in bot_inbox.received] == ["转人工", "谢谢"]


# --- replies in the customer's script ------------------------------------------------------

GREETING = {
    "text": "您好，我是云澜银行的智能助手，可以为您查询产品与利率。或访问官网https://www.example-yunlan-bank.cn/help?from=chat使用在线客服。",
    "buttons": [
        {"title": "产品与利率", "payload": "/ask_capabilities"},
        {"title": "帮我推荐产品", "payload": '/ask_recommendation{"product_type":"理财"}'},
    ],
}


@pytest.fixture
def greeting_bot():
    """A bot that answers every message with the greeting and its buttons, in Simplified."""
    received: list[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        received.append(message)
        await message.output_channel.send_response(message.sender_id, GREETING)

    on_new_message.received = received  # type: ignore[attr-defined]
    return on_new_message


async def _reply(gateway: Gateway, bot, text: str, conversation: str = "c-script", **kwargs) -> dict:
    out = CollectingOutputChannel()
    await gateway.receive(Incoming("web", conversation, text, **kwargs), bot, out)
    return out.messages[-1]


async def test_a_customer_writing_traditional_reads_traditional_text_and_button_titles(greeting_bot):
    reply = await _reply(Gateway(), greeting_bot, "請問信用卡年費多少")
    assert reply["text"].startswith("您好，我是雲瀾銀行的智慧助手")  # Taiwan phrasing: 智能 → 智慧
    assert "官網https://www.example-yunlan-bank.cn/help?from=chat使用線上客服" in reply["text"]  # the address as it is
    assert [b["title"] for b in reply["buttons"]] == ["產品與利率", "幫我推薦產品"]
    # payloads are commands: unchanged, and signed as offered
    assert [b["payload"] for b in reply["buttons"]] == [b["payload"] for b in GREETING["buttons"]]
    assert all(security.payload_signed("c-script", b["payload"], b[SIGNATURE_KEY]) for b in reply["buttons"])
    assert greeting_bot.received[0].metadata[SCRIPT_KEY] == "traditional"


async def test_a_customer_writing_simplified_reads_the_domain_as_it_is(greeting_bot):
    reply = await _reply(Gateway(), greeting_bot, "请问信用卡年费多少")
    assert reply["text"] == GREETING["text"]
    assert [b["title"] for b in reply["buttons"]] == ["产品与利率", "帮我推荐产品"]
    assert greeting_bot.received[0].metadata[SCRIPT_KEY] == "simplified"


async def test_messages_that_do_not_tell_keep_the_script_and_a_switch_switches_it(greeting_bot):
    gateway = Gateway()
    assert "雲瀾銀行" in (await _reply(gateway, greeting_bot, "我想辦一張信用卡"))["text"]
    for neutral in ("ok", "好的", "1", "13812345678", "👍", "信用卡"):
        assert "雲瀾銀行" in (await _reply(gateway, greeting_bot, neutral))["text"], neutral
    # a button press carries the bot's own (Simplified) words: it does not tell either
    button = (await _reply(gateway, greeting_bot, "好"))["buttons"][1]
    pressed = await _reply(gateway, greeting_bot, button["payload"], metadata={SIGNATURE_KEY: button[SIGNATURE_KEY]})
    assert "雲瀾銀行" in pressed["text"]
    assert {m.metadata[SCRIPT_KEY] for m in greeting_bot.received} == {"traditional"}
    # the customer switches to Simplified: so do the replies, and a neutral message keeps it
    assert "云澜银行" in (await _reply(gateway, greeting_bot, "还是用简体吧，房贷利率多少"))["text"]
    assert "云澜银行" in (await _reply(gateway, greeting_bot, "ok"))["text"]
    assert "雲瀾銀行" in (await _reply(gateway, greeting_bot, "謝謝"))["text"]


async def test_names_and_labels_keep_their_words_where_taiwan_phrasing_would_change_them():
    gateway, seen = Gateway(), []

    async def bot(message: UserMessage) -> None:
        seen.append(message)
        await message.output_channel.send_response(
            message.sender_id,
            {
                "text": "办理【云澜借记卡（I类账户）】的信用卡注销请到成都天府软件园支行，手机软件也可以。",
                "buttons": [{"title": "借记卡", "payload": "/ask_product_info"}],
            },
        )

    reply = await _reply(gateway, bot, "借記卡怎麼註銷")
    # the product and the branch as named, 注销 still cancelling; Taiwan phrasing elsewhere (軟體)
    assert reply["text"] == "辦理【雲瀾借記卡（I類賬戶）】的信用卡註銷請到成都天府軟件園支行，手機軟體也可以。"
    assert reply["buttons"][0]["title"] == "借記卡"  # typed back, the NLU reads 借记卡


async def test_the_hong_kong_variant_is_chosen_by_the_environment(greeting_bot, monkeypatch):
    monkeypatch.setenv("REPLY_TRADITIONAL", "hk")
    reply = await _reply(Gateway(), greeting_bot, "請問信用卡年費多少")
    assert reply["text"].startswith("您好，我是雲瀾銀行的智能助手")  # Hong Kong keeps 智能


async def test_the_gateways_own_answer_follows_the_script_when_the_bot_says_nothing(bot_inbox):
    gateway = Gateway()  # no assistant bound: the domain file's text, the action server "down"
    out = CollectingOutputChannel()
    await gateway.receive(Incoming("web", "c-down", "我的銀行卡不見了怎麼辦"), bot_inbox, out)
    (answer,) = out.messages
    assert answer["text"] and answer["text"] == to_traditional(answer["text"]) and is_traditional(answer["text"])
    # a typed command is answered by the gateway alone, in the conversation's script too
    out = CollectingOutputChannel()
    await gateway.receive(Incoming("web", "c-down", "/restart"), bot_inbox, out)
    assert is_traditional(out.messages[0]["text"])


async def test_send_follows_the_customers_script_but_a_persons_reply_is_left_as_typed(greeting_bot):
    gateway = Gateway()
    web = RecordingChannel()
    gateway.register_channel("web", web)
    await _reply(gateway, greeting_bot, "我要轉人工")
    assert await gateway.agent_says("c-script", "王芳", "您好，我是人工客服王芳，请问有什么可以帮您")
    rating = {"text": "请为本次服务打分", "buttons": [{"title": "非常满意", "payload": '/rate{"score":5}'}]}
    assert await gateway.send("c-script", [rating])
    (_, staff), (_, bot) = web.delivered
    assert staff == [{"text": "您好，我是人工客服王芳，请问有什么可以帮您"}]
    assert bot[0]["text"] == "請為本次服務打分"
    assert bot[0]["buttons"][0]["title"] == "非常滿意" and bot[0]["buttons"][0]["payload"] == '/rate{"score":5}'


async def test_a_typed_button_label_is_the_button_pressed(bot_inbox):
    """ "随时要用" typed at the question of what the money is for was read by the NLU as a complaint, which
    left the recommendation: a label of the bot's last answer, typed, is that button's payload. Only the
    last answer's buttons count, and a longer message that contains a label is the customer's own words."""
    from types import SimpleNamespace

    from rasa.core.tracker_store import InMemoryTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import BotUttered, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    store = InMemoryTrackerStore(Domain.empty())
    goals = [{"title": "随时要用", "payload": '/inform{"goal": "liquidity"}'}, {"title": "稳健储蓄", "payload": "/x"}]
    tracker = DialogueStateTracker.from_events(
        "c-label",
        [
            UserUttered("推荐个理财"),
            BotUttered("这笔钱主要打算做什么用？", data={"buttons": goals}),
        ],
    )
    gateway = Gateway()
    gateway.bind(SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace(tracker_store=store))))

    async def asks_the_goal(message: UserMessage) -> None:
        await message.output_channel.send_response(message.sender_id, {"text": "做什么用？", "buttons": goals})

    await gateway.receive(Incoming("web", "c-label", "推荐个理财"), asks_the_goal)  # the server offers the labels
    await store.save(tracker)  # as the bot's turn stored it
    for typed in ("随时要用", "隨時要用。", "我的钱随时要用，有什么推荐"):
        await gateway.receive(Incoming("web", "c-label", typed), bot_inbox)
    assert [m.text for m in bot_inbox.received] == [
        '/inform{"goal": "liquidity"}',
        '/inform{"goal": "liquidity"}',
        "我的钱随时要用，有什么推荐",
    ]
    await store.save(DialogueStateTracker.from_events("c-label", [*tracker.events, UserUttered("随时要用")]))
    await gateway.receive(Incoming("web", "c-label", "稳健储蓄"), bot_inbox)  # the question was answered since
    assert bot_inbox.received[-1].text == "稳健储蓄"
    elsewhere = Gateway()  # a server that never offered the label does not read the conversation for it
    elsewhere.bind(SimpleNamespace(ctx=SimpleNamespace(agent=None)))
    await elsewhere.receive(Incoming("web", "c-label", "随时要用"), bot_inbox)
    assert bot_inbox.received[-1].text == "随时要用"
