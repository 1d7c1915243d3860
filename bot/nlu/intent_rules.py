"""Guards after the intent classifier, for what a statistical guess gets wrong at the worst moment.

1. **Control messages** (``bot/resources/intent_rules.yml``): a whole message that is plainly an
   acknowledgement of a risk disclosure, a request for a person, or leaving ("算了", "不约了")
   gets that intent. These are short, and a wrong guess here costs most: a disclosure left
   unacknowledged, a customer who cannot reach a person or leave a form. A message of only
   punctuation or symbols ("。", "……", "？？？") is not understood (``nlu_fallback``, the bot asks
   to rephrase): the classifier read "。" as affirm, a yes nobody said.
2. **Our own products**: a question that names one of the bank's product brands
   (``bot/resources/own_brands.txt``, generated from the seed: "澜山沪深300指数增强基金怎么样"),
   or a product of our catalogue (a ``product`` entity from the generated lookup table:
   "黄金TD怎么交易"), and no other institution (``bot/resources/other_institutions.txt``:
   "工行的纸黄金" stays out), is the bank's business: ``out_of_scope`` gives way to the best
   in-scope intent. So is a product category the customer calls ours (你们的信用卡, 贵行储蓄卡),
   even when another bank or platform is the other side of it ("拿工行的储蓄卡给你们信用卡还钱",
   the contract: using OUR card with another platform is in scope). The component therefore
   runs after the entity extractors.
3. **A leaked secret**: a customer who says they already gave a one-time code, a password or the
   CVV to someone ("不小心把验证码告诉了客服", "对方让我报了验证码", "验证码被骗走了") is in a fraud
   emergency, however long the story around it: ``report_fraud`` (the contract's boundary rule:
   leaked card data is report_fraud). Not when they refused, did not receive a code, or typed their
   own password at an ATM (no one else in the message).

4. **A bare subject**: a message that names only a product or a kind of product, with at most a
   particle around it ("借记卡", "那白金卡呢", "就大额存单吧"), answers the assistant's question or
   moves the subject along (``inform``: the last question is asked again about it). The classifier
   read the typed label of a category button, "借记卡", as a lost card. Left alone when it read
   ``inform`` or ``ask_product_info`` already.

5. **A FAQ reading needs a topic** (:class:`FaqWithoutTopic`, after the FAQ response selector):
   ``faq`` with no topic that fits gives way to the intent close behind it ("钱包丢了 …先做什么"
   is a lost card, not the PIN-reset how-to).

The rules are written from the NLU contract, not fitted to evaluation questions; their effect
is measured in docs/nlu-evaluation.md.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from rasa.engine.graph import GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import RESPONSE_SELECTOR_PREDICTION_KEY, RESPONSE_SELECTOR_PROPERTY_NAME
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from banktext import to_simplified
from banktext.intents import CONVERSATION_CONTROL, DECIDED_BY_RULE, FORM_ANSWER, NOT_UNDERSTOOD
from bot.nlu.bank_reference import WordList
from bot.nlu.components import CreatedFromConfig, FingerprintsItsSources

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
OUT_OF_SCOPE = "out_of_scope"
AFFIRM = "affirm"
QUESTION_MARKS = "?？"
REPORT_FRAUD = "report_fraud"
#: Intents that move a conversation along rather than ask something: a question with no FAQ topic
#: that fits never becomes one of them.
CONVERSATION_INTENTS = CONVERSATION_CONTROL | {FORM_ANSWER}
_NOISE = re.compile(r"[\s\u3000·•・,，.。!！?？:：;；、'\"“”‘’()（）\[\]【】~～…—\-]+")


#: What may stand around a bare subject: "那借记卡呢", "信用卡吧", "就大额存单".
_AROUND_SUBJECT = re.compile(r"(?:那|那个|就|还是|要|选)?(?:的)?(?:呢|吧|啊|呀|哦|好了|就行|就好)?")
SUBJECT_ENTITIES = ("product_type", "product")
SUBJECT_INTENTS = (FORM_ANSWER, "ask_product_info")


def names_only_a_subject(text: str, entities: list[dict[str, Any]]) -> bool:
    """Whether the message is a product or a kind of product and nothing more ("借记卡", "那白金卡呢")."""
    spans = sorted(
        (e["start"], e["end"])
        for e in entities
        if e.get("entity") in SUBJECT_ENTITIES and isinstance(e.get("start"), int) and isinstance(e.get("end"), int)
    )
    if not spans:
        return False
    rest, at = [], 0
    for start, end in spans:
        rest.append(text[at:start])
        at = max(at, end)
    rest.append(text[at:])
    return _AROUND_SUBJECT.fullmatch(squeeze("".join(rest))) is not None


def squeeze(text: str) -> str:
    """The message as the rules see it: Simplified, lower case, no spaces or punctuation."""
    return _NOISE.sub("", to_simplified(text or "")).lower()


class Rule(NamedTuple):
    intent: str
    pattern: re.Pattern
    #: what the parse records as decided (``DECIDED_BY_RULE``): the intent, unless the rule names a
    #: finer reading (``did_not_follow`` is not understood, said in words)
    label: str


_WORDS = re.compile(r"<<(\w+)>>")


@lru_cache(maxsize=4)
def load_rules(path: str) -> tuple[Rule, ...]:
    """The rules in file order; a pattern's ``<<name>>`` is the file's shared ``words: name`` (a
    non-capturing group), so that one list of day words serves every pattern that needs it."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    words = data.get("words") or {}

    def expand(pattern: str) -> str:
        return _WORDS.sub(lambda m: f"(?:{words[m.group(1)]})", pattern)

    return tuple(
        Rule(rule["intent"], re.compile(expand(pattern)), rule.get("label", rule["intent"]))
        for rule in data.get("rules", [])
        for pattern in rule["patterns"]
    )


