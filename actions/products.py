"""Product facts from the knowledge base: one action per thing a customer asks.

Every answer names a product the knowledge base knows, or says it found none;
the product under discussion is remembered, so "那它的年费呢" needs no name.
Products that need a risk disclosure get it first (``actions.risk``).
"""

from __future__ import annotations

import difflib
import re
from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions import calculators as calc
from actions.common import (
    Wording,
    as_number,
    bank_facts,
    customer_text,
    intent_before,
    kb_guard,
    kb_session,
    latest_entities,
    latest_number,
    money,
    not_what_i_asked,
    number,
    previous_value,
)
from actions.quality import answer_not_what_i_asked, log_unanswered
from actions.resolve import Resolution, best_named, button, category_buttons, payload, resolve, sibling_named
from actions.risk import above_tolerance_note, correct_guarantee_request, disclosure_gate, suitability_refusal
from banktext.intents import DECIDED_BY_RULE, WHAT_NOW
from knowledge import handoffs as h
from knowledge import queries as q
from knowledge.queries import ProductView
from knowledge.text import normalise

DEPOSITS = q.DEPOSIT_CATEGORIES


def is_deposit(p: ProductView) -> bool:
    """A deposit: of a deposit category, or a foreign-currency deposit the catalogue says is insured."""
    return p.category in DEPOSITS or any("受存款保险保护" in f for f in (p.summary, *p.features))


LOANS = {"mortgage", "consumer_loan", "business_loan", "student_loan"}
#: Kinds of investment product: several risk levels, none principal-guaranteed.
INVESTMENTS = {"wealth_management", "fund", "precious_metal"}
#: Kinds whose products carry different risk levels: a risk question about the kind is answered for the
#: kind, every product with its level (not deposits, which are insured, each of them low-risk).
KINDS_OF_RISK = INVESTMENTS | {"insurance"}


# --- answers, one per aspect: (session, product, tracker, dispatcher, wording) -> events


def _risk_note(w: Wording, p: ProductView) -> str:
    return w("fmt_risk_note", risk_level=p.risk_level) if p.risk_level else ""


def answer_info(s: Session, p: ProductView, tracker: Tracker, d: CollectingDispatcher, w: Wording) -> list:
    d.utter_message(
        response="utter_product_info",
        name=p.name,
        category_name=p.category_name,
        risk_note=_risk_note(w, p),
        summary=p.summary,
        features=w.bullets(p.features),
    )
    return []


def rate_table(w: Wording, p: ProductView) -> str:
    rows = []
    for r in p.rates:
        label = r.label or w.term(r.term_months)
        rows.append(w("fmt_rate_row", label=label, rate=number(r.rate), unit=r.unit))
    return "\n".join(rows)


#: Words that ask for the figures of a calculation already under way ("那等额本金呢", "月供多少").
CALCULATION_WORDS = ("等额", "月供", "利息", "还多少", "能拿多少", "每月还", "一共")


def said_or_known(tracker: Tracker, entity: str) -> float | None:
    """The number this message gives for ``entity``, else the one the conversation already holds."""
    if latest_entities(tracker, entity):
        return latest_number(tracker, entity)
    return as_number(tracker.get_slot(entity))


def _calc_inputs(p: ProductView, tracker: Tracker) -> tuple[float | None, float | None, str]:
    """Amount, term and what to do: "none" (not a calculation), "ready", "needs_term",
    "needs_amount", "invalid_amount", "invalid_term".

    The amount and the term may come in different messages ("存10万" … "三年的"): the one
    not in this message is the one the customer gave earlier in the conversation.
    """
    if p.category not in DEPOSITS | LOANS:
        return None, None, "none"
    has_amount, has_term = bool(latest_entities(tracker, "amount")), bool(latest_entities(tracker, "term"))
    text = tracker.latest_message.get("text") or ""
    if not (has_amount or has_term or any(word in text for word in CALCULATION_WORDS)):
        return None, None, "none"
    amount, term = said_or_known(tracker, "amount"), said_or_known(tracker, "term")
    if has_amount and not calc.valid_amount(amount):
        return amount, term, "invalid_amount"
    if has_term and not calc.valid_term(term):
        return amount, term, "invalid_term"
    amount = amount if calc.valid_amount(amount) else None
    term = term if calc.valid_term(term) else None
    if amount is not None and term is not None:
        return amount, term, "ready"
    if not (has_amount or has_term):
        return None, None, "none"
    return amount, term, "needs_term" if term is None else "needs_amount"


def row_named_in(text: str, p: ProductView) -> Any:
    """The rate row whose label the customer's words point at ("燃油车" → "传统燃油汽车…"), if exactly one."""

    def grams(value: str) -> set[str]:
        key = normalise(value)
        for generic in ("最低", "年化", "利率", "期限", "贷款", "汽车", "参考"):
            key = key.replace(generic, "")
        return {key[i : i + 2] for i in range(len(key) - 1)}

    said = grams(text)
    scored = [(len(grams(r.label or "") & said), r) for r in p.rates if r.label]
    best = max((n for n, _ in scored), default=0)
    winners = [r for n, r in scored if n == best]
    return winners[0] if best > 0 and len(winners) == 1 else None


def _calculate(
    s: Session, p: ProductView, amount: float, term: float, d: CollectingDispatcher, w: Wording, text: str = ""
) -> list | None:
    """Deposit interest or loan repayment for ``amount`` yuan over ``term`` months."""
    quote = q.rate_for_term(s, p.code, int(term))
    if p.category in DEPOSITS:
        if quote is None or not quote.exact:
            terms = w.join(w.term(r.term_months) for r in p.rates if r.term_months is not None)
            d.utter_message(response="utter_term_not_offered", name=p.name, term_label=w.term(term), terms=terms)
            return []
        interest = calc.deposit_interest(amount, quote.row.rate, term)
        d.utter_message(
            response="utter_deposit_interest",
            name=p.name,
            term_label=w.term(term),
            rate=number(quote.row.rate),
            amount=number(amount),
            interest=money(interest),
            total=money(calc._d(amount) + interest),
        )
        below_minimum(p, amount, d)  # "10万存三年大额存单": worked out, and said it cannot be deposited
        return []
    named = row_named_in(text, p)
    row = named or (quote.row if quote else (p.rates[0] if p.rates else None))
    if row is None:
        return None
    rate = row.rate
    plan = calc.loan_repayment(amount, rate, int(term))
    d.utter_message(
        response="utter_loan_repayment",
        name=p.name,
        amount=number(amount),
        term_label=w.term(term),
        rate=number(rate),
        annuity_monthly=money(plan.annuity_monthly),
        annuity_interest=money(plan.annuity_interest),
        linear_first=money(plan.linear_first),
        linear_step=money(plan.linear_step),
        linear_interest=money(plan.linear_interest),
    )
    return []


