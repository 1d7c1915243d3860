"""Which product or category the customer means, from this message or the conversation."""

from __future__ import annotations

import dataclasses
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from rasa_sdk import Tracker
from sqlalchemy.orm import Session

from actions.common import latest_entities
from banktext.wordlists import read_word_list
from knowledge import queries as q
from knowledge.queries import CategoryView, ProductView
from knowledge.text import normalise

#: How far behind the best match another may be and still make the name ambiguous.
AMBIGUITY_MARGIN = 0.08
#: A product name found inside a longer message must cover at least this score.
MENTION_SCORE = 0.62


@dataclasses.dataclass
class Resolution:
    product: ProductView | None = None
    category: CategoryView | None = None
    candidates: list[ProductView] = dataclasses.field(default_factory=list)
    not_found: str | None = None  # what the customer named that the catalogue lacks
    kinds: tuple[str, ...] = ()  # the categories to choose among when none is clear ("贷款": the loans)


def button(intent: str, product_name: str) -> dict[str, str]:
    """A button that asks ``intent`` again about one product."""
    return {"title": product_name, "payload": payload(intent, product=product_name)}


def payload(intent: str, **entities: Any) -> str:
    return f"/{intent}{json.dumps(entities, ensure_ascii=False)}"


def category_buttons(s: Session, intent: str, only: tuple[str, ...] = ()) -> list[dict[str, str]]:
    return [
        {"title": c.name, "payload": payload(intent, product_type=c.code)}
        for c in q.list_categories(s)
        if not only or c.code in only
    ]


def _pick(matches: list[q.ProductMatch], text: str = "") -> Resolution:
    best = matches[0]
    close = [m for m in matches if best.score - m.score <= AMBIGUITY_MARGIN]
    if best.how == "exact" or len(close) == 1:
        return Resolution(product=best.product)
    # "银发专享大额存单": the candidate whose own name the customer wrote wins over the generic ones
    named = best_named([m.product for m in close], text)
    if named:
        return Resolution(product=named)
    return Resolution(candidates=[m.product for m in close[:5]])


#: Words every product of a kind shares; they tell products apart no better than the kind does.
GENERIC = (
    "云澜",
    "澜山",
    "澜安",
    "代销",
    "银行",
    "个人",
    "贷款",
    "存款",
    "储蓄",
    "信用卡",
    "信用",
    "理财",
    "基金",
    "保险",
    "产品",
    "业务",
    "公司",
    "企业",
    "单位",
)


def _distinct(name: str) -> str:
    key = normalise(name)
    for word in GENERIC:
        key = key.replace(word, "")
    return key


def _name_overlap(p: ProductView, said: str) -> int:
    """The longest run of the product's distinctive name words (any alias) found in ``said``."""
    best = 0
    for name in (p.name, *p.aliases):
        key = _distinct(name)
        for size in range(min(len(key), 8), 1, -1):
            if any(key[i : i + size] in said for i in range(len(key) - size + 1)):
                best = max(best, size)
                break
    return best


def best_named(products: list[ProductView], text: str) -> ProductView | None:
    """The one product whose distinctive name words appear in ``text`` most ("个体户", "生源地", "银发")."""
    said = normalise(text)
    if not said:
        return None
    scored = [(_name_overlap(p, said), p) for p in products]
    top = max((n for n, _ in scored), default=0)
    winners = [p for n, p in scored if n == top]
    return winners[0] if top >= 2 and len(winners) == 1 else None


#: At most this many products are offered when the customer's words fit several ("养老", "黄金").
SEVERAL = 6


def several_named(products: list[ProductView], text: str) -> list[ProductView]:
    """The products whose distinctive name words the text uses ("你们有养老金融产品吗": the pension account,
    the pension wealth product, the pension FOF, the annuity ...), best first; empty unless at least two."""
    said = normalise(text)
    scored = sorted(((_name_overlap(p, said), i, p) for i, p in enumerate(products)), key=lambda x: (-x[0], x[1]))
    named = [p for n, _, p in scored if n >= 2][:SEVERAL]
    return named if len(named) >= 2 else []