@lru_cache(maxsize=4)
def load_words(path: str, places_path: str | None = None) -> WordList:
    """A one-per-line list, read as the bank-reference features read theirs; a missing file gives none."""
    places = places_path if places_path and Path(places_path).is_file() else None
    return WordList.read(path, places) if Path(path).is_file() else WordList(None)


#: A secret of the card or account: a one-time code, a password, the CVV on the back (with the
#: homophone typos customers make: 验证吗, 验正码, 密马).
_SECRET = (
    r"(?:验证码|验证吗|验正码|验证马|动态码|校验码|短信码|动态密码|密码|密马|cvv2?|cvn2?|安全码"
    r"|(?:卡背|背面)[^|]{0,4}(?:三位|3位|三个数|数字|号码))"
)
#: Verbs that hand a secret to someone by themselves: 告诉了, 泄露了, 报了, 念了.
_TELL = r"告诉|告知|泄露|泄漏|透露|报|念|交出"
#: Verbs that hand it over only with a receiver or a direction: 发给他, 说出去, 填进他们的网页.
_GIVE = r"说|讲|发|给|交|提供|填|输入|输|录入|读|写"
#: A person who can receive it.
_PERSON = r"(?:他们|她们|他|她|对方|别人|人家|那个人|那人|骗子|客服|陌生人|一个|那个|人)"
_HANDED_OVER = re.compile(
    rf"(?P<put>[把将][^|]{{0,6}}?)?(?P<secret>{_SECRET})(?P<gap>[^|]{{0,12}}?)(?:"
    rf"(?P<tell>{_TELL})(?:给|出)?(?:(?!我)[^|了]{{1,6}}?)?(?:听|看)?了"  # 验证码告诉了那个客服, 密码报给他了
    rf"|(?:{_TELL}|{_GIVE})?给(?:了(?!我)|{_PERSON})"  # 发给了一个自称客服的人, 密码给人了
    rf"|(?:{_TELL}|{_GIVE})?给(?P<given_to>(?!我)[^|了]{{1,6}}?)了"  # 发给所谓的客服了 (with someone named)
    rf"|(?:{_GIVE})(?P<into>到|进|在)[^|了]{{1,6}}?(?:上|里)?了"  # CVV发到群里了 (with someone named)
    rf"|(?:{_TELL}|{_GIVE})(?P<away>出去|出来)"  # 验证码说出去了
    rf"|(?:{_GIVE})(?P<inside>进去|上去|过去)"  # 输进去了 (with someone named)
    rf"|(?P<bare>{_GIVE})了"  # 把验证码和密码都给了 (with 把 and someone named)
    rf")"
    # 告诉了他验证码, 念了验证码, 填了卡号和验证码 (with someone named), 输进去了卡号密码
    rf"|(?:(?P<tell_first>{_TELL})|{_GIVE})(?:出|给|进去|进|出去|到|在)?了(?P<gap_after>(?!我)[^|]{{0,10}}?){_SECRET}"
)
#: Someone else, or their page, in the message: a secret typed or said with nobody named ("输了密码")
#: is the customer at an ATM or in our app.
_SOMEONE = re.compile(
    r"对方|他|她|别人|人家|那人|那个人|骗子|客服|陌生|警察|公安|检察|法院|公检法|链接|网页|网站|页面|二维码|共享"
    r"|屏幕|那边|快递|买家|卖家|中介|代办|贷款|qq|群里|电话|来电|自称|冒充|假冒|假的|的人|点进去|连结|老师"
)
#: Taken from the customer: "验证码被骗走了", "密码都被他看到了", "密码泄露了", or typed into a page a
#: message linked to ("点链接输入了密码").
_TAKEN = re.compile(
    rf"{_SECRET}[^|]{{0,3}}?(?:被[^|]{{0,5}}?(?:骗|套|盗|偷|拿走|拿去|拿到|截走|截获|知道|看到|看见)|泄露了|泄漏了|外泄|泄露出去)"
    rf"|(?:对方|他们|他|她|骗子|别人|人家)(?:都|也|就)?(?:看到|看见|拿到|知道|截获|获取|获得)了[^|]{{0,6}}?{_SECRET}"
    rf"|点(?:了|开|进|击)?(?:那个|一个|对方的?|短信里的?)?(?:链接|网址|连接|连结)[^|]{{0,8}}?"
    rf"(?:输入|输|填写?|提交)(?:了|进去)[^|]{{0,10}}?{_SECRET}"
)
#: Not done after all ("没告诉他", "差点说了", "我挂了") ...
_NOT_DONE = re.compile(r"没|不|未|别|拒绝|挂|差点|幸好|还好")
#: ... or not yet ("万一", "如果", "能不能").
_NOT_YET = re.compile(r"万一|如果|假如|要是|假设|会不会|能不能|可不可以|可以吗|怕|是否")
_CLAUSE_END = re.compile(r"[,，.。!！?？;；\n]+")