#: Currencies as customers name them -> the name the exchange rows use (parsing vocabulary).
CURRENCY_WORDS = {
    "美元": "美元", "美金": "美元", "刀": "美元",
    "欧元": "欧元",
    "港币": "港币", "港元": "港币", "港纸": "港币",
    "日元": "日元", "日币": "日元",
    "英镑": "英镑",
    "澳元": "澳元", "澳币": "澳元",
}  # fmt: skip
_CURRENCY = re.compile("|".join(sorted(CURRENCY_WORDS, key=len, reverse=True)))
_NUMBER_WORDS = re.compile(r"^[\d,.，\s一二两三四五六七八九十百千万亿wk来多几]+", re.IGNORECASE)
_YUAN_AFTER_AMOUNT = re.compile(r"(?:块钱|块|元|人民币|rmb)", re.IGNORECASE)
#: The customer changes foreign money into yuan (结汇: the bank's buying price), not the reverse
#: (购汇, the usual case: the bank's selling price).
_SELLS_FOREIGN = re.compile(r"结汇|卖|(?:换|兑)(?:成|回)人民币|(?:能|可以|可)(?:换|兑)(?:多少|几)|值多少")
_BUYS_FOREIGN = re.compile(r"购汇|买|(?:换|兑|要|购)(?:\d|[一二两三四五六七八九十百千万])|要多少|需要多少|得多少")


def _exchange(s: Session, p: ProductView, tracker: Tracker, d: CollectingDispatcher, w: Wording) -> bool:
    """ "换1000美元要多少人民币", "500欧元能换多少人民币", "1万人民币能换多少美元": worked out at the
    quoted price (the bank's selling price to buy foreign money, its buying price to sell it);
    False when the message names no amount or no currency the rows quote."""
    text = customer_text(tracker)
    amount = latest_number(tracker, "amount")
    named = _CURRENCY.search(text)
    if p.rate_kind != "exchange" or named is None or not calc.valid_amount(amount):
        return False
    currency = CURRENCY_WORDS[named.group()]
    starts = [e.get("start") for e in tracker.latest_message.get("entities", []) or [] if e.get("entity") == "amount"]
    after = _NUMBER_WORDS.sub("", text[starts[0] :]) if starts and isinstance(starts[0], int) else ""
    in_yuan = bool(_YUAN_AFTER_AMOUNT.match(after))
    sells = not in_yuan and bool(_SELLS_FOREIGN.search(text)) and not _BUYS_FOREIGN.search(text)
    side = "买入价" if sells else "卖出价"
    row = next((r for r in p.rates if r.label == f"{currency}现汇{side}"), None)
    if row is None:
        return False
    result = calc.exchange(amount, row.rate, to_foreign=in_yuan)
    given, got = (
        (f"{number(amount)} 元人民币", f"{money(result)} {currency}")
        if in_yuan
        else (
            f"{number(amount)} {currency}",
            f"{money(result)} 元人民币",
        )
    )
    d.utter_message(
        response="utter_fx_conversion",
        name=p.name,
        label=row.label,
        rate=number(row.rate),
        unit=row.unit,
        effective_date=str(p.rate_effective_date or ""),
        given=given,
        result=got,
        how=w("fmt_fx_sell" if sells else "fmt_fx_buy"),
    )
    return True


def answer_rate(s: Session, p: ProductView, tracker: Tracker, d: CollectingDispatcher, w: Wording) -> list:
    if _exchange(s, p, tracker, d, w):
        return []
    amount, term, status = _calc_inputs(p, tracker)
    if status in ("invalid_amount", "invalid_term"):
        d.utter_message(response=f"utter_{status}")
        return []
    if status == "ready":
        calculated = _calculate(s, p, amount, term, d, w, tracker.latest_message.get("text") or "")
        if calculated is not None:
            return calculated
    quote = (
        q.rate_for_term(s, p.code, int(term)) if status == "needs_amount" and latest_entities(tracker, "term") else None
    )
    if quote is not None and quote.exact:  # "两年的呢" after the table: that term's rate, not the table again
        label = quote.row.label or w.term(quote.row.term_months)
        _rate_table(s, p, d, w, w("fmt_rate_row", label=label, rate=number(quote.row.rate), unit=quote.row.unit))
    else:
        _rate_table(s, p, d, w)
    if status in ("needs_term", "needs_amount"):
        d.utter_message(response=f"utter_calc_{status}", name=p.name)
    return []


def _rate_table(s: Session, p: ProductView, d: CollectingDispatcher, w: Wording, rows: str | None = None) -> None:
    """The product's rates (``rows``: only those, e.g. the one term asked about)."""
    if not p.rates:
        d.utter_message(response="utter_product_no_rates", name=p.name, summary=p.summary, hotline=_hotline(s))
        return
    kind = w(f"fmt_rate_kind_{p.rate_kind}") if p.rate_kind else ""
    d.utter_message(
        response="utter_product_rates",
        name=p.name,
        kind_note=kind,
        effective_date=str(p.rate_effective_date or ""),
        rate_table=rows or rate_table(w, p),
        rate_note=w("fmt_rate_note", note=p.rate_note) if p.rate_note else "",
    )


def _fee_detail(w: Wording, fee) -> str:
    if fee.amount is None:
        return fee.description or ""
    return w("fmt_fee_free") if fee.amount == 0 else w("fmt_fee_amount", amount=number(fee.amount), unit=fee.unit or "")


def fee_row(w: Wording, fee: Any, name: str) -> str:
    """One fee as a line: ``name`` (the fee's, or the product's), what it costs, when it is waived."""
    detail = _fee_detail(w, fee)
    if fee.amount is not None and fee.description:
        detail += w("fmt_fee_waiver", waiver=fee.description)
    if fee.waiver:
        detail += w("fmt_fee_waiver", waiver=fee.waiver)
    return w("fmt_fee_row", name=name, detail=detail)


def fee_table(w: Wording, p: ProductView) -> str:
    return "\n".join(fee_row(w, fee, fee.name) for fee in p.fees)


def fee_across_products(s: Session, tracker: Tracker, d: CollectingDispatcher, w: Wording) -> bool:
    """ "转账手续费多少", naming no product: the fee of that name, for each product that charges it (the app's
    and online banking's transfers); False when no fee of the catalogue is named."""

    def key(words: str) -> str:  # 轉帳 is 转帐 in Simplified, an old spelling of 转账
        return normalise(words).replace("帐", "账")

    text = key(customer_text(tracker))
    charged = [(p, fee) for p in q.list_products(s) for fee in p.fees if len(fee.name) >= 4 and key(fee.name) in text]
    if not charged or len({fee.name for _, fee in charged}) > 1:
        return False
    d.utter_message(
        response="utter_fee_across_products",
        fee=charged[0][1].name,
        fee_table="\n".join(fee_row(w, fee, p.name) for p, fee in charged[:6]),
        buttons=[button("ask_fees", p.name) for p, _ in charged[:6]],
    )
    return True


def answer_fees(s: Session, p: ProductView, tracker: Tracker, d: CollectingDispatcher, w: Wording) -> list:
    if not p.fees:
        d.utter_message(response="utter_product_no_fees", name=p.name)
    else:
        d.utter_message(response="utter_product_fees", name=p.name, fee_table=fee_table(w, p))
    return []


def _limits(w: Wording, p: ProductView) -> str:
    if p.min_amount and p.max_amount:
        return w("fmt_amount_range", low=number(p.min_amount), high=number(p.max_amount))
    if p.max_amount:
        return w("fmt_amount_upto", high=number(p.max_amount))
    if p.min_amount:
        return w("fmt_amount_from", low=number(p.min_amount))
    return ""


#: Product features that state a limit ("每人每年便利化额度等值5万美元"): part of who can do how much.
LIMIT_WORDS = ("额度", "上限", "限额", "最高", "最多")


