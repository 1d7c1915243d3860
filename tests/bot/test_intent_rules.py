"""The rules after the classifier: control messages, questions about our own products kept in scope,
and a leaked secret read as fraud."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.intent_rules import IntentRules, leaked_secret, rule_intent


@pytest.fixture(scope="module")
def rules():
    return IntentRules({})


@pytest.mark.parametrize(
    "text,intent",
    [
        ("我已阅读并知晓风险", "affirm"),
        ("已阅读", "affirm"),
        ("已閱讀，知曉風險", "affirm"),
        ("知道风险了", "affirm"),
        ("我了解相关风险，可以继续", "affirm"),
        ("好的", "affirm"),
        ("嗯嗯，可以", "affirm"),
        ("我知道了", "affirm"),
        ("好的👌", "affirm"),
        ("OK的", "affirm"),
        ("明白了，继续吧", "affirm"),
        ("转人工", "request_human"),
        ("人工客服", "request_human"),
        ("转人公", "request_human"),  # voice input's 人工
        ("帮我转一下人工！", "request_human"),
        ("我要找真人客服", "request_human"),
        ("算了", "deny"),
        ("算了吧", "deny"),
        ("不约了", "deny"),
        ("先不办了", "deny"),
        ("不想理财了", "deny"),
        ("取消", "deny"),
        ("取消投诉", "deny"),
        ("取消预约", "cancel_appointment"),
        ("帮我把明天的预约取消了", "cancel_appointment"),
        ("明天临时有事去不了了，帮我取消预约", "cancel_appointment"),
        ("帮我取消下周二上午10点在国贸支行的预约", "cancel_appointment"),
        ("取消明天10:00的预约", "cancel_appointment"),
        ("预约不要了", "cancel_appointment"),
        ("预约了还能取消吗", "cancel_appointment"),
        ("约好了还能取消吗", "cancel_appointment"),
        ("怎么取消预约", "cancel_appointment"),
        ("取消預約", "cancel_appointment"),
        ("取消预约 YY261205ABC123", "cancel_appointment"),
        ("yy261205-abc123 这个不去了", "cancel_appointment"),
        ("取消预约提醒", "cancel_reminder"),
        ("取消这个预约", "cancel_appointment"),
        ("保留预约", "deny"),
        ("还是保留吧", "deny"),
        ("不用取消了", "deny"),
        ("我的预约", "list_appointments"),
        ("查一下我的预约", "list_appointments"),
        ("我预约的是几点来着", "list_appointments"),
        ("我约的是哪个网点", "list_appointments"),
        ("我预约成功了吗", "list_appointments"),
        ("我的预约号是多少", "list_appointments"),
        ("預約記錄在哪看", "list_appointments"),
        ("我的预约取消了吧", "cancel_appointment"),
        ("下次再说吧", "deny"),
        ("取消提醒", "cancel_reminder"),
        ("不要提醒我了", "cancel_reminder"),
        ("把提醒都取消了", "cancel_reminder"),
        ("我设了哪些提醒", "list_reminders"),
        ("提醒我", "set_reminder"),
        ("好的，到时候提醒我吧", "set_reminder"),
        ("我的三年定期2027年3月1日到期，到时候提醒我", "set_reminder"),
        ("我的大額存單明年三月一號到期，到時候提醒我", "set_reminder"),
        ("提醒我下个月5号理财到期", "set_reminder"),  # the request first
        ("麻烦到时候提醒我一下 定期3月1号到期", "set_reminder"),
        ("我投诉的事情处理得怎么样了", "ask_ticket_status"),
        ("投诉的事有结果了吗", "ask_ticket_status"),
        ("我之前的投诉有结果了吗", "ask_ticket_status"),
        ("我上次的投诉处理了没", "ask_ticket_status"),
        ("能免吗", "ask_fees"),  # after a fee was named: that fee
        ("那可以减免吗", "ask_fees"),
        ("怎么才能免", "ask_fees"),
        ("怎么办啊 急", "inform"),  # what to do now: the step that matters after an emergency
        ("那我现在该怎么办", "inform"),
        ("急死了 在线等", "inform"),
        ("你们有什么功能", "ask_capabilities"),
        ("这里能办哪些业务", "ask_capabilities"),
        ("20万可以吗", "ask_eligibility"),  # after a product was discussed: that product's minimum
        ("5万够不够", "ask_eligibility"),
        ("我只有3万能买吗", "ask_eligibility"),
        ("二十萬可以嗎", "ask_eligibility"),
    ],
)
def test_control_messages(rules, text, intent):
    assert rule_intent(text, rules._rules) == intent


@pytest.mark.parametrize(
    "text",
    [
        "人工客服电话是多少",
        "这部电视剧的主人公是谁",
        "风险大不大",
        "我想了解一下风险",
        "取消短信通知怎么弄",
        "不用预约可以直接去吗",
        "年费能免吗",  # a fee named: the classifier's
        "免费吗",
        "提醒我带身份证",  # no maturity
        "转账到人工账户",
        "我不想还信用卡了怎么办",
        "算了算利息是多少",
        "取消短信提醒",
        "怎么取消动账提醒",
        "关闭短信提醒",
        "定期到期了会提醒我吗",
        "三年定期到期前会有短信提醒吗",
        "YY261205ABC123",  # a code alone: not said to be cancelled
        "预约取号怎么操作",
        "取消信用卡",
        "预约怎么改时间",
        "我想预约明天上午",
        "预约的时候要带什么",
        "我预约的业务要带什么材料",
        "不用预约可以直接去吗",
        "手机银行有什么功能",  # a product's features
        "有什么功能",  # after a product: its features
        "卡丢了怎么办",  # a subject: the classifier's
        "密码忘了怎么办",
        "取20万可以吗",  # a cash withdrawal
        "定期20万可以吗",  # a subject named: the classifier's
        "1000可以吗",  # a time typed without its colon, in a booking
        "3点可以吗",
    ],
)
def test_questions_are_left_to_the_classifier(rules, text):
    assert rule_intent(text, rules._rules) is None


def _message(text: str, intent: str, entities: list[dict] | None = None) -> Message:
    ranking = [{"name": intent, "confidence": 0.6}, {"name": "ask_product_info", "confidence": 0.3}]
    return Message(data={"text": text, "intent": ranking[0], "intent_ranking": ranking, "entities": entities or []})


@pytest.mark.parametrize(
    "text,entities,expected",
    [
        ("澜山沪深300指数增强基金怎么样", [], "ask_product_info"),
        ("黄金TD怎么交易", [{"entity": "product", "value": "黄金TD"}], "ask_product_info"),
        ("工行的纸黄金怎么买", [{"entity": "product", "value": "纸黄金"}], "out_of_scope"),
        ("支付宝的手机银行怎么登录", [{"entity": "product", "value": "手机银行"}], "out_of_scope"),
        ("今天天气怎么样", [], "out_of_scope"),
        # the bank's name alone does not make a question the bank's business: the bank as a company is out of scope
        ("云澜银行是哪一年上市的", [], "out_of_scope"),
        ("雲瀾銀行總行在哪個城市", [], "out_of_scope"),
        (
            "拿工行的储蓄卡给你们信用卡还钱行不行",
            [{"entity": "product_type", "value": "credit_card", "start": 10, "end": 13}],
            "ask_product_info",
        ),
        (
            "工行信用卡年费多少",
            [{"entity": "product_type", "value": "credit_card", "start": 2, "end": 5}],
            "out_of_scope",
        ),
    ],
)
def test_our_products_are_in_scope_unless_another_institution_owns_them(rules, text, entities, expected):
    message = _message(text, "out_of_scope", entities)
    rules.process([message])
    assert message.get("intent")["name"] == expected


def _subject(text: str, said: str, entity: str = "product_type", value: str = "debit_card") -> dict:
    start = text.index(said)
    return {"entity": entity, "value": value, "start": start, "end": start + len(said)}


@pytest.mark.parametrize(
    "text,said,classifier_read,expected",
    [
        ("借记卡", "借记卡", "report_lost_card", "inform"),  # the typed label of a category button
        ("那白金卡呢", "白金卡", "ask_fees", "inform"),
        ("就大额存单吧", "大额存单", "apply_product", "inform"),
        ("借记卡", "借记卡", "ask_product_info", "ask_product_info"),  # a reading of the subject is kept
        ("借记卡丢了", "借记卡", "report_lost_card", "report_lost_card"),  # more than the subject
        ("借记卡年费多少", "借记卡", "ask_fees", "ask_fees"),
    ],
)
def test_a_bare_subject_moves_the_conversation_along(rules, text, said, classifier_read, expected):
    message = _message(text, classifier_read, [_subject(text, said)])
    rules.process([message])
    assert message.get("intent")["name"] == expected


def test_a_rule_keeps_the_rest_of_the_ranking(rules):
    message = _message("转人工", "faq")
    rules.process([message])
    ranking = message.get("intent_ranking")
    assert ranking[0] == {"name": "request_human", "confidence": 1.0}
    assert [r["name"] for r in ranking[1:]] == ["faq", "ask_product_info"]


@pytest.mark.parametrize(
    "text",
    [
        "不小心把验证码告诉了客服 卡里钱暂时还在 现在该怎么办",
        "对方让我报了验证码",
        "我把网银密码告诉了一个自称银行技术员的人",
        "刚才那个人说要退款 我把卡背面三位数念给他了",
        "点了短信里的链接 输入了卡号密码",
        "验证码被骗走了",
        "開了屏幕共享 他們看到了我的驗證碼",
        "我俾咗個驗證碼佢",  # Cantonese: 我给了个验证码他
        "我把验证码给他了",
        "密码给人了",
        "刚才犯傻 把CVV发到一个群里了",
        "钱还没少 但验证码已经说出去了",
        "昨天把验证吗告诉了一个陌生人",
    ],
)
def test_a_secret_given_away_is_fraud(rules, text):
    from bot.nlu.normaliser import normalise

    assert leaked_secret(normalise(text))
    message = _message(normalise(text), "faq")
    rules.process([message])
    assert message.get("intent")["name"] == "report_fraud"


@pytest.mark.parametrize(
    "text",
    [
        "验证码收到了 但输进去提示已失效",
        "ATM上输了几次密码 现在提示卡被锁了",
        "有人打电话要验证码 我没告诉他 直接挂了",
        "验证码能告诉客服吗",
        "密码忘了怎么重置",
        "柜员说了初始密码 我忘了",
        "转账时收不到验证码",
        "我只报了姓名，验证码和密码都没说",
        "柜员告诉了我初始密码 在哪改",
        "网银输错几次密码给锁住了 要等多久能解",
        "双卡手机 验证码发到哪张卡上了",
        "万一密码泄露了应该怎么做",
        "验证码被手机管家拦截了",
    ],
)
def test_a_secret_kept_is_left_to_the_classifier(rules, text):
    assert not leaked_secret(text)
    message = _message(text, "faq")
    rules.process([message])
    assert message.get("intent")["name"] == "faq"


def _faq_message(topic_confidence: float, runner_up: str, runner_up_confidence: float) -> Message:
    ranking = [
        {"name": "faq", "confidence": 0.6},
        {"name": runner_up, "confidence": runner_up_confidence},
        {"name": "ask_fees", "confidence": 0.01},
    ]
    selector = {
        "faq": {"response": {"confidence": topic_confidence, "utter_action": "utter_faq/card_pin_reset_unlock"}}
    }
    data = {"text": "钱包丢了 里面有卡和身份证 先做什么", "intent": ranking[0], "intent_ranking": ranking}
    return Message(data={**data, "response_selector": selector})


@pytest.mark.parametrize(
    "topic_confidence,runner_up,runner_up_confidence,expected",
    [
        (0.17, "report_lost_card", 0.35, "report_lost_card"),  # no topic fits, a lost card close behind
        (0.17, "report_fraud", 0.25, "report_fraud"),
        (0.80, "report_lost_card", 0.35, "faq"),  # a topic fits: the how-to answers
        (0.17, "report_lost_card", 0.10, "faq"),  # the emergency is not close
        (0.17, "ask_maturity", 0.35, "ask_maturity"),  # "理财到期了钱还没到卡上": any intent close behind
        (0.17, "inform", 0.40, "faq"),  # "企业电子对账": a question never becomes an answer to a form
        (0.17, "greet", 0.30, "faq"),  # nor a greeting
    ],
)
def test_a_faq_reading_without_a_topic_gives_way_to_the_intent_close_behind(
    topic_confidence, runner_up, runner_up_confidence, expected
):
    from bot.nlu.intent_rules import FaqWithoutTopic

    message = _faq_message(topic_confidence, runner_up, runner_up_confidence)
    FaqWithoutTopic({}).process([message])
    assert message.get("intent")["name"] == expected
    if expected != "faq":
        assert [r["name"] for r in message.get("intent_ranking")][:2] == [expected, "faq"]


@pytest.mark.parametrize(
    "text,understood",
    [
        ("。", False),
        ("……", False),
        ("？？？", False),
        ("+++", False),
        ("@#￥%", False),
        ("👍", True),  # a picture that says yes: the classifier reads it
        ("🙏🙏", True),
        ("好。", True),
        ("6666", True),
        ("ok", True),
    ],
)
def test_a_message_of_only_punctuation_is_not_understood(rules, text, understood):
    """ "。" after a risk disclosure or a booking's summary is not a yes: the classifier read it as affirm
    (0.94); the bot now asks the customer to say it in words."""
    message = _message(text, "affirm")
    rules.process([message])
    assert (message.get("intent")["name"] != "nlu_fallback") is understood


@pytest.fixture(scope="module")
def read_words(tmp_path_factory):
    """The normaliser and the bank's jieba tokenizer, as the pipeline runs them."""
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    from bot.nlu.jieba_tokenizer import BankJiebaTokenizer
    from bot.nlu.normaliser import ChineseNormaliser

    storage = LocalModelStorage(tmp_path_factory.mktemp("tokenizer"))
    tokenizer = BankJiebaTokenizer.create(BankJiebaTokenizer.get_default_config(), storage, Resource("t"), None)
    normaliser = ChineseNormaliser({})

    def read(messages: list[Message]) -> list[Message]:
        return tokenizer.process(normaliser.process(messages))

    return read


