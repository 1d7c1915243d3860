"""Written Cantonese read as Mandarin, character for character (banktext.cantonese)."""

import pytest

from banktext import to_simplified
from banktext.cantonese import WORDS, to_mandarin


def mandarin(text: str) -> str:
    return to_mandarin(to_simplified(text))


@pytest.mark.parametrize(
    "text,expected",
    [
        ("我嘅提款卡唔見咗", "我的提款卡不见了"),
        ("你係咪機械人", "你是否机械人"),
        ("唔該晒", "谢谢你"),
        ("唔該", "谢谢"),
        ("唔該你呀", "谢谢你呀"),
        ("唔該幫我查下餘額", "麻烦帮我查下余额"),
        ("張信用咭喺外國俾人碌咗兩筆", "张信用卡在外国被人刷了两笔"),
        ("點算好", "怎么办"),
        ("邊度有分行", "哪里有分行"),
        ("定期而家幾多利息", "定期现在多少利息"),
        ("我係學生 可唔可以申請信用咭", "我是学生 可不可以申请信用卡"),
        ("有冇人工客服", "有没人工客服"),
    ],
)
def test_cantonese_words_become_mandarin(text, expected):
    assert mandarin(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "你们系统又崩了",
        "就系统升级那几天",
        "我们是什么关系",
        "联系方式",
        "这个纠纷要仲裁吗",
        "卡呢",
        "网银转账限额是多少",
        "交易密码锁定 零点解锁",
        "去网点解冻要本人去吗",
        "这个网点算哪个区",
        "去网点样样都要排队",
        "那边个别网点周末开",
        "听日本同事说的",
        "然而家里人不同意",
        "宜家附近有网点吗",
        "",
        "😀 ok",
    ],
)
def test_mandarin_is_left_alone(text):
    assert to_mandarin(text) == text


def test_every_word_keeps_the_length():
    assert all(len(cantonese) == len(plain) for cantonese, plain in WORDS.items())
    text = "我張咭喺邊度俾人碌咗 唔該晒 點算好 𠮶間分行"
    assert len(mandarin(text)) == len(text)