#: A question about an application already made: where it stands, when the card or the money comes
#: (parsing vocabulary). The contract labels it ask_eligibility (审批); it is answered with the
#: product's steps and their usual times, and where to follow the application.
_PROGRESS = re.compile(
    r"进度|到哪一步|到哪了|批了没|批了吗|批下来|批没批|审批结果|审核结果|审核中|审批中|多久能批|多久批|几天批|"
    r"出结果|有结果|多久放款|什么时候放款|几天放款|多久能放|下卡|出卡|寄到|寄出|面签(?:后|完|了|以后)|没消息|没动静|处理中"
)


#: The kinds of product a bank approves before the customer has them.
APPROVED_KINDS = ("credit_card", "mortgage", "consumer_loan", "business_loan", "student_loan")


#: A limit increase's progress ("提额申请多久有结果") is about the limit, which the conditions answer.
_LIMIT_REQUEST = re.compile(r"提额|调额|额度")


def asks_progress(text: str) -> bool:
    """Whether the customer asks how far an application has got ("面签完多久放款", "审批到哪一步了")."""
    plain = normalise(text)
    return bool(_PROGRESS.search(plain)) and not _LIMIT_REQUEST.search(plain)


def numbered_steps(p: ProductView, w: Wording) -> str:
    """The product's application steps, one numbered line each."""
    return "\n".join(w("fmt_numbered", n=i, text=step) for i, step in enumerate(p.apply_steps, 1))


def answer_progress(s: Session, p: ProductView, tracker: Tracker, d: CollectingDispatcher, w: Wording) -> list:
    """An application already made: the product's steps with their usual times, and where to follow it."""
    if not p.apply_steps:
        return answer_eligibility(s, p, tracker, d, w)
    bank = q.bank_values(q.get_bank(s))
    d.utter_message(
        response="utter_product_progress",
        name=p.name,
        steps=numbered_steps(p, w),
        app_name=bank.get("app_name", ""),
        hotline=bank.get("card_hotline" if p.category == "credit_card" else "hotline", ""),
    )
    return []


#: Raising a credit card's limit ("信用卡额度怎么提高", "临时额度", "额度不够用"): the contract's 提额.
_RAISE_LIMIT = re.compile(
    r"提额|调额|临时额度|额度.{0,6}(提高|提升|调高|增加|提一下|提一提|不够|太低|低了)|(提高|提升|调高|增加).{0,4}额度"
)


def answer_eligibility(s: Session, p: ProductView, tracker: Tracker, d: CollectingDispatcher, w: Wording) -> list:
    limits = _limits(w, p) + "".join(
        w("fmt_limit_note", text=f) for f in p.features if any(word in f for word in LIMIT_WORDS)
    )
    if p.category == "credit_card" and _RAISE_LIMIT.search(normalise(customer_text(tracker))):
        bank = q.bank_values(q.get_bank(s))
        d.utter_message(
            response="utter_credit_limit_increase",
            card_limits=w("fmt_card_limits", name=p.name, limits=limits) if limits else "",
            app_name=bank.get("app_name", ""),
            card_hotline=bank.get("card_hotline", ""),
        )
        return []
    d.utter_message(
        response="utter_product_eligibility",
        name=p.name,
        eligibility=w.bullets(p.eligibility),
        limits=limits + _amount_check(w, p, tracker),
    )
    return []


def _amount_check(w: Wording, p: ProductView, tracker: Tracker) -> str:
    """Whether the amount this message names ("20万可以吗", "5万够起存吗") is within the product's
    minimum and maximum; empty when it names none or the product has no limits."""
    if not latest_entities(tracker, "amount"):
        return ""
    amount = latest_number(tracker, "amount")
    if not calc.valid_amount(amount):
        return ""
    said = number(amount)
    if p.min_amount and amount < float(p.min_amount):
        return w("fmt_amount_below", amount=said, low=number(p.min_amount))
    if p.max_amount and amount > float(p.max_amount):
        return w("fmt_amount_above", amount=said, high=number(p.max_amount))
    return w("fmt_amount_within", amount=said) if p.min_amount or p.max_amount else ""


def answer_documents(s: Session, p: ProductView, tracker: Tracker, d: CollectingDispatcher, w: Wording) -> list:
    d.utter_message(response="utter_product_documents", name=p.name, documents=w.bullets(p.documents))
    return []


def answer_risk(s: Session, p: ProductView, tracker: Tracker, d: CollectingDispatcher, w: Wording) -> list:
    if not p.risk_level:
        d.utter_message(response="utter_product_no_risk_rating", name=p.name, summary=p.summary)
        return []
    # deposit insurance belongs to deposits only: never to insurance, wealth or fund products
    summary = w(f"fmt_risk_summary_{p.risk_level}") + (w("fmt_deposit_insurance") if is_deposit(p) else "")
    d.utter_message(
        response="utter_product_risk",
        name=p.name,
        risk_level=p.risk_level,
        risk_label=w(f"fmt_risk_label_{p.risk_level}"),
        risk_summary=summary,
    )
    return []


def answer_category_risk(
    category_name: str, products: list[ProductView], d: CollectingDispatcher, w: Wording, intent: str
) -> list:
    """ "理财产品保本吗", "基金风险大吗": a kind of investment product has products (all rated) of several
    risk levels, and none of them is principal-guaranteed. The whole range is said, never the lowest-risk
    product's profile as if it were the kind's; each product is offered for its own answer."""
    rated = sorted(products, key=lambda p: p.risk_rank)
    lowest, highest = rated[0].risk_level, rated[-1].risk_level
    d.utter_message(
        # insurance: not a deposit, no promised returns, a surrender returns the cash value
        response="utter_category_risk_insurance" if rated[0].category == "insurance" else "utter_category_risk",
        category_name=category_name,
        count=len(rated),
        risk_range=lowest if lowest == highest else w("fmt_risk_range", low=lowest, high=highest),
        **_with_risk_levels(rated, w, intent),
    )
    return []


def _with_risk_levels(products: list[ProductView], w: Wording, intent: str) -> dict[str, Any]:
    """A kind's products listed each with its risk level, and a button for each."""
    return {
        "product_list": w.bullets(
            f"{p.name}：{w('fmt_risk_value', risk_level=p.risk_level, label=w(f'fmt_risk_label_{p.risk_level}'))}"
            for p in products
        ),
        "buttons": [button(intent, p.name) for p in products],
    }


#: "稳健一点的", "风险低的", "保守点的": the lower-risk products of a kind (parsing vocabulary).
_LOWER_RISK = re.compile(r"稳健|稳一点|稳点|稳妥|保守|低风险|风险(?:低|小|不大|较低)|安全一点|安全点|不想亏|别亏")
#: The highest risk level "lower risk" covers.
LOWER_RISK_MAX = 2


def answer_lower_risk(
    category_name: str, products: list[ProductView], d: CollectingDispatcher, w: Wording, intent: str
) -> list:
    """The products of a kind rated R2 or lower, each with its level, and that lower risk is not none."""
    lower = sorted((p for p in products if p.risk_rank <= LOWER_RISK_MAX), key=lambda p: p.risk_rank)
    if not lower:
        return answer_category_risk(category_name, products, d, w, intent)
    d.utter_message(
        response="utter_category_lower_risk", category_name=category_name, **_with_risk_levels(lower, w, intent)
    )
    return []