#: "这个基金", "这款", "它": the product under discussion (parsing vocabulary).
DEMONSTRATIVES = ("这个", "这款", "这只", "这张", "这种", "该产品", "它", "那个", "那款", "那只", "那张", "刚才")
#: Words for "a loan" that name no kind of loan, and the kind each customer segment means by them.
LOAN_WORDS = ("贷款", "借钱", "借款", "周转资金", "融资")
#: A product's own name, as customers write it right before its kind: 鎏金宝理财, 稳稳盈基金, 金满满存款.
#: Product names end in these characters far more than ordinary words do.
_NAME_BEFORE_KIND = re.compile(
    r"([\u4e00-\u9fff]{1,5}?(?:宝|盈|鑫|通|富|益|赢|享|满满|福|薪|利)\d{0,3}号?)"
    r"(?=理财|基金|存款|存单|贷款|保险|产品|信用卡)"
)
#: The customer's own words before a name: the name starts after the last of them.
_BEFORE_NAME = re.compile(
    r".*(?:和|跟|与|及|或|同|比|是|的|了|买|想|问|请|可以|申请|办|那个|这个|那款|这款|有没有|有无|有|一款|一个|你们|贵行|本行|我|不|没)"
)
#: Kinds of product, not names: 普通存款, 权益理财, 高收益理财, 红利基金, 固收理财.
KINDS_NOT_NAMES = frozenset(
    {"普通", "权益", "收益", "高收益", "红利", "福利", "便利", "复利", "流通", "财富", "固收", "增益"}
)
LOAN_FOR_SEGMENT = {"business_owner": "business_loan", "student": "student_loan"}
LOAN_CATEGORIES = ("consumer_loan", "mortgage", "business_loan", "student_loan")


def disclosure_codes(tracker: Tracker) -> list[str]:
    """The products whose risk disclosure was shown last (the ``disclosure_product`` slot)."""
    return [c for c in str(tracker.get_slot("disclosure_product") or "").split(",") if c]


def _awaiting_disclosure(tracker: Tracker) -> str | None:
    """The one product whose risk disclosure was shown and not yet answered: the product under
    discussion ("积存金是什么", its disclosure, then "怎么买" was asked which kind of product)."""
    codes = disclosure_codes(tracker)
    return codes[0] if tracker.get_slot("disclosure_pending") and len(codes) == 1 else None


def sibling_named(s: Session, product: ProductView, text: str) -> ProductView | None:
    """Another product of ``product``'s kind that ``text`` names by its own words ("生源地的呢", "白金的")."""
    if not text or text.startswith("/"):
        return None
    return best_named([p for p in q.list_products(s, category=product.category) if p.code != product.code], text)


def _under_discussion(s: Session, tracker: Tracker, category: str | None) -> ProductView | None:
    """The product discussed before, when this message points back at it ("这个基金")."""
    code = tracker.get_slot("product_code")
    text = tracker.latest_message.get("text") or ""
    if not code or not any(word in text for word in DEMONSTRATIVES):
        return None
    product = q.get_product(s, code)
    return product if product and category in (None, product.category) else None


def _a_term_of(product: ProductView, tracker: Tracker) -> bool:
    """Whether the message names a term and the product quotes rates by term."""
    return bool(latest_entities(tracker, "term")) and any(r.term_months is not None for r in product.rates)


def _loan_meant(s: Session, tracker: Tracker) -> Resolution | None:
    """ "有什么贷款": the loan the customer's words name ("我想贷款买车": the car loan, whose alias is
    购车贷款; 买 is said for 购), else the kind of loan the customer's segment means; None when no loan
    word is said."""
    text = tracker.latest_message.get("text") or ""
    if not any(word in text for word in LOAN_WORDS):
        return None
    loans = [p for kind in LOAN_CATEGORIES for p in q.list_products(s, category=kind)]
    named = best_named(loans, text.replace("买", "购"))
    if named is not None:
        return Resolution(product=named)
    segments = [str(v) for v in latest_entities(tracker, "segment")] + [str(tracker.get_slot("segment") or "")]
    for segment in segments:
        if segment in LOAN_FOR_SEGMENT:
            category = q.find_category(s, LOAN_FOR_SEGMENT[segment])
            if category:
                return Resolution(category=category)
    code = tracker.get_slot("product_code")
    current = q.get_product(s, code) if code else None
    if current and current.category in LOAN_CATEGORIES:
        return Resolution(product=current)
    return Resolution(kinds=LOAN_CATEGORIES)  # which kind of loan: the customer chooses


OTHER_INSTITUTIONS_FILE = Path(__file__).resolve().parents[1] / "bot" / "resources" / "other_institutions.txt"