def _unfamiliar_words(tmp_path, read_words, examples):
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.nlu.familiarity import UnfamiliarWords

    storage, resource = LocalModelStorage(tmp_path), Resource("unfamiliar")
    context = ExecutionContext(graph_schema=None, node_name="unfamiliar")
    training = [Message(data={"text": text, "intent": intent}) for text, intent in examples]
    UnfamiliarWords.create({}, storage, resource, context).train(TrainingData(read_words(training)))
    return UnfamiliarWords.load({}, storage, resource, context)


TRAINING = [
    ("好的", "affirm"),
    ("👍", "affirm"),
    ("不用了", "deny"),
    ("信用卡怎么挂失", "report_lost_card"),
    ("我在杭州", "inform"),
    ("我的卡丢了", "report_lost_card"),
]


@pytest.mark.parametrize(
    "text,guess,entities,understood",
    [
        ("嗀哫嚭", "affirm", [], False),  # rare characters: the classifier read a yes (0.85)
        ("👂", "affirm", [], False),  # an emoji no example uses
        ("👎", "deny", [], False),
        ("asdfgh", "affirm", [], False),  # a keyboard mash
        ("hhhh", "greet", [], False),
        ("嗀哫嚭", "complain", [], False),  # a guessed subject that starts a form
        ("👍", "affirm", [], True),  # a picture the training data uses
        ("好的👂", "affirm", [], True),  # one known word is enough
        ("好的", "affirm", [], True),
        ("好嘅", "affirm", [], True),  # Cantonese is read after normalising: 好的
        ("卡唔見咗", "report_lost_card", [], True),
        ("13812345678", "inform", [], True),  # numbers are answers, not nonsense
        ("6666", "affirm", [], True),
        ("王小明", "inform", [], True),  # a form answer: the answer shows what was taken
        ("布尔津县", "out_of_scope", [], True),  # out of scope: the answer says so
        ("额济纳旗", "ask_branch", [{"entity": "city", "value": "额济纳旗"}], True),  # the catalogue knows it
    ],
)
def test_a_message_of_words_never_seen_in_training_is_not_understood(
    tmp_path, read_words, text, guess, entities, understood
):
    component = _unfamiliar_words(tmp_path, read_words, TRAINING)
    message = read_words([_message(text, guess)])[0]
    message.set("entities", entities)
    component.process([message])
    intent = message.get("intent")["name"]
    assert (intent != "nlu_fallback") is understood
    # the parse says so whatever the reading: a form takes no free answer made of such words
    assert bool(message.get("unfamiliar_words")) is (text in ("王小明", "布尔津县") or not understood)
    if understood:
        assert intent == guess  # the classifier's reading is untouched
    else:
        assert [r["name"] for r in message.get("intent_ranking")][:2] == ["nlu_fallback", guess]