#: "到期多少钱", "到期能拿多少", "连本带利一共多少": the sum at maturity, not the maturity rules
#: (parsing vocabulary); "多少天", "多少年" ask for a time.
_SUM_AT_MATURITY = re.compile(r"多少(?![天年月个日号次期])|本息|连本带利|利息")


#: Taking a deposit out before it matures ("提前取出来", "没到期能取吗"; parsing vocabulary).
_EARLY_WITHDRAWAL = re.compile(r"提前(?:支取|取|拿|赎回|取出|取款|用)|没到期.{0,3}(?:取|拿)|不到期.{0,3}(?:取|拿)")
#: How long the money has been in already ("存了一年半", "已经放了8个月"): the term after it is that time.
_HELD_FOR = re.compile(r"(?:存了|已存|已经存|放了|已经放|过了|存满|存够)")


def _early_withdrawal(s: Session, p: ProductView, tracker: Tracker, d: CollectingDispatcher, w: Wording) -> bool:
    """ "三年定期提前取出来会损失多少" … "存了10万 存了一年半": the interest paid at the demand rate for the
    time held, beside what the term would have paid; False when amount, term or time held is unknown."""
    text = normalise(customer_text(tracker))
    early = _EARLY_WITHDRAWAL.search(text) or tracker.get_slot("last_aspect") == "maturity"
    if p.category not in DEPOSITS or not early or not _HELD_FOR.search(text):
        return False
    terms = [as_number(t) for t in latest_entities(tracker, "term")]
    held = terms[-1] if terms else None
    term = terms[0] if len(terms) > 1 else as_number(previous_value(tracker, "term"))
    amount = said_or_known(tracker, "amount")
    quote = q.rate_for_term(s, p.code, int(term)) if calc.valid_term(term) else None
    demand = q.demand_rate(s)
    if not (calc.valid_amount(amount) and calc.valid_term(held) and quote and quote.exact and demand is not None):
        return False
    if held >= term:
        return False  # held to maturity: nothing early about it
    d.utter_message(
        response="utter_early_withdrawal_interest",
        name=p.name,
        amount=number(amount),
        held_label=w.term(held),
        demand_rate=number(demand),
        early_interest=money(calc.deposit_interest(amount, demand, held)),
        term_label=w.term(term),
        rate=number(quote.row.rate),
        held_interest=money(calc.deposit_interest(amount, quote.row.rate, held)),
        full_interest=money(calc.deposit_interest(amount, quote.row.rate, term)),
        rule=w("fmt_early_withdrawal", text=p.early_withdrawal) if p.early_withdrawal else "",
    )
    return True


def answer_maturity(s: Session, p: ProductView, tracker: Tracker, d: CollectingDispatcher, w: Wording) -> list:
    if _early_withdrawal(s, p, tracker, d, w):
        return [SlotSet("last_aspect", "maturity")]
    said = normalise(customer_text(tracker))
    early = p.category in DEPOSITS and _EARLY_WITHDRAWAL.search(said)
    if _SUM_AT_MATURITY.search(said) and not early:
        amount, term, status = _calc_inputs(p, tracker)
        if status == "ready":  # "存5万一年定期到期多少钱": worked out, as the rate question would be
            calculated = _calculate(s, p, amount, term, d, w, customer_text(tracker))
            if calculated is not None:
                return calculated
    if not p.maturity:
        d.utter_message(response="utter_product_no_maturity", name=p.name, summary=p.summary)
        return []
    extra = w("fmt_early_withdrawal", text=p.early_withdrawal) if p.early_withdrawal else ""
    if p.auto_renew:
        extra += w("fmt_auto_renew_yes")
    d.utter_message(response="utter_product_maturity", name=p.name, maturity=p.maturity, early_withdrawal=extra)
    if early:
        d.utter_message(response="utter_early_withdrawal_ask")  # "…会损失多少": how much it costs, worked out
        return [SlotSet("last_aspect", "maturity")]
    from actions.reminders import maturity_offer

    return maturity_offer(d, w, tracker, p.name)


def answer_apply(s: Session, p: ProductView, tracker: Tracker, d: CollectingDispatcher, w: Wording) -> list:
    if suitability_refusal(p, tracker, d, w):
        return []
    d.utter_message(
        response="utter_product_apply",
        name=p.name,
        channels=w.join(p.apply_channels),
        steps=numbered_steps(p, w),
        documents=w.bullets(p.documents),
    )
    if latest_entities(tracker, "amount"):  # "我想买10万的大额存单": the minimum is 20万
        below_minimum(p, latest_number(tracker, "amount"), d)
    return []


def below_minimum(p: ProductView, amount: float | None, d: CollectingDispatcher) -> None:
    """Say so when ``amount`` is below the product's minimum."""
    if calc.valid_amount(amount) and p.min_amount and amount < float(p.min_amount):
        d.utter_message(
            response="utter_calc_below_minimum", name=p.name, amount=number(amount), low=number(p.min_amount)
        )


ANSWERS = {
    "info": answer_info,
    "rate": answer_rate,
    "fees": answer_fees,
    "eligibility": answer_eligibility,
    "progress": answer_progress,
    "documents": answer_documents,
    "risk": answer_risk,
    "maturity": answer_maturity,
    "apply": answer_apply,
}


def _hotline(s: Session) -> str:
    bank = q.get_bank(s)
    return bank.hotline if bank else ""


#: What a follow-up asks about when it names no aspect of its own (parsing vocabulary):
#: "那白金卡呢" after a question about fees is about fees, "那它的年费呢" is about fees anyway.
ASPECT_WORDS = {
    "rate": ("利率", "利息", "收益", "月供", "还多少", "等额", "汇率", "价格", "金价"),
    "fees": ("费", "收钱", "要钱", "收不收", "免费", "多少钱"),
    "eligibility": ("条件", "资格", "能不能办", "能办吗", "额度", "审批"),
    "documents": ("材料", "证件", "带什么", "带啥", "准备什么", "资料"),
    "risk": ("风险", "安全", "亏", "保本"),
    "maturity": ("到期", "赎回", "续存", "转存", "提前支取"),
    "apply": ("怎么办理", "怎么申请", "在哪办", "开通", "申请"),
    "info": ("是什么", "介绍", "什么产品", "特点"),
}
#: The intent that asks each aspect (buttons of a follow-up answer ask the same again).
ASPECT_INTENTS = {
    "info": "ask_product_info",
    "rate": "ask_interest_rate",
    "fees": "ask_fees",
    "eligibility": "ask_eligibility",
    "progress": "ask_eligibility",
    "documents": "ask_required_documents",
    "risk": "ask_risk",
    "maturity": "ask_maturity",
    "apply": "apply_product",
}


#: "多少钱起存", "最低存多少": the minimum, given with the conditions (parsing vocabulary).
MINIMUM_WORDS = (
    "起存",
    "起点",
    "起购",
    "最低存",
    "最少存",
    "最低要存",
    "最少要存",
    "门槛",
    "最低买",
    "最少买",
    "多少钱起",
)


def named_aspect(text: str) -> str | None:
    """The aspect a message asks about in its own words, if it names one."""
    if any(word in text for word in MINIMUM_WORDS):
        return "eligibility"
    for aspect, words in ASPECT_WORDS.items():
        if any(word in text for word in words):
            return aspect
    return None


def is_follow_up(text: str) -> bool:
    """ "那白金卡呢", "新能源车呢", "那等额本金呢": a short message that leans on the one before."""
    key = normalise(text)
    return 0 < len(key) <= 14 and key.endswith(("呢", "咧", "嘞"))