def leaked_secret(text: str) -> bool:
    """Whether the customer says they already gave a card or account secret to someone else."""
    # the message as the rules see it, with "|" where a clause ends: a secret and a verb in
    # different clauses ("我只报了姓名，验证码没说") are not one statement
    key = squeeze(_CLAUSE_END.sub("|", text or "")).strip("|")
    someone = bool(_SOMEONE.search(key))
    for match in _TAKEN.finditer(key):
        if not _NOT_DONE.search(match.group(0)) and not _NOT_YET.search(key[max(0, match.start() - 8) : match.end()]):
            return True
    for match in _HANDED_OVER.finditer(key):
        gap = match.group("gap") if match.group("secret") else match.group("gap_after")
        before = key[max(0, match.start() - 2) : match.start()]
        if _NOT_DONE.search((gap or "") + before) or _NOT_YET.search(key[max(0, match.start() - 8) : match.end()]):
            continue
        if match.group("into") or match.group("inside") or match.group("given_to"):
            told = someone
        elif match.group("bare"):
            told = someone and bool(match.group("put"))
        elif match.group("secret"):
            told = True  # a telling verb, a receiver or "出去"
        else:
            told = bool(match.group("tell_first")) or someone
        if told:
            return True
    return False


#: The customer calls what follows ours: 你们的, 贵行, 云澜银行的.
_OURS_BEFORE = re.compile(r"(?:你们|贵行|云澜)(?:银行)?的?$")


def _calls_a_product_ours(text: str, entities: list[dict[str, Any]]) -> bool:
    """Whether a product category comes right after 你们 / 贵行 / 云澜 ("给你们信用卡还钱")."""
    return any(
        e.get("entity") == "product_type"
        and _OURS_BEFORE.search(text[max(0, e.get("start", 0) - 6) : e.get("start", 0)])
        for e in entities
    )


def decide(message: Message, intent: str) -> None:
    """Make ``intent`` the message's intent by rule: held as sure (1.0, so the fallback does not undo
    it), the classifier's ranking kept behind it."""
    top = {INTENT_NAME_KEY: intent, PREDICTED_CONFIDENCE_KEY: 1.0}
    rest = [r for r in message.get(INTENT_RANKING_KEY) or [] if r[INTENT_NAME_KEY] != intent]
    message.set(INTENT, top, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [top, *rest], add_to_output=True)


def says_nothing(text: str) -> bool:
    """Only punctuation and symbols ("。", "……", "？？？", "+++"): nothing to read an intent from.
    Emoji are pictures that say something (👍, 🙏) and are left to the classifier."""
    return bool(text.strip()) and not any(char.isalnum() or unicodedata.category(char) == "So" for char in text)


def matching_rule(text: str, rules: tuple[Rule, ...]) -> Rule | None:
    """The rule whose pattern matches the whole message, if any."""
    key = squeeze(text)
    if not key or len(key) > 40:
        return None
    return next((rule for rule in rules if rule.pattern.fullmatch(key)), None)


