"""Addressing the bank (你们 / 贵行 / 云澜) does not by itself make a question the bank's business.

The NLU reads a reference to the bank as a sign of an in-scope question
(bot.nlu.bank_reference); these checks keep that sign from swallowing chit-chat,
other institutions' products and requests the bank does not serve, while plain
questions about the bank's own services still land on their intents. The model
is the one `make train` built.
"""

from __future__ import annotations

import pytest

ADDRESSED_BUT_OUT_OF_SCOPE = [
    "你们周末加班吗还是双休",
    "你们觉得下半年油价会不会降",
    "你们能不能帮我查查招商银行那张卡的账单",
    "你们会唱歌吗",
    "你们帮我把这段话翻成日语",
    "贵行对美联储加息怎么看",
    "你们银行今年校招什么时候开始",
    "云澜银行的股票代码是多少 值得买吗",
    "你们晓得附近哪家火锅好吃吗",
    "你们能帮我把美团月付关掉吗",
    "你们能帮我起诉欠钱不还的同学吗",
    "你们知道去哪办港澳通行证吗",
]

ADDRESSED_AND_IN_SCOPE = [
    # a fault report addressed to the bank is a how-to (FAQ), not a complaint: read as `complain`
    # until the bank-reference sign was gated by the sentence meaning (docs/nlu-evaluation.md)
    ("你们银行的手机银行一直闪退", "faq"),
    ("贵行信用卡年费多少", "ask_fees"),
    ("你们的大额存单是什么", "ask_product_info"),
    ("在你们这办房贷要带什么材料", "ask_required_documents"),
    ("你们银行的卡丢了怎么办", "report_lost_card"),
    ("你们客服电话多少", "ask_contact"),
    ("你们网点周六开门吗", "ask_branch"),
    ("云澜的理财会亏本吗", "ask_risk"),
]


async def _intent(agent, text: str) -> str:
    parsed = await agent.parse_message(text)
    return (parsed.get("intent") or {}).get("name") or ""


async def test_addressing_the_bank_does_not_make_chit_chat_in_scope(agent):
    wrong = [
        (t, i)
        for t in ADDRESSED_BUT_OUT_OF_SCOPE
        if (i := await _intent(agent, t)) not in ("out_of_scope", "nlu_fallback")
    ]
    # a statistical model: at most one in six may slip, and the list says which
    assert len(wrong) <= len(ADDRESSED_BUT_OUT_OF_SCOPE) // 6, wrong


@pytest.mark.parametrize("text,intent", ADDRESSED_AND_IN_SCOPE)
async def test_questions_to_the_bank_land_on_their_intent(agent, text, intent):
    assert await _intent(agent, text) == intent


def _nonsense(count: int = 40) -> list[str]:
    """Seeded strings of CJK characters and emoji that no training example uses (bot/nlu/familiarity.py)."""
    import random

    from bot.nlu.normaliser import normalise
    from tests.bot.test_training_data import training_examples

    used = set("".join(text for _, _, text in training_examples()))
    # as the pipeline reads them: 夾 is 夹, which the training data uses
    rare = [chr(c) for c in range(0x4E00, 0x9FA6) if normalise(chr(c)) not in used]
    emoji = [chr(c) for c in range(0x1F300, 0x1F5FF) if normalise(chr(c)) not in used]
    rng = random.Random(13)
    return ["".join(rng.choice(rare if i % 2 else emoji) for _ in range(rng.randint(1, 5))) for i in range(count)]


async def test_nonsense_is_never_read_as_a_yes_or_a_no(agent):
    """A yes to a risk disclosure or a booking's summary must be said: the classifier read three
    rare-character strings in four, and every unknown emoji, as affirm (docs/nlu-evaluation.md, session 13)."""
    read = [(t, await _intent(agent, t)) for t in _nonsense()]
    guessed = [(t, i) for t, i in read if i in ("affirm", "deny")]
    assert not guessed, guessed
    assert sum(i == "nlu_fallback" for _, i in read) >= len(read) * 3 // 4, read