def is_elliptical(text: str) -> bool:
    """A follow-up that names only a new subject, no aspect of its own."""
    return is_follow_up(text) and named_aspect(normalise(text)) is None


def answer(aspect: str, s: Session, p: ProductView, tracker: Tracker, d: CollectingDispatcher, w: Wording) -> list:
    """Answer ``aspect`` of ``p`` and remember it as the product (and the question) under discussion.

    A product above the customer's assessed risk tolerance is named as such before its
    details (applying for it is refused outright by ``answer_apply``).
    """
    if aspect not in ("apply", "risk"):
        above_tolerance_note(p, tracker, d, w)
    events = ANSWERS[aspect](s, p, tracker, d, w)
    return [
        SlotSet("product_code", p.code),
        SlotSet("product_type", p.category),
        SlotSet("last_aspect", aspect),
        *events,
    ]


# --- the actions -------------------------------------------------------------------


class ProductAnswerAction(Action, ABC):
    """Resolve the product the customer means, gate it, answer one aspect of it.

    An elliptical follow-up ("那白金卡呢") asks the previous question about its new subject.
    """

    aspect: str = ""
    intent: str = ""

    @abstractmethod
    def name(self) -> str:
        """The action's name in the domain."""

    def _aspect(self, tracker: Tracker) -> str:
        """The aspect to answer: the NLU's, unless a short follow-up says otherwise.

        "那等额本金呢" names the repayment (rate) whatever the intent read; "那白金卡呢"
        names nothing, so it asks the last question again.
        """
        text = tracker.latest_message.get("text") or ""
        if any(word in text for word in MINIMUM_WORDS) and self.aspect in ("info", "rate", "fees"):
            return "eligibility"  # "大额存单最低要存多少钱": the minimum, not the rate table
        if _EARLY_WITHDRAWAL.search(normalise(text)) and self.aspect in ("info", "rate", "fees", "risk"):
            return "maturity"  # "三年定期提前取出来会损失多少": withdrawing early, not the risk level
        if is_follow_up(text):
            named = named_aspect(text)
            last = tracker.get_slot("last_aspect")
            if named and named != self.aspect:
                return named
            if not named and last in ANSWERS:
                return last
        return self.aspect

    @kb_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        w = Wording(domain)
        text = customer_text(tracker)
        if tracker.get_slot("last_aspect") == "branch" and is_follow_up(text):
            from actions.handling import ActionFindBranches, names_a_branch

            if names_a_branch(text):  # "那湖滨呢" after a branch's hours
                return await ActionFindBranches().run(dispatcher, tracker, domain)
        last_faq = tracker.get_slot("last_faq")
        if tracker.get_slot("last_aspect") is None and same_how_to(tracker, domain):
            dispatcher.utter_message(response=f"utter_faq/{last_faq}")
            return []
        correct_guarantee_request(tracker, dispatcher)
        aspect = self._aspect(tracker)
        with kb_session() as s:
            found = resolve(s, tracker)
            if aspect == "rate" and asks_for_the_highest(tracker, found):
                return highest_deposit_rates(s, tracker, dispatcher, w)
            unnamed = found.product is None and found.category is None and not found.not_found
            if aspect == "fees" and unnamed and fee_across_products(s, tracker, dispatcher, w):
                return [SlotSet("last_aspect", "fees")]
            how_to = (
                proxy_how_to(tracker, domain)
                or faq_instead(found, tracker, domain)
                or how_to_before(tracker, domain, aspect)
            )
            if how_to:
                return answer_with_faq(dispatcher, how_to)
            return self._for(aspect)._answer(s, found, dispatcher, tracker, w, aspect)

    def _for(self, aspect: str) -> ProductAnswerAction:
        """This action, or the one that answers ``aspect`` (a follow-up's previous question)."""
        return self if aspect == self.aspect else ACTIONS_BY_ASPECT[aspect]()

    def _answer(
        self, s: Session, found: Resolution, d: CollectingDispatcher, tracker: Tracker, w: Wording, aspect: str
    ) -> list:
        if found.not_found:
            log_unanswered(s, tracker, reason="product_not_found")
            d.utter_message(
                response="utter_product_not_found", query=found.not_found, buttons=category_buttons(s, self.intent)
            )
            return [SlotSet("product", None)]
        if found.candidates:
            d.utter_message(
                response="utter_choose_product", buttons=[button(self.intent, p.name) for p in found.candidates]
            )
            return [SlotSet("last_aspect", aspect)]  # a follow-up before choosing asks the same question
        if found.product is None and found.category is None:
            kinds = found.kinds or (APPROVED_KINDS if aspect == "progress" else ())
            d.utter_message(response="utter_ask_which_product", buttons=category_buttons(s, self.intent, kinds))
            # the kind typed instead of pressed ("借记卡" after "我想办张卡") is asked the same question
            return [SlotSet("last_aspect", aspect)]
        if found.product is None:
            return self._answer_category(s, found, d, tracker, w, aspect)
        gate = disclosure_gate(s, found.product, aspect, tracker, d)
        if gate is not None:
            return gate
        return answer(aspect, s, found.product, tracker, d, w)

    def _answer_category(
        self, s: Session, found: Resolution, d: CollectingDispatcher, tracker: Tracker, w: Wording, aspect: str
    ) -> list:
        category = found.category
        products = q.list_products(s, category=category.code)
        segment = next(iter(latest_entities(tracker, "segment")), None) or tracker.get_slot("segment")
        for_them = [p for p in products if segment and segment in p.segments]
        if for_them:  # a company owner is shown the loans for companies, not the farmers' loan
            products = for_them
        rated = [p for p in products if p.risk_level and not is_deposit(p)]
        if rated and _LOWER_RISK.search(normalise(customer_text(tracker))):
            # "稳健一点的" after the list of wealth products: the kind's lower-risk products, with their levels
            return answer_lower_risk(category.name, rated, d, w, self.intent)
        if aspect == "info" or not products:
            d.utter_message(
                response="utter_category_products",
                category_name=category.name,
                description=category.description,
                product_list=w.bullets(p.name for p in products),
                buttons=[button(self.intent, p.name) for p in products],
            )
            return [SlotSet("product_type", category.code), SlotSet("product_code", None)]
        # a question about a whole category is answered for the product the customer's words point
        # at ("个体户能贷款吗"), else its main product; the others are offered
        named = best_named(products, tracker.latest_message.get("text") or "")
        if aspect == "risk" and named is None and category.code in KINDS_OF_RISK and rated:
            return answer_category_risk(category.name, rated, d, w, self.intent)
        flagship = named or products[0]
        products = [flagship, *(p for p in products if p.code != flagship.code)]
        gate = disclosure_gate(s, flagship, aspect, tracker, d)
        if gate is not None:
            return gate
        events = answer(aspect, s, flagship, tracker, d, w)
        if len(products) > 1:
            d.utter_message(
                response="utter_other_products", buttons=[button(self.intent, p.name) for p in products[1:]]
            )
        return events


class ActionAnswerProductInfo(ProductAnswerAction):
    aspect, intent = "info", "ask_product_info"

    def name(self) -> str:
        return "action_answer_product_info"