def test_before_training_nothing_is_unfamiliar(tmp_path, read_words):
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    from bot.nlu.familiarity import UnfamiliarWords

    context = ExecutionContext(graph_schema=None, node_name="unfamiliar")
    component = UnfamiliarWords.load({}, LocalModelStorage(tmp_path), Resource("never-trained"), context)
    message = read_words([_message("嗀哫嚭", "affirm")])[0]
    component.process([message])
    assert message.get("intent")["name"] == "affirm"


@pytest.mark.parametrize(
    "text,by_rule",
    [
        ("好的", "affirm"),
        ("知道了", "affirm"),
        ("我已阅读并知晓风险", "affirm"),
        ("嗯？", None),  # a question mark: a question, not a yes
        ("好的？", None),
        ("可以吗", None),
        ("必须确认吗", None),
        ("好的谢谢", None),  # thanks, read by the classifier
        ("好的再见", None),
        ("然后呢", None),
    ],
)
def test_a_yes_said_plainly_is_marked_as_decided_by_rule(rules, text, by_rule):
    """A risk disclosure is acknowledged only by a yes a rule read (actions/risk.py: said_yes_plainly); the
    classifier reads "必须确认吗" and "嗯？" as affirm at 0.999."""
    message = _message(text, "affirm")
    rules.process([message])
    assert message.get("intent_rule") == by_rule
    assert message.as_dict(only_output_properties=True).get("intent_rule") == by_rule  # reaches the parse