@lru_cache(maxsize=1)
def other_institutions() -> frozenset[str]:
    """Other banks, platforms and lenders customers name (the NLU's list): 支付宝 is no product name."""
    if not OTHER_INSTITUTIONS_FILE.is_file():
        return frozenset()
    return frozenset(word for word, _ in read_word_list(OTHER_INSTITUTIONS_FILE, normalise) if word)


#: 存 as a verb ("我想存10万存三年"), not 存单, 存折 or 存款证明.
_SAVE = re.compile(r"存(?!单|折|款证明|根|管|量|在)")
DEPOSIT_KINDS = ("demand_deposit", "time_deposit", "certificate_of_deposit")


def _saving_for_a_term(text: str, tracker: Tracker) -> bool:
    """ "我想存10万，存三年，利息多少": money put away for a term, no kind of product named, is a time
    deposit (the kind the customer means; a certificate of deposit is a time deposit too, and is offered)."""
    return bool(_SAVE.search(normalise(text))) and bool(latest_entities(tracker, "term"))


def unknown_product_name(s: Session, text: str) -> str | None:
    """A product name the customer wrote before its kind that no product of ours carries ("那个稳稳盈
    基金风险大吗" -> "稳稳盈"): answered with "no product of that name", never with another product's
    facts as if they were its."""
    for found in _NAME_BEFORE_KIND.finditer(normalise(text)):
        name = _BEFORE_NAME.sub("", found.group(1))
        if not 2 <= len(name) <= 6 or name.endswith(tuple(KINDS_NOT_NAMES)):
            continue
        if any(w in name for w in other_institutions()):
            continue
        if not q.part_of_a_product_name(s, name):
            return name
    return None


def resolve(s: Session, tracker: Tracker) -> Resolution:
    """The product (or category) a question is about.

    In order: a product named in the message (entity, or a catalogue name found in
    the text), or a name written before a kind of product that none of ours carries
    (``not_found``); the product under discussion when the message points back at it
    ("这个基金"); a product category named in the message; the loan the words name or
    the kind the customer's segment means ("我是开公司的，有什么贷款"); a time deposit
    when money is saved for a term and nothing else is under discussion ("存10万存三年");
    the product, then the category, discussed earlier in the conversation; else the
    products whose names the words fit, for the customer to choose ("养老", "黄金").
    """
    names = [str(n) for n in latest_entities(tracker, "product")]
    if names:
        matches = sorted((m for n in names for m in q.find_products(s, n)), key=lambda m: -m.score)
        if not matches:
            return Resolution(not_found=names[0])
        return _pick(matches, tracker.latest_message.get("text") or "")
    text = tracker.latest_message.get("text") or ""
    if text and not text.startswith("/"):
        mentioned = [m for m in q.find_products(s, text) if m.how != "fuzzy" and m.score >= MENTION_SCORE]
        if mentioned:
            return _pick(mentioned, text)
        unknown = unknown_product_name(s, text)
        if unknown:
            return Resolution(not_found=unknown)
    named_types = [str(v) for v in latest_entities(tracker, "product_type")]
    pointed = _under_discussion(s, tracker, named_types[0] if named_types else None)
    if pointed:
        return Resolution(product=pointed)
    code = tracker.get_slot("product_code") or _awaiting_disclosure(tracker)
    previous_kind = tracker.get_slot("product_type")
    current = q.get_product(s, code) if code else None
    if current and current.category in named_types and _a_term_of(current, tracker):
        # "美元一年期呢" after the foreign-currency deposit's rates: its one-year rate, not the kind's
        # first product (美元 names the forex kind too)
        return Resolution(product=current)
    for value in named_types:
        category = q.find_category(s, value)
        if category:
            return Resolution(category=category)
    loan = _loan_meant(s, tracker)
    if loan is not None:
        return loan
    if not code and _saving_for_a_term(text, tracker):
        category = q.find_category(s, "time_deposit")
        if category:
            return Resolution(category=category)
    if not code and not previous_kind and _SAVE.search(normalise(text)):
        return Resolution(kinds=DEPOSIT_KINDS)  # "我想存钱": which kind of deposit, not every kind of product
    if code:
        product = q.get_product(s, code)
        if product:
            # "生源地的呢": another product of the kind under discussion, named by its own words
            return Resolution(product=sibling_named(s, product, text) or product)
    if previous_kind:
        category = q.find_category(s, str(previous_kind))
        if category:
            return Resolution(category=category)
    several = several_named(q.list_products(s), text) if text and not text.startswith("/") else []
    return Resolution(candidates=several) if several else Resolution()