class ActionAnswerInterestRate(ProductAnswerAction):
    aspect, intent = "rate", "ask_interest_rate"

    def name(self) -> str:
        return "action_answer_interest_rate"


class ActionAnswerFees(ProductAnswerAction):
    aspect, intent = "fees", "ask_fees"

    def name(self) -> str:
        return "action_answer_fees"


class ActionAnswerEligibility(ProductAnswerAction):
    """Conditions and limits; or, for an application already made ("面签完多久放款", a product button
    after such a question), its steps with their usual times (the aspect "progress")."""

    aspect, intent = "eligibility", "ask_eligibility"

    def name(self) -> str:
        return "action_answer_eligibility"

    def _aspect(self, tracker: Tracker) -> str:
        text = customer_text(tracker)
        if asks_progress(text) or (not text and tracker.get_slot("last_aspect") == "progress"):
            return "progress"
        return super()._aspect(tracker)


class ActionAnswerDocuments(ProductAnswerAction):
    aspect, intent = "documents", "ask_required_documents"

    def name(self) -> str:
        return "action_answer_documents"


class ActionAnswerRisk(ProductAnswerAction):
    aspect, intent = "risk", "ask_risk"

    def name(self) -> str:
        return "action_answer_risk"


class ActionAnswerMaturity(ProductAnswerAction):
    aspect, intent = "maturity", "ask_maturity"

    def name(self) -> str:
        return "action_answer_maturity"


class ActionApplyProduct(ProductAnswerAction):
    aspect, intent = "apply", "apply_product"

    def name(self) -> str:
        return "action_apply_product"


ACTIONS_BY_ASPECT: dict[str, type[ProductAnswerAction]] = {
    "progress": ActionAnswerEligibility,
    **{
        cls.aspect: cls
        for cls in (
            ActionAnswerProductInfo,
            ActionAnswerInterestRate,
            ActionAnswerFees,
            ActionAnswerEligibility,
            ActionAnswerDocuments,
            ActionAnswerRisk,
            ActionAnswerMaturity,
            ActionApplyProduct,
        )
    },
}


class ActionAnswerFollowup(ProductAnswerAction):
    """The customer answered the assistant's question or named only a new subject ("北京海淀",
    "白金卡"): the last question is asked again about it, a branch search if that was the last."""

    aspect, intent = "info", "ask_product_info"

    def name(self) -> str:
        return "action_answer_followup"

    def _aspect(self, tracker: Tracker) -> str:
        last = tracker.get_slot("last_aspect")
        return last if last in ANSWERS else (named_aspect(tracker.latest_message.get("text") or "") or "info")

    @kb_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        if tracker.latest_message.get(DECIDED_BY_RULE) == WHAT_NOW:  # "怎么办啊 急"
            if intent_before(tracker) in EMERGENCIES:
                dispatcher.utter_message(response="utter_emergency_first_step", **bank_facts())
            else:
                dispatcher.utter_message(response="utter_what_happened")
            return []
        from actions.handling import ActionFindBranches, told_not_to_send_numbers

        if told_not_to_send_numbers(tracker, dispatcher):
            return []
        last = tracker.get_slot("last_aspect")
        if last == "branch":
            return await ActionFindBranches().run(dispatcher, tracker, domain)
        if last is None and describes_the_customer(tracker):
            # "我退休了，手上有二十万": a customer describing themselves, asked nothing: advice
            return [FollowupAction("recommendation_form")]
        return await super().run(dispatcher, tracker, domain)


#: "存款利率最高的是哪个", "哪个定期利息最多": which product pays most (parsing vocabulary).
_HIGHEST = re.compile(
    r"(?=.*(?:哪|什么|有没有|有吗|推荐))(?=.*(?:利率|利息|收益))"
    r"(?=.*(?:最高|最多|最划算|最大|高一点|高一些|高点|高些|更高|多一点|多一些))"
)


def asks_for_the_highest(tracker: Tracker, found: Resolution) -> bool:
    """Whether the message asks which deposit pays most, naming no product (a kind of deposit at most)."""
    if latest_entities(tracker, "product") or found.not_found or not _HIGHEST.match(normalise(customer_text(tracker))):
        return False
    named = [str(t) for t in latest_entities(tracker, "product_type")]
    return all(t in DEPOSITS for t in named)


def highest_deposit_rates(
    s: Session, tracker: Tracker, d: CollectingDispatcher, w: Wording, limit: int = 6
) -> list[EventType]:
    """Each deposit's best quoted rate (of the kinds named, or of every kind), highest first."""
    kinds = [str(t) for t in latest_entities(tracker, "product_type")] or sorted(DEPOSITS)
    best = []
    for kind in kinds:
        for p in q.list_products(s, category=kind):
            top = max((r for r in p.rates if r.unit == "%"), key=lambda r: r.rate, default=None)
            if top is not None:
                best.append((top.rate, p, top))
    if not best:
        return []
    best.sort(key=lambda item: (-item[0], item[1].code))
    rows = [
        w(
            "fmt_highest_rate_row",
            name=p.name,
            term=r.label or w.term(r.term_months),
            rate=number(r.rate),
            minimum=w("fmt_from_minimum", low=number(p.min_amount)) if p.min_amount else "",
        )
        for _, p, r in best[:limit]
    ]
    d.utter_message(
        response="utter_highest_rates",
        rates="\n".join(rows),
        buttons=[button("ask_interest_rate", p.name) for _, p, _ in best[:limit]],
    )
    return [SlotSet("last_aspect", "rate")]


#: What the customer may have just reported that "怎么办" then asks about.
EMERGENCIES = ("report_fraud", "report_lost_card")


def describes_the_customer(tracker: Tracker) -> bool:
    """Whether the latest message says who the customer is, how much they have or what the money is
    for ("想给孩子存教育金"), and names no product."""
    from actions.recommend import GOAL_WORDS_ANYWHERE

    text = customer_text(tracker)
    about_them = latest_entities(tracker, "segment") or latest_entities(tracker, "amount")
    for_what = any(word in text for words in GOAL_WORDS_ANYWHERE.values() for word in words)
    return bool(about_them or for_what) and not latest_entities(tracker, "product")


# --- comparison ----------------------------------------------------------------------


def attribute_value(w: Wording, p: ProductView, attribute: str) -> str:
    """One product's value of a comparison attribute, in a line."""
    none = w("fmt_none")
    if attribute == "rates":
        return w.join(f"{r.label or w.term(r.term_months)} {number(r.rate)}{r.unit}" for r in p.rates[:3]) or none
    if attribute in ("min_amount", "max_amount"):
        value = getattr(p, attribute)
        return w("fmt_yuan", n=number(value)) if value else none
    if attribute == "term":
        if p.min_term_months is None and p.max_term_months is None:
            return none
        return w("fmt_term_range", low=w.term(p.min_term_months), high=w.term(p.max_term_months))
    if attribute == "risk_level":
        return (
            w("fmt_risk_value", risk_level=p.risk_level, label=w(f"fmt_risk_label_{p.risk_level}"))
            if p.risk_level
            else none
        )
    if attribute == "fees":
        return w.join(f"{f.name} {_fee_detail(w, f)}" for f in p.fees[:3]) or none
    if attribute in ("features", "eligibility"):
        return w.join(list(getattr(p, attribute))[:2]) or none
    if attribute == "apply_channels":
        return w.join(p.apply_channels) or none
    return str(getattr(p, attribute, None) or none)


