"""How the WeChat channel shapes text and reads WeChat's XML, without a server."""

from __future__ import annotations

import itertools

import pytest
import xmltodict
from wechatpy.replies import TextReply

from bot.channels.wechat import (
    MENU_HINT,
    TEXT_LIMIT,
    BadRequest,
    _cdata_safe,
    choose,
    pack_texts,
    parse_wechat_xml,
    render,
    split_text,
    utf8_len,
)
from tests.channels.fake_wechat import event_xml, message_xml, text_xml

ROW = "· 云澜整存整取定期储蓄存款：可全部或部分提前支取，提前支取部分按支取日活期挂牌利率计息。"
LONG = {
    "paragraphs": "\n\n".join(f"第{i}段：" + ROW * 3 for i in range(30)),
    "lines": "\n".join(f"{i}. " + ROW for i in range(120)),
    "sentences": "".join(f"第{i}句话说明一个事项。" for i in range(600)),
    "one unbroken run": "存" * 3000,
    "ascii words": " ".join(["deposit"] * 1500),
}


@pytest.mark.parametrize("case", sorted(LONG))
def test_long_text_is_split_within_the_limit_and_loses_nothing(case):
    text = LONG[case]
    pieces = split_text(text)
    assert len(pieces) >= 2
    assert all(0 < utf8_len(p) <= TEXT_LIMIT for p in pieces)
    squeeze = str.maketrans("", "", "\n ")
    assert "".join(pieces).translate(squeeze) == text.translate(squeeze)


def test_splits_fall_on_the_best_boundary_available():
    paragraphs = split_text(LONG["paragraphs"])
    assert all(p.startswith("第") and p.endswith("计息。") for p in paragraphs)  # whole paragraphs
    sentences = split_text(LONG["sentences"])
    assert all(p.endswith("。") for p in sentences)  # a sentence keeps its full stop


def test_short_texts_are_joined_into_as_few_messages_as_fit():
    texts = ["为您对比以下产品：", "利率：\n· A：1%\n· B：2%", "期限：\n· A：1年"]
    assert pack_texts(texts) == ["\n\n".join(texts)]
    many = [ROW * 5] * 7  # about 650 bytes each: three to a message
    packets = pack_texts(many)
    assert len(packets) == 3 and all(utf8_len(p) <= TEXT_LIMIT for p in packets)
    assert all(utf8_len(a + "\n\n" + b) > TEXT_LIMIT for a, b in itertools.pairwise(packets))  # none could merge
    assert "\n\n".join(packets) == "\n\n".join(many)  # order kept, nothing lost
    assert pack_texts([]) == [] and pack_texts(["  "]) == []


def test_buttons_become_one_numbered_menu_per_answer():
    texts, menu = render(
        [
            {"text": "费用如下"},
            {
                "text": "还有以下几款：",
                "buttons": [{"title": "金卡", "payload": "/a"}, {"title": "白金卡", "payload": "/b"}],
            },
            {"text": "需要推荐吗？", "buttons": [{"title": "帮我推荐", "payload": "/ask_recommendation"}]},
            {"image": "https://example.com/card.png"},
        ]
    )
    assert texts == [
        "费用如下",
        f"还有以下几款：\n1. 金卡\n2. 白金卡\n{MENU_HINT}",
        f"需要推荐吗？\n3. 帮我推荐\n{MENU_HINT}",
        "https://example.com/card.png",
    ]
    assert menu == ["/a", "/b", "/ask_recommendation"]


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("1", "/a"),
        ("３", "/c"),  # full-width
        ("二", "/b"),
        ("第2个", "/b"),
        (" 3。", "/c"),
        ("4", None),  # no such entry
        ("0", None),
        ("13800138000", None),
        ("1年", None),  # an answer, not a choice
        ("我选1", None),
    ],
)
def test_a_number_names_a_menu_entry(reply, expected):
    assert choose(reply, ["/a", "/b", "/c"]) == expected


def test_no_menu_no_choice():
    assert choose("1", []) is None


def test_reply_text_cannot_break_out_of_its_cdata_section():
    hostile = "答复]]><Content>伪造</Content><![CDATA[\x00\x07结束"
    xml = TextReply(source="gh", target="o", content=_cdata_safe(hostile)).render()
    parsed = xmltodict.parse(xml)["xml"]
    assert parsed["Content"] == "答复]]><Content>伪造</Content><![CDATA[结束"


def test_wechat_messages_are_read():
    text = parse_wechat_xml(text_xml("o1", "你好", 123))
    assert (text.type, text.source, text.content, text.id) == ("text", "o1", "你好", 123)
    event = parse_wechat_xml(event_xml("o1", "subscribe", 1700000000))
    assert (event.type, event.event, event.time) == ("event", "subscribe", 1700000000)
    image = parse_wechat_xml(message_xml("o1", "image", PicUrl="http://x/y.jpg", MediaId="m", MsgId=5))
    assert image.type == "image"


@pytest.mark.parametrize(
    "xml",
    [
        "<!DOCTYPE xml><xml><MsgType>text</MsgType></xml>",  # harmless to expat, refused anyway
        "<!-- comment --><xml></xml>",
        "<xml><ToUserName>a</ToUserName></xml>",
        "<xml>" + "<a>" * 10 + "</xml>",
        "",
    ],
)
def test_anything_else_is_a_bad_request(xml):
    with pytest.raises(BadRequest):
        parse_wechat_xml(xml)
