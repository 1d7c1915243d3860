"""Written Cantonese → Mandarin wording, character for character.

Customers in Hong Kong and Macau write the way they speak: 我嘅提款卡唔見咗 (我的提款卡不见了),
你係咪機械人 (你是否机器人), 張信用咭俾人碌咗 (张信用卡被人刷了). The training data is
Mandarin, so the NLU reads these words as noise. The table below rewrites the common Cantonese
function words and a few banking words into Mandarin of **the same length**, so entity offsets stay
valid (as :mod:`bot.nlu.normaliser` requires).

It works on Simplified text (after :func:`banktext.script.to_simplified`, which turns 係 into 系 and
嗰 into 𠮶), and it replaces only words Mandarin does not write: a lone 系 stays (系统, 关系), and so
do 仲裁 and 呢 as a particle.
"""

from __future__ import annotations

import re

__all__ = ["to_mandarin"]

#: Cantonese (Simplified script) → Mandarin of the same length. Longer entries win over shorter ones.
WORDS: dict[str, str] = {
    # thanks and please: 唔该 alone or at the end is thanks, before a request it is "please"
    "唔该晒": "谢谢你",
    "多谢晒": "谢谢你",
    "系唔系": "是不是",
    "系咪": "是否",
    "你系咪": "你是否",
    "我系咪": "我是否",
    "佢系咪": "他是否",
    "唔系": "不是",
    "就系": "就是",
    "即系": "就是",
    "都系": "都是",
    "还系": "还是",
    "定系": "还是",
    "我系": "我是",
    "你系": "你是",
    "佢系": "他是",
    "点算好": "怎么办",
    "点算": "咋办",
    "点样": "怎样",
    "边度": "哪里",
    "边个": "哪个",
    "边间": "哪间",
    "边张": "哪张",
    "乜嘢": "什么",
    "咩嘢": "什么",
    "几多": "多少",
    "呢个": "这个",
    "呢度": "这里",
    "呢张": "这张",
    "呢间": "这间",
    "呢排": "最近",
    "呢啲": "这些",
    "佢哋": "他们",
    "得唔得": "行不行",
    "使唔使": "要不要",
    "唔使": "不用",
    "倾偈": "聊天",
    "有冇": "有没",
    "碌卡": "刷卡",
    "碌咭": "刷卡",
    "碌咗": "刷了",
    "俾人": "被人",
    "畀人": "被人",
    "琴日": "昨天",
    "尋日": "昨天",
    "寻日": "昨天",
    "听日": "明天",
    "听朝": "明早",
    "下昼": "下午",
    "晏昼": "中午",
    "朝早": "早上",
    "而家": "现在",
    "闩门": "关门",
    "揾唔到": "找不到",
    "唔见": "不见",
    "仲有": "还有",
    "仲未": "还没",
    "仲系": "还是",
    "咗": "了",
    "嘅": "的",
    "喺": "在",
    "佢": "他",
    "哋": "们",
    "冇": "没",
    "唔": "不",
    "啲": "些",
    "嗰": "那",
    "𠮶": "那",
    "睇": "看",
    "揾": "找",
    "攞": "拿",
    "俾": "给",
    "畀": "给",
    "嚟": "来",
    "咭": "卡",
    "咁": "这",
    "嘢": "事",
    "㗎": "啊",
    "啩": "吧",
}

assert all(len(k) == len(v) for k, v in WORDS.items()), "a Cantonese word and its Mandarin must be as long"

#: Characters that make a Mandarin word with the entry's first or last character: the entry is not
#: read where one stands before (网点算, 那边个别) or after it (就系统, 听日本, 然而家长).
_X_DIAN = "网一重地站终起景焦亮观要优缺特盲热节据差快多晚早两几三半钟整零二四五六七八九十0-9有"
_X_BIAN = "那这旁身左右东西南北两一手周里外上下前后"
NOT_BEFORE = {
    **{word: _X_DIAN for word in ("点算好", "点算", "点样")},
    **{word: _X_BIAN for word in ("边度", "边个", "边间", "边张")},
    "而家": "然因从进反继",
}
NOT_AFTER = {
    **{word: "统列数" for word in WORDS if word.endswith("系")},
    "听日": "本语文剧元币",
    "听朝": "鲜廷代阳",
    "而家": "长庭属",
}

#: 唔该 before a request ("唔该帮我查下") is "please"; alone or at the end ("唔该你") it is thanks.
_PLEASE_OR_THANKS = "唔该"
_REQUEST_FOLLOWS = re.compile(r"\s*(?![你啊呀啦喇晒哂])[\u4e00-\u9fff]")


def _pattern(word: str) -> str:
    before, after = NOT_BEFORE.get(word), NOT_AFTER.get(word)
    return (f"(?<![{before}])" if before else "") + re.escape(word) + (f"(?![{after}])" if after else "")


_WORD = re.compile("|".join(_pattern(w) for w in sorted([*WORDS, _PLEASE_OR_THANKS], key=len, reverse=True)))


def to_mandarin(text: str) -> str:
    """``text`` (Simplified script) with its Cantonese words in Mandarin, of exactly the same length."""
    if not text or not _WORD.search(text):
        return text

    def mandarin(match: re.Match[str]) -> str:
        word = match.group(0)
        if word == _PLEASE_OR_THANKS:
            return "麻烦" if _REQUEST_FOLLOWS.match(text, match.end()) else "谢谢"
        return WORDS[word]

    return _WORD.sub(mandarin, text)