def compare_answer(s: Session, codes: list[str], d: CollectingDispatcher, w: Wording) -> list:
    comparison = q.compare_products(s, codes)
    d.utter_message(response="utter_compare_intro")
    for attribute in comparison.attributes:
        values = "\n".join(
            w("fmt_compare_value", name=p.name, value=attribute_value(w, p, attribute)) for p in comparison.products
        )
        d.utter_message(response="utter_compare_row", label=w(f"fmt_attr_{attribute}"), values=values)
    d.utter_message(response="utter_compare_outro")
    return [SlotSet("product_code", comparison.products[0].code)]


class ActionCompareProducts(Action):
    """Two or more products side by side on the attributes that matter for them."""

    def name(self) -> str:
        return "action_compare_products"

    @kb_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        w = Wording(domain)
        with kb_session() as s:
            products = _products_to_compare(s, tracker)
            how_to = None if products else faq_instead(Resolution(), tracker, domain)
            if how_to:  # "一类户二类户有什么区别": account types the FAQ explains, not catalogue products
                return answer_with_faq(dispatcher, how_to)
            if len(products) < 2:
                dispatcher.utter_message(response="utter_compare_need_two")
                return []
            gate = disclosure_gate(s, products, "compare", tracker, dispatcher)
            if gate is not None:
                return gate
            return compare_answer(s, [p.code for p in products], dispatcher, w)


def _products_to_compare(s: Session, tracker: Tracker) -> list[ProductView]:
    found: list[ProductView] = []

    def add(p: ProductView | None) -> None:
        if p and p.code not in [f.code for f in found]:
            found.append(p)

    for name in latest_entities(tracker, "product"):
        matches = q.find_products(s, str(name), limit=1)
        add(matches[0].product if matches else None)
    for value in latest_entities(tracker, "product_type"):
        category = q.find_category(s, str(value))
        products = q.list_products(s, category=category.code) if category else []
        if products and all(f.category != category.code for f in found):
            add(products[0])
    if len(found) == 1 and tracker.get_slot("product_code"):
        add(q.get_product(s, tracker.get_slot("product_code")))
    return found


class ActionAnswerFaq(Action):
    """An account or e-banking how-to from the knowledge base (the topic the NLU chose), or, for an
    elliptical follow-up, the question before it asked again ("那短信通知呢" after a fee)."""

    def name(self) -> str:
        return "action_answer_faq"

    @kb_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        text = customer_text(tracker)
        last, last_faq = tracker.get_slot("last_aspect"), tracker.get_slot("last_faq")
        if is_elliptical(text) and last in ANSWERS:
            return await ActionAnswerFollowup().run(dispatcher, tracker, domain)
        response, confidence = selected_faq(tracker)
        chosen = [str(t) for t in latest_entities(tracker, "faq_topic")]
        if chosen and f"utter_faq/{chosen[0]}" in (domain.get("responses") or {}):
            response, confidence = f"utter_faq/{chosen[0]}", 1.0  # a how-to's button
        elif same_how_to(tracker, domain):
            response, confidence = f"utter_faq/{last_faq}", 1.0
        if response == f"utter_faq/{DECEASED_HOW_TO}" and not _DEATH.search(normalise(text)):
            response = proxy_how_to(tracker, domain) or response  # "我妈瘫痪在床 卡里的钱怎么取出来"
        if not response.startswith("utter_faq/"):
            dispatcher.utter_message(response="utter_please_rephrase")
            return []
        events = answer_with_faq(dispatcher, response)
        with kb_session() as s:
            desk = h.desk(s)
            if confidence < FAQ_INSTEAD_CONFIDENCE:
                offer_other_how_tos(s, tracker, dispatcher, response.removeprefix("utter_faq/"))
        if desk is not None and response.removeprefix("utter_faq/") in desk.specialist_topics:
            dispatcher.utter_message(response="utter_offer_specialist")  # the answer depends on the case
        return events


#: The next picks worth offering beside an unsure pick (below FAQ_INSTEAD_CONFIDENCE; read by
#: hand on the own validation sets, a third of the picks below 0.3 were wrong, and the right
#: how-to was often second or third: docs/nlu-evaluation.md): those the selector gives at least this.
OTHER_HOW_TO_CONFIDENCE = 0.1


def offer_other_how_tos(s: Session, tracker: Tracker, dispatcher: CollectingDispatcher, answered: str) -> None:
    """ "我的信用卡被锁了" got the overdue how-to at 0.33: the selector's next picks (the PIN locked, the
    card's activation) are offered as buttons, so that the customer is one click from the right one."""
    ranking = ((tracker.latest_message.get("response_selector") or {}).get("faq") or {}).get("ranking") or []
    others = [
        q.faq_answer(s, str(r.get("intent_response_key", "")).removeprefix("faq/"))
        for r in ranking[1:3]
        if float(r.get("confidence") or 0) >= OTHER_HOW_TO_CONFIDENCE
    ]
    buttons = [
        {"title": f.title, "payload": payload("faq", faq_topic=f.topic)} for f in others if f and f.topic != answered
    ]
    if buttons:
        dispatcher.utter_message(response="utter_other_how_tos", buttons=buttons)


def selected_faq(tracker: Tracker) -> tuple[str, float]:
    """The FAQ answer the response selector picked for the latest message (``utter_faq/<topic>``,
    or "" without one) and how sure it was."""
    selected = ((tracker.latest_message.get("response_selector") or {}).get("faq") or {}).get("response") or {}
    return str(selected.get("utter_action") or ""), float(selected.get("confidence") or 0)


def answer_with_faq(dispatcher: CollectingDispatcher, response: str) -> list[EventType]:
    """Utter a FAQ topic's answer (``utter_faq/<topic>``); a follow-up then refers to that topic."""
    dispatcher.utter_message(response=response)
    return [SlotSet("last_faq", response.removeprefix("utter_faq/")), SlotSet("last_aspect", None)]


#: Characters two how-tos' titles must share to be neighbours ("转账限额" in "如何提高转账限额").
NEIGHBOUR_TITLE_CHARS = 3


def next_how_to(tracker: Tracker) -> str | None:
    """The how-to a short question right after a how-to asks for, when the NLU could not place it
    ("能调高吗" after the transfer limits): the FAQ selector's pick, when the selector is sure and
    that topic neighbours the one just answered (their titles share a subject). None: decline."""
    last_faq, text = tracker.get_slot("last_faq"), normalise(customer_text(tracker))
    if not last_faq or tracker.get_slot("last_aspect") is not None or not 0 < len(text) <= 12:
        return None
    response, confidence = selected_faq(tracker)
    topic = response.removeprefix("utter_faq/")
    if topic in (response, last_faq) or confidence < FAQ_INSTEAD_CONFIDENCE:
        return None
    with kb_session() as s:
        before, now = q.faq_answer(s, last_faq), q.faq_answer(s, topic)
    if before is None or now is None:
        return None
    shared = difflib.SequenceMatcher(None, before.title, now.title, autojunk=False).find_longest_match()
    return response if shared.size >= NEIGHBOUR_TITLE_CHARS else None