@pytest.mark.parametrize(
    "text,classifier_read",
    [
        ("什么意思", "complain"),  # opened a complaint form
        ("什麼意思？", "complain"),
        ("啥意思", "ask_product_info"),
        ("这是什么意思啊", "ask_product_info"),
        ("没看懂", "deny"),  # left the form the customer was in
        ("看不懂", "deny"),
        ("我没听懂", "deny"),
        ("不明白你说的", "deny"),
        ("你说的我不懂", "deny"),
        ("不懂", "deny"),
        ("能说清楚点吗", "affirm"),  # a yes nobody said
        ("能解释一下吗", "ask_product_info"),
        ("能简单解释一下吗", "ask_product_info"),
        ("你在说什么", "ask_capabilities"),
        ("再说一遍", "affirm"),
        ("说人话", "request_human"),
        ("太复杂了", "complain"),  # opened a complaint form
        ("你说的太复杂了 看不懂", "complain"),
        ("这也太绕了吧", "affirm"),
    ],
)
def test_a_customer_who_did_not_follow_is_not_understood_and_says_so(rules, text, classifier_read):
    """ "什么意思" after an answer: not a complaint, a no or a product question, but a customer the bot lost.
    The parse says why (the fallback action apologises and offers a person to explain)."""
    message = _message(text, classifier_read)
    rules.process([message])
    assert message.get("intent") == {"name": "nlu_fallback", "confidence": 1.0}
    assert message.as_dict(only_output_properties=True).get("intent_rule") == "did_not_follow"


