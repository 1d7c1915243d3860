"""Validation of the seed files, before anything is written to the database.

Every model forbids unknown fields so that a misspelt key is an error, not a
silently ignored value.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CATEGORY_CODES = (
    "demand_deposit",
    "time_deposit",
    "certificate_of_deposit",
    "debit_card",
    "credit_card",
    "mortgage",
    "consumer_loan",
    "business_loan",
    "student_loan",
    "wealth_management",
    "fund",
    "insurance",
    "precious_metal",
    "forex",
    "e_banking",
    "corporate_settlement",
)
SEGMENT_CODES = (
    "student",
    "young_professional",
    "homemaker",
    "retiree",
    "business_owner",
    "high_net_worth",
)
GOALS = (
    "saving",
    "liquidity",
    "growth",
    "consumption",
    "housing",
    "education",
    "retirement",
    "business",
    "protection",
    "travel",
)
RISK_LEVELS = ("R1", "R2", "R3", "R4", "R5")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Categories whose products must carry a risk level.
RATED_CATEGORIES = frozenset(
    {
        "demand_deposit",
        "time_deposit",
        "certificate_of_deposit",
        "wealth_management",
        "fund",
        "insurance",
        "precious_metal",
        "forex",
    }
)
#: Wording that promises returns; never allowed for anything above R1.
PROMISE_PHRASES = (
    "保本保息",
    "稳赚",
    "零风险",
    "无风险",
    "保证收益",
    "稳赚不赔",
    "只赚不赔",
    "保本保收益",
    "绝对安全",
)

Code = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]*$", max_length=40)
Text = Field(min_length=1)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class BankIn(_Strict):
    code: str = Code
    name: str = Text
    short_name: str = Text
    hotline: str = Text
    credit_card_hotline: str | None = None
    fraud_hotline: str | None = None
    website: str = Field(pattern=r"^https?://\S+$")
    app_name: str | None = None
    wechat_account: str | None = None
    service_hours: str = Text
    #: names the bank's own and distributed products are sold under ("澜山" funds, "澜安" policies):
    #: a question that names one is about the bank's business
    brands: list[str] = Field(default_factory=list)


class BankFile(_Strict):
    sample_data: bool = False
    bank: BankIn


class CategoryIn(_Strict):
    code: Literal[CATEGORY_CODES]  # type: ignore[valid-type]
    name: str = Text
    description: str = Text
    synonyms: list[str] = Field(default_factory=list)


class CategoriesFile(_Strict):
    sample_data: bool = False
    categories: list[CategoryIn]


class RateRowIn(_Strict):
    term_months: int | None = Field(default=None, ge=0, le=600)  # 0: demand (活期)
    label: str | None = None
    rate: Decimal = Field(ge=0, le=100000)
    unit: str = "%"

    @model_validator(mode="after")
    def _term_or_label(self) -> RateRowIn:
        if self.term_months is None and not self.label:
            raise ValueError("a rate row needs term_months or label")
        return self


class RatesIn(_Strict):
    effective_date: dt.date
    kind: Literal["fixed", "floating", "lpr", "benchmark", "exchange", "reference"]
    note: str | None = None
    rows: list[RateRowIn] = Field(min_length=1)


class FeeIn(_Strict):
    name: str = Text
    amount: Decimal | None = Field(default=None, ge=0)
    unit: str | None = None
    waiver: str | None = None
    description: str | None = None


class ProductIn(_Strict):
    code: str = Code
    name: str = Text
    aliases: list[str] = Field(default_factory=list)
    category: Literal[CATEGORY_CODES]  # type: ignore[valid-type]
    summary: str = Text
    features: list[str] = Field(default_factory=list)
    segments: list[Literal[SEGMENT_CODES]] = Field(default_factory=list)  # type: ignore[valid-type]
    goals: list[Literal[GOALS]] = Field(default_factory=list)  # type: ignore[valid-type]
    risk_level: Literal[RISK_LEVELS] | None = None  # type: ignore[valid-type]
    min_amount: Decimal | None = Field(default=None, ge=0)
    max_amount: Decimal | None = Field(default=None, gt=0)
    min_term_months: int | None = Field(default=None, ge=0, le=600)
    max_term_months: int | None = Field(default=None, ge=0, le=600)
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    rates: RatesIn | None = None
    fees: list[FeeIn] = Field(default_factory=list)
    eligibility: list[str] = Field(default_factory=list)
    documents: list[str] = Field(default_factory=list)
    apply_channels: list[str] = Field(default_factory=list)
    apply_steps: list[str] = Field(default_factory=list)
    maturity: str | None = None
    auto_renew: bool | None = None
    early_withdrawal: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ProductIn:
        if self.category in RATED_CATEGORIES and self.risk_level is None:
            raise ValueError(f"risk_level is required for category {self.category}")
        if self.min_amount is not None and self.max_amount is not None and self.min_amount > self.max_amount:
            raise ValueError("min_amount is larger than max_amount")
        if (
            self.min_term_months is not None
            and self.max_term_months is not None
            and self.max_term_months
            and self.min_term_months > self.max_term_months
        ):
            raise ValueError("min_term_months is larger than max_term_months")
        if self.risk_level and self.risk_level != "R1":
            for phrase in PROMISE_PHRASES:
                for text in self.texts():
                    if phrase in text:
                        raise ValueError(f"promises returns ('{phrase}') on a {self.risk_level} product: {text[:40]}")
        return self

    def texts(self) -> list[str]:
        """Every piece of customer-facing text of the product."""
        out = [self.name, self.summary, *self.features, *self.eligibility, *self.apply_steps]
        out += [t for t in (self.maturity, self.early_withdrawal) if t]
        if self.rates and self.rates.note:
            out.append(self.rates.note)
        for fee in self.fees:
            out += [t for t in (fee.waiver, fee.description) if t]
        return out


class ProductsFile(_Strict):
    sample_data: bool = False
    products: list[ProductIn]


class DisclosureIn(_Strict):
    code: str = Code
    risk_level: Literal[RISK_LEVELS]  # type: ignore[valid-type]
    category: Literal[CATEGORY_CODES] | None = None  # type: ignore[valid-type]
    version: str = Field(min_length=1, max_length=20)
    effective_date: dt.date
    title: str = Text
    text: str = Field(min_length=20)

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value):
        return str(value) if isinstance(value, (int, float)) else value

    @model_validator(mode="after")
    def _no_promises(self) -> DisclosureIn:
        for phrase in PROMISE_PHRASES:
            if phrase in self.text and not re.search(f"(不|非|并非|没有|无法)[^。]{{0,8}}{phrase}", self.text):
                raise ValueError(f"disclosure text promises returns ('{phrase}')")
        return self


class DisclosuresFile(_Strict):
    sample_data: bool = False
    disclosures: list[DisclosureIn]


class RuleIn(_Strict):
    goal: Literal[GOALS]  # type: ignore[valid-type]
    categories: list[Literal[CATEGORY_CODES]] = Field(min_length=1)  # type: ignore[valid-type]
    reason: str = Text


class SegmentIn(_Strict):
    code: Literal[SEGMENT_CODES]  # type: ignore[valid-type]
    name: str = Text
    synonyms: list[str] = Field(default_factory=list)
    description: str = Text
    rules: list[RuleIn] = Field(default_factory=list)


class DeskDepartmentIn(_Strict):
    code: str = Code
    name: str = Text
    #: a handoff goes to the department naming the intent that led to it, else the product type
    #: discussed last, else the customer's segment; to the first department when none does
    product_types: list[Literal[CATEGORY_CODES]] = Field(default_factory=list)  # type: ignore[valid-type]
    intents: list[str] = Field(default_factory=list)
    segments: list[Literal[SEGMENT_CODES]] = Field(default_factory=list)  # type: ignore[valid-type]


class CannedReplyIn(_Strict):
    code: str = Code
    title: str = Text
    text: str = Text


class DeskIn(_Strict):
    opens: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    closes: str = Field(pattern=r"^([01]\d|2[0-4]):[0-5]\d$")
    weekdays: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7])
    max_wait_minutes: int = Field(default=15, ge=1, le=24 * 60)
    default_handle_minutes: int = Field(default=6, ge=1, le=240)
    departments: list[DeskDepartmentIn] = Field(min_length=1)
    canned_replies: list[CannedReplyIn] = Field(default_factory=list)
    #: FAQ topics whose answer comes with an offer of a specialist (the answer depends on the case)
    specialist_topics: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _valid(self) -> DeskIn:
        if self.opens >= self.closes:
            raise ValueError("the desk must open before it closes")
        if not set(self.weekdays) <= set(range(1, 8)) or not self.weekdays:
            raise ValueError("weekdays are 1 (Monday) to 7 (Sunday)")
        return self


class DeskFile(_Strict):
    sample_data: bool = False
    desk: DeskIn


class SegmentsFile(_Strict):
    sample_data: bool = False
    segments: list[SegmentIn]


_HOURS = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$")


class BranchIn(_Strict):
    code: str = Code
    name: str = Text
    city: str = Text
    district: str = Text
    address: str = Text
    phone: str = Text
    hours: dict[Literal[WEEKDAYS], str | None]  # type: ignore[valid-type]
    services: list[str] = Field(default_factory=list)

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, hours):
        for day, span in hours.items():
            if span is None:
                continue
            if not _HOURS.match(span):
                raise ValueError(f"{day}: '{span}' is not HH:MM-HH:MM")
            start, end = span.split("-")
            if start >= end:
                raise ValueError(f"{day}: opens at {start} but closes at {end}")
        return hours


class BranchesFile(_Strict):
    sample_data: bool = False
    branches: list[BranchIn]


#: The intents a FAQ topic's questions may be trained as. A topic is retrieval FAQ
#: (``faq/<topic>``) unless the NLU contract gives its questions another intent: a card
#: swallowed by an ATM is ``report_lost_card``, the bank's service channels are
#: ``ask_contact``, taking a queue number at a branch (预约取号) is ``book_appointment``.
#: The action of that intent then answers with the topic's text.
FAQ_INTENTS = ("faq", "report_lost_card", "ask_contact", "book_appointment")


class FaqIn(_Strict):
    topic: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)
    title: str = Text
    intent: Literal[FAQ_INTENTS] = "faq"  # type: ignore[valid-type]
    questions: list[str] = Field(min_length=1)
    answer: str = Text

    @property
    def nlu_intent(self) -> str:
        """The intent the topic's questions are trained as."""
        return f"faq/{self.topic}" if self.intent == "faq" else self.intent


class FaqFile(_Strict):
    sample_data: bool = False
    faqs: list[FaqIn]