#: How sure the FAQ response selector must be before its topic answers a consultation question
#: that names no product (below it, the customer is asked which product).
FAQ_INSTEAD_CONFIDENCE = 0.5
#: Words every question has: what is left after removing them is the question's subject.
_ASKING_WORDS = re.compile(
    "|".join(sorted({w for words in ASPECT_WORDS.values() for w in words}, key=len, reverse=True))
    + "|是不是|有没有|能不能|什么|怎么|多少|需要|请问|你们|银行|一下|哪些|哪个|[要吗呢吧啊能我的了去办几啥咋还和跟收带有是可以]"
)


def faq_instead(found: Resolution, tracker: Tracker, domain: dict[str, Any]) -> str | None:
    """The FAQ answer for a consultation question about an account or card service that names no
    product ("销户要带什么", "打印流水要多少钱", "二类户是干嘛的"): the contract labels it by what it
    asks (documents, fees, what it is), and the how-to the response selector picks answers it when
    the selector is sure and that answer speaks of the question's subject. None: ask which product.
    A question that says "loan" ("贷款被拒了为什么", "我想贷款") is about a loan of ours, never the
    repayment how-to that shares its word: the customer is asked which kind of loan."""
    if found.product or found.category or found.candidates or found.not_found or found.kinds:
        return None
    response, confidence = selected_faq(tracker)
    if not response.startswith("utter_faq/") or confidence < FAQ_INSTEAD_CONFIDENCE:
        return None
    subject = _ASKING_WORDS.sub(" ", normalise(customer_text(tracker)))
    return response if any(_subject_in(part, domain, response) for part in subject.split()) else None


def same_how_to(tracker: Tracker, domain: dict[str, Any]) -> bool:
    """Whether a follow-up asks the how-to just given again for a subject it already speaks of
    ("那用U盾的网银呢" after the transfer limits). Not when the follow-up names something the how-to
    never mentions and the title of the one the FAQ selector is sure of does ("信用卡逾期了呢" after
    a loan's: 卡逾期)."""
    text, last_faq = customer_text(tracker), tracker.get_slot("last_faq")
    if not (last_faq and is_follow_up(text)):
        return False
    last = f"utter_faq/{last_faq}"
    if not _subject_in(text, domain, last):
        return False
    selected, confidence = selected_faq(tracker)
    if selected in (last, "") or confidence < FAQ_INSTEAD_CONFIDENCE:
        return True
    with kb_session() as s:
        other = q.faq_answer(s, selected.removeprefix("utter_faq/"))
    if other is None:
        return True
    words = _ASKING_WORDS.sub(" ", normalise(text).removeprefix("那么").removeprefix("那")).split()
    before, title = _answer_text(domain, last), normalise(other.title)
    return not any(w[i : i + 2] in title and w[i : i + 2] not in before for w in words for i in range(len(w) - 1))


def _answer_text(domain: dict[str, Any], response: str) -> str:
    return normalise(str(((domain.get("responses") or {}).get(response) or [{}])[0].get("text", "")))


#: The how-to of doing business for someone else, and of a visit to one who cannot come.
PROXY_HOW_TO = "proxy_and_home_service"
DECEASED_HOW_TO = "deceased_account_inheritance"
#: "我能替他去办吗", "代办要带什么", "本人来不了": business done for someone else (parsing vocabulary).
_PROXY = re.compile(
    r"代办|代取|代领|代为办理|代他|代她"
    r"|(?:替|帮|代)(?:他|她|我爸|我妈|我老公|我老婆|我爱人|老人|家人|家里人|父母|爸爸|妈妈|孩子|儿子|女儿|老伴)"
    r"(?:去|来|到银行)?(?:办|取|领|开|激活|销户|补)"
    r"|本人(?:来不了|去不了|到不了|不能来|没法来|无法到场|不能到场)"
    r"|瘫痪|卧床|行动不便|走不动|出不了门|下不了床|来不了网点|去不了网点"
)
#: Words that say the account holder has died (parsing vocabulary).
_DEATH = re.compile(r"去世|过世|走了|死亡|死了|已故|离世|往生|身故|不在了|病故|遗产|继承")


def proxy_how_to(tracker: Tracker, domain: dict[str, Any]) -> str | None:
    """The how-to of doing business for someone else, for a question that asks it ("他年纪大了走不动，
    我能替他去办吗" after a lost passbook was "which kind of product?"; "我去帮我老婆办张卡可以吗"),
    unless the holder has died (the inheritance how-to answers that)."""
    text = normalise(customer_text(tracker))
    if not _PROXY.search(text) or _DEATH.search(text):
        return None
    response = f"utter_faq/{PROXY_HOW_TO}"
    return response if response in (domain.get("responses") or {}) else None


#: What a how-to says when it answers what to bring or what it costs.
_HOW_TO_SPEAKS_OF = {"documents": ("证件", "材料", "携带", "身份证", "证明"), "fees": ("费", "免收", "收取")}


def how_to_before(tracker: Tracker, domain: dict[str, Any], aspect: str) -> str | None:
    """The how-to just given, for a question on it with no subject of its own ("要带什么" after the
    how-to of a deceased relative's account; it was "which kind of product?" with sixteen kinds),
    when that how-to says what to bring or what it costs. The product the conversation holds does
    not count: the how-to came after it."""
    last_faq = tracker.get_slot("last_faq")
    if not last_faq or tracker.get_slot("last_aspect") is not None or aspect not in _HOW_TO_SPEAKS_OF:
        return None
    text = normalise(customer_text(tracker)).removeprefix("那么").removeprefix("那")
    if len(text) > 12 or _ASKING_WORDS.sub("", text):
        return None
    response = f"utter_faq/{last_faq}"
    return response if any(word in _answer_text(domain, response) for word in _HOW_TO_SPEAKS_OF[aspect]) else None


def _subject_in(text: str, domain: dict[str, Any], response: str) -> bool:
    """Whether the follow-up's subject ("U盾") is spoken of in the answer already given."""
    answer = _answer_text(domain, response)
    key = normalise(text).removeprefix("那么").removeprefix("那").removesuffix("呢")
    return any(key[i : i + 2] in answer for i in range(len(key) - 1)) and len(key) >= 2


class ActionAnswerYes(Action):
    """A yes with nothing pending: "what else can I do for you", unless it names another product of
    the kind under discussion ("白金的" after the card application, read as a yes: it was "好的。还有
    什么可以帮您？"), which asks the last question again about that one."""

    def name(self) -> str:
        return "action_answer_yes"

    @kb_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        code = tracker.get_slot("product_code")
        if code and tracker.get_slot("last_aspect") in ANSWERS:
            with kb_session() as s:
                product = q.get_product(s, code)
                named = sibling_named(s, product, customer_text(tracker)) if product else None
            if named:
                return await ActionAnswerFollowup().run(dispatcher, tracker, domain)
        dispatcher.utter_message(response="utter_anything_else")
        return []


class ActionAnswerNo(Action):
    """A "no" with nothing pending: a correction when it carries a new amount, term or product
    ("不对，是存三年"); the customer saying the bot misread their question ("我不是问这个"): an apology
    and a request to ask again; else a plain "what else can I do for you"."""

    def name(self) -> str:
        return "action_answer_no"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        corrects = any(latest_entities(tracker, e) for e in ("amount", "term", "product", "product_type"))
        if corrects and tracker.get_slot("last_aspect") in ANSWERS:
            return await ActionAnswerFollowup().run(dispatcher, tracker, domain)
        if not_what_i_asked(tracker):
            return answer_not_what_i_asked(dispatcher, tracker)
        dispatcher.utter_message(response="utter_anything_else")
        return []