@pytest.mark.parametrize(
    "text",
    [
        "大额存单是什么意思",  # a question about a product
        "LPR什么意思",
        "网银转账限额什么意思",
        "不清楚",  # an answer ("I don't know"), not a complaint about the bot
        "不知道",
        "不懂理财，有什么推荐",
        "我不懂怎么开通手机银行",
        "看不懂信用卡账单怎么办",
        "刚才说的那个是啥意思",  # the product just named: a product question (data/nlu/consultation.yml)
        "开户手续太复杂了",  # a grievance about the bank's procedure, the classifier's (complain)
        "太复杂了 能不能简化一下办理流程",
    ],
)
def test_a_question_that_says_it_does_not_understand_something_is_left_to_the_classifier(rules, text):
    assert rule_intent(text, rules._rules) is None


@pytest.mark.parametrize(
    "text,classifier_read",
    [
        ("不对，我不是问这个", "deny"),  # the classifier's no answered "好的，还有什么可以帮您"
        ("我问的不是这个", "deny"),
        ("不是这个意思", "deny"),
        ("这不是我想要的答案", "deny"),
        ("不是我问的", "deny"),
        ("你没懂我的意思", "out_of_scope"),  # was told "超出服务范围"
        ("你理解错了吧", "deny"),
        ("答非所问", "out_of_scope"),
        ("你这回答牛头不对马嘴", "out_of_scope"),
        ("不對，我問的不是這個", "deny"),  # Traditional
    ],
)
def test_a_customer_who_says_the_bot_misread_them_is_a_no_that_says_so(rules, text, classifier_read):
    """The parse says why (the no's action apologises, asks again and keeps the misread question for staff)."""
    message = _message(text, classifier_read)
    rules.process([message])
    assert message.get("intent") == {"name": "deny", "confidence": 1.0}  # the fallback does not undo it
    assert message.as_dict(only_output_properties=True).get("intent_rule") == "not_what_i_asked"