def rule_intent(text: str, rules: tuple[Rule, ...]) -> str | None:
    """The intent whose pattern matches the whole message, if any."""
    rule = matching_rule(text, rules)
    return rule.intent if rule else None


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class IntentRules(FingerprintsItsSources, CreatedFromConfig, GraphComponent):
    """Runs after the intent classifier and before the fallback; changes only what its rules say."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "rules_path": str(RESOURCES / "intent_rules.yml"),
            "brands_path": str(RESOURCES / "own_brands.txt"),
            "others_path": str(RESOURCES / "other_institutions.txt"),
            "places_path": str(RESOURCES / "places.txt"),  # a bank named after a place is someone else
        }

    @classmethod
    def files_read(cls, config: dict[str, Any]) -> list[str]:
        config = {**cls.get_default_config(), **config}
        return [config["rules_path"], config["brands_path"], config["others_path"], config["places_path"]]

    def __init__(self, config: dict[str, Any]) -> None:
        config = {**self.get_default_config(), **config}
        self._rules = load_rules(config["rules_path"])
        self._brands = load_words(config["brands_path"])
        self._others = load_words(config["others_path"], config["places_path"])

    def _decide(self, message: Message) -> None:
        text = message.get(TEXT) or ""
        intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
        ranking = list(message.get(INTENT_RANKING_KEY) or [])
        chosen = label = None
        if says_nothing(text):
            chosen = label = NOT_UNDERSTOOD
        elif rule := matching_rule(text, self._rules):
            chosen, label = rule.intent, rule.label
        if chosen == AFFIRM and any(mark in text for mark in QUESTION_MARKS):
            chosen = None  # "嗯？", "好的？": a question, not a yes
        if chosen is not None:
            message.set(DECIDED_BY_RULE, label, add_to_output=True)
        if chosen is None and leaked_secret(text):
            chosen = REPORT_FRAUD
        if chosen is None and intent not in SUBJECT_INTENTS and names_only_a_subject(text, message.get(ENTITIES) or []):
            chosen = FORM_ANSWER
        if chosen is None and intent == OUT_OF_SCOPE and self._about_our_products(message):
            chosen = next((r[INTENT_NAME_KEY] for r in ranking if r[INTENT_NAME_KEY] != OUT_OF_SCOPE), None)
        confidence = float((message.get(INTENT) or {}).get(PREDICTED_CONFIDENCE_KEY) or 0)
        if chosen is not None and (chosen != intent or confidence < 1.0):
            # held as sure also where the classifier agreed unsurely: the fallback must not undo a
            # reading a rule decided ("不对，我不是问这个" read as a no at 0.15 is still that no)
            decide(message, chosen)

    def _about_our_products(self, message: Message) -> bool:
        text = to_simplified(message.get(TEXT) or "")
        if _calls_a_product_ours(text, message.get(ENTITIES) or []):
            return True
        if self._others.found_in(text):
            return False
        names_ours = self._brands.found_in(text)
        return names_ours or any(e.get("entity") == "product" for e in message.get(ENTITIES) or [])

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._decide(message)
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class FaqWithoutTopic(FingerprintsItsSources, CreatedFromConfig, GraphComponent):
    """Runs after the FAQ response selector. ``faq`` means "one of the FAQ's how-tos answers this";
    when none fits (the selector's best below ``min_topic_confidence``) and another intent is close
    behind (at least ``min_runner_up``), that intent is the reading: "钱包丢了 里面有储蓄卡信用卡和
    身份证 先做什么" is a lost card, not the PIN-reset how-to its best topic would give."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"retrieval_intent": "faq", "min_topic_confidence": 0.3, "min_runner_up": 0.2}

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = {**self.get_default_config(), **config}

    def _decide(self, message: Message) -> None:
        retrieval = self._config["retrieval_intent"]
        if (message.get(INTENT) or {}).get(INTENT_NAME_KEY) != retrieval:
            return
        selected = ((message.get(RESPONSE_SELECTOR_PROPERTY_NAME) or {}).get(retrieval) or {}).get(
            RESPONSE_SELECTOR_PREDICTION_KEY
        ) or {}
        if float(selected.get(PREDICTED_CONFIDENCE_KEY) or 0) >= self._config["min_topic_confidence"]:
            return
        ranking = list(message.get(INTENT_RANKING_KEY) or [])
        runner_up = ranking[1] if len(ranking) > 1 else {}
        if runner_up.get(INTENT_NAME_KEY) in CONVERSATION_INTENTS:
            return  # "企业电子对账" is a question, not an answer to a form's question nor a greeting
        if float(runner_up.get(PREDICTED_CONFIDENCE_KEY) or 0) >= self._config["min_runner_up"]:
            decide(message, runner_up[INTENT_NAME_KEY])

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._decide(message)
        return messages