@pytest.mark.parametrize(
    "text",
    [
        "不是的",  # a plain no
        "不是",
        "不对",
        "不对，是存三年",  # a correction that names what it means: the follow-up answers it
        "我不要这个",
        "客服机器人答非所问 太差劲了",  # a grievance: the classifier's (complain)
        "不是这个卡的年费 是信用卡的年费多少",  # a question of its own
    ],
)
def test_a_no_or_a_question_that_is_no_misreading_is_left_alone(rules, text):
    message = _message(text, "deny")
    rules.process([message])
    assert message.as_dict(only_output_properties=True).get("intent_rule") != "not_what_i_asked"


def test_a_reading_a_written_rule_decided_is_not_undone_for_unfamiliar_words(tmp_path, read_words, rules):
    """转人公 (voice input's 转人工): its words are in no training example, but the request-for-a-person
    rule read the whole message; the familiarity check runs after the rules and leaves that reading."""
    component = _unfamiliar_words(tmp_path, read_words, TRAINING)
    message = read_words([_message("转人公", "faq")])[0]
    rules.process([message])
    component.process([message])
    assert message.get("intent")["name"] == "request_human"
    nonsense = read_words([_message("嗀哫嚭", "affirm")])[0]  # no rule: still not understood
    rules.process([nonsense])
    component.process([nonsense])
    assert nonsense.get("intent")["name"] == "nlu_fallback"
