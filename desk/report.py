"""The quality view: what customers asked, what the assistant missed, where people stepped in.

One report, two ways to open it: ``python -m desk report`` (``make report``) writes a single
HTML file with plotly.js and the chart data inside it (it opens offline, from a file), and the
console serves the same page to supervisors at ``/report`` (:mod:`desk.app`), loading plotly.js
and the drawing script from the desk itself so that its Content-Security-Policy stays
``script-src 'self'``: the chart data travel in a ``<script type="application/json">`` block,
which the browser never executes.

It reads what is stored, read only:

* the Rasa tracker store (``TRACKER_STORE_URL``, Rasa's ``events`` table): the customers'
  messages, their intents and the product types they named;
* the knowledge base (``KNOWLEDGE_DB_URL``): handoffs, satisfaction ratings, complaints and the
  questions the assistant could not answer (masked when they were stored, masked again here).

Everything is counted: no conversation id, pseudonym or contact ever reaches the page.
Days are the bank's days (Beijing time).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine, and_, func, inspect, or_, select
from sqlalchemy.orm import Session

from banktext import redact, to_simplified
from banktext.intents import CONVERSATION_CONTROL, NOT_UNDERSTOOD  # control: left out of "what customers asked"
from desk import store
from knowledge import handoffs as h
from knowledge import models as m
from knowledge.db import session_scope

HERE = Path(__file__).resolve().parent
DEFAULT_DAYS = 30
#: Why a question was kept as unanswered (``actions/quality.py``, ``actions/products.py``).
UNANSWERED_REASONS = {"fallback": "没听懂", "product_not_found": "没有这款产品", "misread": "答非所问（客户指出）"}
#: The bot's answer to a message it did not understand (``actions/quality.py``): after an intent
#: read as ``nlu_fallback``, and after a recognised intent that no rule answers at that point
#: (RulePolicy's core fallback), which the intent alone does not show.
FALLBACK_ACTION = "action_handle_fallback"
#: Two questions belong to one knowledge gap from this character n-gram similarity (Dice) on.
SIMILAR = 0.4
GAPS_SHOWN = 10
#: The latest comments customers added to their ratings, shown under the satisfaction chart.
COMMENTS_SHOWN = 20
FONT = '"PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif'
BLUE, ORANGE, RED, GREEN, GREY = "#0b5cab", "#e07b00", "#b42318", "#1e6b34", "#8a96a3"


# --- what is counted ---------------------------------------------------------------------


@dataclass
class GapGroup:
    """Similar unanswered questions: how many, one that stands for them, a few others."""

    size: int
    representative: str
    examples: list[str]
    reasons: list[str]


@dataclass
class RatingComment:
    """What a customer added to a rating: its day, its score and the text, masked."""

    day: dt.date
    score: int
    text: str


@dataclass
class Stats:
    """The counts behind every chart, per day of the window (Beijing time)."""

    days: list[dt.date]
    conversations: dict[dt.date, int] = field(default_factory=dict)
    messages: dict[dt.date, int] = field(default_factory=dict)  # typed by the customer (not buttons)
    fallbacks: dict[dt.date, int] = field(default_factory=dict)  # read as nlu_fallback or answered by FALLBACK_ACTION
    out_of_scope: dict[dt.date, int] = field(default_factory=dict)
    intents: Counter = field(default_factory=Counter)
    product_types: Counter = field(default_factory=Counter)
    conversations_total: int = 0
    handoff_conversations: int = 0
    handoffs_by_day: dict[dt.date, int] = field(default_factory=dict)  # conversations with a handoff opened that day
    handoff_reasons: Counter = field(default_factory=Counter)
    ratings: dict[dt.date, list[int]] = field(default_factory=dict)
    comments: list[RatingComment] = field(default_factory=list)  # the latest first, at most COMMENTS_SHOWN
    complaints: Counter = field(default_factory=Counter)
    messages_left: Counter = field(default_factory=Counter)  # handoffs in state ``message``, by department
    gaps: list[GapGroup] = field(default_factory=list)
    unanswered_total: int = 0
    product_type_names: dict[str, str] = field(default_factory=dict)  # the catalogue's category names

    @property
    def messages_total(self) -> int:
        return sum(self.messages.values())

    @property
    def fallback_rate(self) -> float | None:
        return sum(self.fallbacks.values()) / self.messages_total if self.messages_total else None

    @property
    def out_of_scope_rate(self) -> float | None:
        return sum(self.out_of_scope.values()) / self.messages_total if self.messages_total else None

    @property
    def handoff_rate(self) -> float | None:
        if not self.conversations_total:
            return None
        return min(1.0, self.handoff_conversations / self.conversations_total)

    @property
    def all_ratings(self) -> list[int]:
        return [score for scores in self.ratings.values() for score in scores]

    @property
    def mean_rating(self) -> float | None:
        scores = self.all_ratings
        return sum(scores) / len(scores) if scores else None

    @property
    def open_tickets(self) -> int:
        return sum(self.complaints.values()) + sum(self.messages_left.values())

    @property
    def has_data(self) -> bool:
        return bool(
            self.conversations_total
            or self.handoff_reasons
            or self.all_ratings
            or self.complaints
            or self.messages_left
            or self.unanswered_total
        )


def window(days: int, now: dt.datetime | None = None) -> tuple[list[dt.date], dt.datetime, dt.datetime]:
    """The last ``days`` bank days up to ``now`` (naive UTC), with their start and end in naive UTC."""
    local_now = (now or h.utcnow()).replace(tzinfo=dt.timezone.utc).astimezone(h.BANK_TZ)
    first = local_now.date() - dt.timedelta(days=days - 1)
    dates = [first + dt.timedelta(days=i) for i in range(days)]

    def utc_midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), h.BANK_TZ).astimezone(dt.timezone.utc).replace(tzinfo=None)

    return dates, utc_midnight(first), utc_midnight(dates[-1] + dt.timedelta(days=1))


def bank_day(moment: dt.datetime) -> dt.date:
    """The bank's day of a naive UTC time."""
    return moment.replace(tzinfo=dt.timezone.utc).astimezone(h.BANK_TZ).date()


def collect(session: Session, tracker: Engine, days: int = DEFAULT_DAYS, now: dt.datetime | None = None) -> Stats:
    """Count everything the report shows over the last ``days`` days."""
    dates, start, end = window(days, now)
    stats = Stats(days=dates)
    _read_tracker(stats, tracker, start, end)
    if _has_tables(session, "handoff", "satisfaction", "complaint", "unanswered_question"):
        _read_knowledge(stats, session, start, end)
    return stats


def _has_tables(session: Session, *names: str) -> bool:
    present = set(inspect(session.get_bind()).get_table_names())
    return all(name in present for name in names)


def _read_tracker(stats: Stats, engine: Engine, start: dt.datetime, end: dt.datetime) -> None:
    events = store.events_table(engine)
    if events is None:
        return
    since, until = (t.replace(tzinfo=dt.timezone.utc).timestamp() for t in (start, end))
    query = (
        select(events.c.sender_id, events.c.type_name, events.c.timestamp, events.c.intent_name, events.c.data)
        .where(
            or_(
                events.c.type_name == "user",
                and_(events.c.type_name == "action", events.c.action_name == FALLBACK_ACTION),
            ),
            events.c.timestamp >= since,
            events.c.timestamp < until,
        )
        .order_by(events.c.id)
    )
    seen: dict[dt.date, set[str]] = defaultdict(set)
    everyone: set[str] = set()
    # each conversation's latest typed message not yet counted as misunderstood: its day
    pending: dict[str, dt.date] = {}
    with engine.connect() as connection:
        for sender, type_name, timestamp, intent_name, data in connection.execute(query):
            if type_name == "action":  # the bot asked to rephrase: the message before was not understood
                day = pending.pop(sender, None)
                if day is not None:
                    stats.fallbacks[day] = stats.fallbacks.get(day, 0) + 1
                continue
            try:
                event = json.loads(data) if data else {}
            except ValueError:
                event = {}
            day = dt.datetime.fromtimestamp(float(timestamp), h.BANK_TZ).date()
            seen[day].add(sender)
            everyone.add(sender)
            pending.pop(sender, None)
            parse = event.get("parse_data") or {}
            intent = intent_name or (parse.get("intent") or {}).get("name") or ""
            if intent in store.INTENT_NAMES and intent not in CONVERSATION_CONTROL:
                stats.intents[intent] += 1
            for kind in {e.get("value") for e in parse.get("entities") or [] if e.get("entity") == "product_type"}:
                if isinstance(kind, str) and kind:
                    stats.product_types[kind] += 1
            if str(event.get("text") or "").startswith("/"):
                continue  # a button pressed: never misunderstood, not part of the rates
            stats.messages[day] = stats.messages.get(day, 0) + 1
            if intent == NOT_UNDERSTOOD:
                stats.fallbacks[day] = stats.fallbacks.get(day, 0) + 1
            elif intent == "out_of_scope":
                stats.out_of_scope[day] = stats.out_of_scope.get(day, 0) + 1
            else:
                pending[sender] = day
    stats.conversations = {day: len(senders) for day, senders in seen.items()}
    stats.conversations_total = len(everyone)


def _read_knowledge(stats: Stats, session: Session, start: dt.datetime, end: dt.datetime) -> None:
    settings = h.desk(session) if _has_tables(session, "desk_department", "desk_setting") else None
    if _has_tables(session, "category"):
        stats.product_type_names = dict(session.execute(select(m.Category.code, m.Category.name)).tuples().all())
    per_day: dict[dt.date, set[str]] = defaultdict(set)
    everyone: set[str] = set()
    for conversation, reason, created in session.execute(
        select(m.Handoff.conversation_id, m.Handoff.reason, m.Handoff.created_at).where(
            m.Handoff.created_at >= start, m.Handoff.created_at < end
        )
    ):
        stats.handoff_reasons[reason] += 1
        per_day[bank_day(created)].add(conversation)
        everyone.add(conversation)
    stats.handoffs_by_day = {day: len(c) for day, c in per_day.items()}
    stats.handoff_conversations = len(everyone)
    for score, created in session.execute(
        select(m.SatisfactionRating.score, m.SatisfactionRating.created_at).where(
            m.SatisfactionRating.created_at >= start, m.SatisfactionRating.created_at < end
        )
    ):
        if 1 <= int(score) <= 5:
            stats.ratings.setdefault(bank_day(created), []).append(int(score))
    # masked when stored, masked again here (as the unanswered questions)
    stats.comments = [
        RatingComment(bank_day(r.created_at), int(r.score), redact(r.comment or "").strip())
        for r in h.recent_comments(session, COMMENTS_SHOWN, since=start, until=end)
    ]
    for category, count in session.execute(  # open tickets: every complaint not yet resolved
        select(m.Complaint.category, func.count())
        .where(m.Complaint.status != "resolved")
        .group_by(m.Complaint.category)
    ):
        stats.complaints[category or "其他"] += int(count)
    for department, count in session.execute(
        select(m.Handoff.department, func.count()).where(m.Handoff.state == "message").group_by(m.Handoff.department)
    ):
        name = settings.department_name(department) if settings else department
        stats.messages_left[name.split("（")[0]] += int(count)  # "银行卡（借记卡、…）": the short name
    questions = session.execute(
        select(m.UnansweredQuestion.text, m.UnansweredQuestion.reason).where(
            m.UnansweredQuestion.created_at >= start, m.UnansweredQuestion.created_at < end
        )
    ).all()
    stats.unanswered_total = len(questions)
    stats.gaps = group_questions(questions)


# --- knowledge gaps: similar unanswered questions together ---------------------------------

_NOT_TEXT = re.compile(r"[^0-9a-z\u4e00-\u9fff*]+")
#: Particles and pronouns that every question has: never a reason to call two questions alike.
_COMMON = frozenset("的了吗呢吧啊呀么我你您们是在有这那个一请问下")


def normalise(text: str) -> str:
    """Simplified script, lower case, no spaces or punctuation (masked digits stay ``*``)."""
    return _NOT_TEXT.sub("", to_simplified(text or "").lower())


def ngrams(text: str) -> frozenset[str]:
    """Character bigrams and the characters that carry meaning of a normalised question."""
    grams = {text[i : i + 2] for i in range(len(text) - 1)}
    grams |= {c for c in text if c not in _COMMON}
    return frozenset(grams or {text})


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Dice coefficient of two n-gram sets: 1 for the same question, 0 for nothing shared."""
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


def group_questions(rows: Iterable[tuple[str, str] | str], threshold: float = SIMILAR) -> list[GapGroup]:
    """Group unanswered questions by character n-gram similarity, largest group first.

    Greedy average-link grouping: distinct questions, most frequent first, each join the group
    they resemble most on average (at least ``threshold``) or start one. The representative is
    the member closest to all the others, weighted by how often each was asked.
    """
    counts: Counter = Counter()
    shown: dict[str, str] = {}
    reasons: dict[str, Counter] = defaultdict(Counter)
    for row in rows:
        text, reason = (row, "") if isinstance(row, str) else row
        text = redact(text or "").strip()
        key = normalise(text)
        if not key:
            continue
        counts[key] += 1
        shown.setdefault(key, text[:120])
        if reason:
            reasons[key][reason] += 1
    grams = {key: ngrams(key) for key in counts}
    groups: list[list[str]] = []
    for key in sorted(counts, key=lambda k: (-counts[k], len(k), k)):
        best, best_score = None, threshold
        for group in groups:
            score = sum(similarity(grams[key], grams[other]) for other in group) / len(group)
            if score >= best_score:
                best, best_score = group, score
        if best is None:
            groups.append([key])
        else:
            best.append(key)
    result = []
    for group in groups:

        def centrality(key: str, group: list[str] = group) -> tuple[float, int]:
            return (
                sum(counts[o] * similarity(grams[key], grams[o]) for o in group if o != key) + counts[key],
                counts[key],
            )

        ordered = sorted(group, key=centrality, reverse=True)
        why: Counter = Counter()
        for key in group:
            why.update(reasons[key])
        result.append(
            GapGroup(
                size=sum(counts[k] for k in group),
                representative=shown[ordered[0]],
                examples=[shown[k] for k in sorted(ordered[1:], key=lambda k: -counts[k])[:3]],
                reasons=[UNANSWERED_REASONS.get(r, r) for r, _ in why.most_common()],
            )
        )
    result.sort(key=lambda g: (-g.size, g.representative))
    return result


# --- charts ---------------------------------------------------------------------------------


@dataclass
class Chart:
    """One card of the report: a Chinese title, the one-line takeaway and a plotly figure."""

    key: str
    title: str
    takeaway: str
    figure: dict[str, Any] | None  # None: nothing to draw yet, the takeaway says so


def _md(day: dt.date) -> str:
    return f"{day.month}月{day.day}日"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _layout(**extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "font": {"family": FONT, "size": 13, "color": "#1f2933"},
        "margin": {"l": 56, "r": 16, "t": 12, "b": 44},
        "height": 300,
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "showlegend": False,
        "hoverlabel": {"font": {"family": FONT}},
        "xaxis": {"gridcolor": "#eef2f7"},
        "yaxis": {"gridcolor": "#eef2f7", "rangemode": "tozero"},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(layout.get(key), dict):
            layout[key] = {**layout[key], **value}
        else:
            layout[key] = value
    return layout


def _date_axis(stats: Stats) -> dict[str, Any]:
    """A date axis over the whole window (however few days have data), one tick a day on short ones."""
    first, last = stats.days[0], stats.days[-1]
    axis: dict[str, Any] = {
        "type": "date",
        "range": [f"{first - dt.timedelta(days=1)} 12:00", f"{last} 12:00"],
        "tickformat": "%-m月%-d日",
        "hoverformat": "%Y年%-m月%-d日",
        "gridcolor": "#eef2f7",
    }
    if len(stats.days) <= 10:
        axis["dtick"] = 86400000  # a day, in milliseconds
    return axis


def _whole(top: int) -> dict[str, Any]:
    """Axis ticks for counts: whole numbers only (plotly would write 0.5 on a short axis)."""
    return {"dtick": 1, "tick0": 0} if top <= 8 else {"tickformat": "d"}


def plain(text: str) -> str:
    """Text for a plotly label: plotly.js reads a few HTML tags in labels (<a href>, <b>, ...),
    and a customer's question is shown as typed, never as a link or markup."""
    return html.escape(text, quote=False)


def _bars(labels: list[str], values: list[int], color: str, unit: str = "次") -> dict[str, Any]:
    """Horizontal bars, the largest on top, with the count written at the end of each bar."""
    labels = [plain(label) for label in labels]
    height = max(180, 34 * len(labels) + 60)
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "y": labels[::-1],
                "x": values[::-1],
                "marker": {"color": color},
                "text": [f"{v} {unit}" for v in values[::-1]],
                "textposition": "outside",
                "cliponaxis": False,
                "hovertemplate": "%{y}：%{x} " + unit + "<extra></extra>",
            }
        ],
        "layout": _layout(
            height=height,
            margin={"l": 170, "r": 60, "t": 8, "b": 36},
            xaxis={"title": {"text": unit}, "rangemode": "tozero", **_whole(max(values, default=0))},
            yaxis={"automargin": True},
        ),
    }


def charts(stats: Stats) -> list[Chart]:
    """Every chart of the report, in reading order."""
    return [
        _conversations_chart(stats),
        _intents_chart(stats),
        _product_types_chart(stats),
        _fallback_chart(stats),
        _handoff_rate_chart(stats),
        _handoff_reasons_chart(stats),
        _satisfaction_chart(stats),
        _tickets_chart(stats),
        _gaps_chart(stats),
    ]


def _x(stats: Stats) -> list[str]:
    return [d.isoformat() for d in stats.days]


def _conversations_chart(stats: Stats) -> Chart:
    title = "每日会话量"
    if not stats.conversations_total:
        return Chart("conversations", title, "还没有客户会话。", None)
    busiest = max(stats.conversations, key=lambda d: (stats.conversations[d], d))
    figure = {
        "data": [
            {
                "type": "bar",
                "x": _x(stats),
                "y": [stats.conversations.get(d, 0) for d in stats.days],
                "marker": {"color": BLUE},
                "hovertemplate": "%{x}：%{y} 次会话<extra></extra>",
            }
        ],
        "layout": _layout(
            xaxis=_date_axis(stats), yaxis={"title": {"text": "会话数"}, **_whole(max(stats.conversations.values()))}
        ),
    }
    takeaway = (
        f"近{len(stats.days)}天共 {stats.conversations_total} 次会话，日均 "
        f"{stats.conversations_total / len(stats.days):.1f} 次；最多的一天是{_md(busiest)}（{stats.conversations[busiest]} 次）。"
    )
    return Chart("conversations", title, takeaway, figure)


def _intents_chart(stats: Stats) -> Chart:
    title = "客户在问什么（意图）"
    if not stats.intents:
        return Chart("intents", title, "还没有识别出的客户问题。", None)
    top = stats.intents.most_common()
    labels = [store.INTENT_NAMES[i] for i, _ in top]
    total = sum(stats.intents.values())
    first, count = top[0]
    takeaway = f"问得最多的是「{store.INTENT_NAMES[first]}」，{count} 次，占已识别问题的 {count / total * 100:.0f}%。"
    return Chart("intents", title, takeaway, _bars(labels, [c for _, c in top], BLUE))


def _product_types_chart(stats: Stats) -> Chart:
    title = "客户问到的产品类别"
    if not stats.product_types:
        return Chart("product_types", title, "客户的消息中还没有提到产品类别。", None)
    top = stats.product_types.most_common()
    labels = [stats.product_type_names.get(k, k) for k, _ in top]
    takeaway = f"提到最多的是「{labels[0]}」（{top[0][1]} 条消息），共涉及 {len(top)} 个类别。"
    return Chart("product_types", title, takeaway, _bars(labels, [c for _, c in top], GREEN, "条"))


def _rate(part: dict[dt.date, int], whole: dict[dt.date, int], day: dt.date) -> float | None:
    return part.get(day, 0) / whole[day] if whole.get(day) else None


def _fallback_chart(stats: Stats) -> Chart:
    title = "没听懂与业务范围外的比例（按天）"
    if not stats.messages_total:
        return Chart("fallback", title, "还没有客户输入的消息。", None)
    lines = []
    for name, part, color in (("没听懂", stats.fallbacks, RED), ("业务范围外", stats.out_of_scope, ORANGE)):
        lines.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": name,
                "x": _x(stats),
                "y": [_rate(part, stats.messages, d) for d in stats.days],
                "connectgaps": True,
                "line": {"color": color, "width": 2},
                "hovertemplate": name + "：%{y:.1%}<extra></extra>",
            }
        )
    figure = {
        "data": lines,
        "layout": _layout(
            showlegend=True,
            legend={"orientation": "h", "y": 1.12, "x": 0},
            margin={"t": 36},
            xaxis=_date_axis(stats),
            yaxis={"title": {"text": "占客户消息"}, "tickformat": ".0%"},
            hovermode="x unified",
        ),
    }
    takeaway = (
        f"{stats.messages_total} 条客户消息中，{_pct(stats.fallback_rate)} 没听懂（{sum(stats.fallbacks.values())} 条），"
        f"{_pct(stats.out_of_scope_rate)} 超出业务范围（{sum(stats.out_of_scope.values())} 条）。"
    )
    return Chart("fallback", title, takeaway, figure)


def _handoff_rate_chart(stats: Stats) -> Chart:
    title = "转人工率（按天）"
    if not stats.conversations_total:
        return Chart("handoff_rate", title, "还没有会话，无法计算转人工率。", None)
    figure = {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": _x(stats),
                "y": [
                    min(1.0, v) if (v := _rate(stats.handoffs_by_day, stats.conversations, d)) is not None else None
                    for d in stats.days
                ],
                "connectgaps": True,
                "line": {"color": ORANGE, "width": 2},
                "hovertemplate": "%{x}：%{y:.1%}<extra></extra>",
            }
        ],
        "layout": _layout(xaxis=_date_axis(stats), yaxis={"title": {"text": "转人工的会话"}, "tickformat": ".0%"}),
    }
    takeaway = (
        f"{stats.conversations_total} 次会话中有 {stats.handoff_conversations} 次转了人工，"
        f"转人工率 {_pct(stats.handoff_rate)}。"
    )
    return Chart("handoff_rate", title, takeaway, figure)


def _handoff_reasons_chart(stats: Stats) -> Chart:
    title = "转人工的原因"
    if not stats.handoff_reasons:
        return Chart("handoff_reasons", title, "还没有转人工的会话。", None)
    top = stats.handoff_reasons.most_common()
    labels = [h.REASONS.get(r, r) for r, _ in top]
    total = sum(stats.handoff_reasons.values())
    takeaway = f"最常见的原因：{labels[0]}（{top[0][1]} 次，占 {top[0][1] / total * 100:.0f}%）。"
    return Chart("handoff_reasons", title, takeaway, _bars(labels, [c for _, c in top], ORANGE))


def _satisfaction_chart(stats: Stats) -> Chart:
    title = "客户满意度（1–5 分，按天）"
    scores = stats.all_ratings
    if not scores:
        return Chart("satisfaction", title, "还没有客户评分。", None)
    days = [d for d in stats.days if stats.ratings.get(d)]
    figure = {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": [d.isoformat() for d in days],
                "y": [round(sum(stats.ratings[d]) / len(stats.ratings[d]), 2) for d in days],
                "customdata": [len(stats.ratings[d]) for d in days],
                "line": {"color": GREEN, "width": 2},
                "marker": {"size": 8},
                "hovertemplate": "%{x}：平均 %{y} 分（%{customdata} 个评分）<extra></extra>",
            }
        ],
        "layout": _layout(
            xaxis=_date_axis(stats), yaxis={"title": {"text": "平均分"}, "range": [0.8, 5.2], "dtick": 1}
        ),
    }
    low = sum(1 for s in scores if s <= 2)
    takeaway = f"{len(scores)} 个评分，平均 {stats.mean_rating:.2f} 分；{low} 个不满意（1–2 分）。"
    if stats.comments:
        takeaway += f"最近 {len(stats.comments)} 条评价留言见下表。"
    return Chart("satisfaction", title, takeaway, figure)


def _tickets_chart(stats: Stats) -> Chart:
    title = "待处理：投诉与留言"
    if not stats.open_tickets:
        return Chart("tickets", title, "没有投诉，也没有待回复的留言。", None)
    traces = []
    for prefix, counter, color in (("投诉 · ", stats.complaints, RED), ("留言 · ", stats.messages_left, BLUE)):
        top = counter.most_common()
        if top:
            traces.append(
                {
                    "type": "bar",
                    "orientation": "h",
                    "name": prefix.strip(" ·"),
                    "y": [plain(prefix + str(k)) for k, _ in top][::-1],
                    "x": [v for _, v in top][::-1],
                    "text": [f"{v} 件" for _, v in top][::-1],
                    "textposition": "outside",
                    "cliponaxis": False,
                    "marker": {"color": color},
                    "hovertemplate": "%{y}：%{x} 件<extra></extra>",
                }
            )
    rows = len(stats.complaints) + len(stats.messages_left)
    figure = {
        "data": traces[::-1],  # complaints on top
        "layout": _layout(
            height=max(180, 34 * rows + 60),
            margin={"l": 170, "r": 60, "t": 8, "b": 36},
            xaxis={"title": {"text": "件"}, **_whole(max([*stats.complaints.values(), *stats.messages_left.values()]))},
            yaxis={"automargin": True},
        ),
    }
    takeaway = (
        f"{sum(stats.complaints.values())} 件投诉工单未办结"
        + (f"（最多：{stats.complaints.most_common(1)[0][0]}）" if stats.complaints else "")
        + f"，{sum(stats.messages_left.values())} 条留言等待人工回复。"
    )
    return Chart("tickets", title, takeaway, figure)


def _short(text: str, limit: int = 18) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _gaps_chart(stats: Stats) -> Chart:
    title = "知识缺口：没答上来的问题（相似问题归为一组）"
    if not stats.gaps:
        return Chart("gaps", title, "还没有没答上来的问题。", None)
    shown = stats.gaps[:GAPS_SHOWN]
    labels = [f"{i}. {_short(g.representative)}" for i, g in enumerate(shown, 1)]
    top = shown[0]
    takeaway = (
        f"{stats.unanswered_total} 个没答上来的问题归为 {len(stats.gaps)} 组；最大的一组是"
        f"「{_short(top.representative, 30)}」（{top.size} 次）。"
    )
    return Chart("gaps", title, takeaway, _bars(labels, [g.size for g in shown], RED))


# --- the page -------------------------------------------------------------------------------


def figures(stats: Stats) -> list[tuple[str, str]]:
    """The key figures at the top of the page: (label, value)."""
    mean = stats.mean_rating
    return [
        ("会话", str(stats.conversations_total)),
        ("客户消息", str(stats.messages_total)),
        ("没听懂率", _pct(stats.fallback_rate)),
        ("转人工率", _pct(stats.handoff_rate)),
        ("平均满意度", "—" if mean is None else f"{mean:.2f} 分"),
        ("待处理投诉与留言", str(stats.open_tickets)),
        ("知识缺口（组）", str(len(stats.gaps))),
    ]


@lru_cache(maxsize=1)
def _templates() -> Environment:
    return Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))


@lru_cache(maxsize=4)
def asset(name: str) -> str:
    """The text of a file the page needs: plotly.js (from the installed package) or ours."""
    if name == "plotly.min.js":
        from plotly.offline import get_plotlyjs

        return get_plotlyjs()
    return (HERE / "static" / name).read_text(encoding="utf-8")


def _object_literal(source: str, start: int) -> str:
    """The JavaScript object literal that encloses ``source[start]`` (quotes and escapes skipped)."""
    begin = source.rindex("{", 0, start)
    end, quote = start, ""
    while end < len(source):
        char = source[end]
        if quote:
            if char == "\\":
                end += 1
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "}":
            return source[begin : end + 1]
        end += 1
    raise ValueError("unterminated object literal")


@lru_cache(maxsize=1)
def plotly_css() -> str:
    """plotly.js's own style rules as a stylesheet, for a page whose CSP forbids inline styles.

    plotly.js adds these rules to a ``<style>`` element it creates, which ``style-src 'self'``
    refuses (the charts then lose their layout). The console's page therefore marks that
    element as present (``class="no-inline-styles"``, which plotly.js honours) and links this
    stylesheet instead. The rules are read from the installed plotly.js, where its build keeps
    them in one object literal whose first key is ``"X,X div"``, so they follow the pinned
    version (``tests/desk/test_report.py`` fails if a new version moves them).
    """
    import ast

    source = asset("plotly.min.js")
    literal = _object_literal(source, source.index('"X,X div"'))
    tree = ast.parse(literal, mode="eval").body
    if not isinstance(tree, ast.Dict):
        raise ValueError("plotly.js's style rules were not found")
    rules = []
    for key, value in zip(tree.keys, tree.values, strict=True):
        # the minifier leaves some keys unquoted (Y: ...)
        selector = key.id if isinstance(key, ast.Name) else ast.literal_eval(key)  # type: ignore[arg-type]
        selector = (
            re.sub(r"^,", " ,", selector).replace("X", ".js-plotly-plot .plotly").replace("Y", ".plotly-notifier")
        )
        rules.append(f"{selector} {{{ast.literal_eval(value)}}}")
    return "/* plotly.js's style rules (from the installed plotly.js) */\n" + "\n".join(rules) + "\n"


@lru_cache(maxsize=1)
def inline_style_ids() -> list[str]:
    """Ids of the ``<style>`` elements plotly.js would add, which the console's page provides.

    ``plotly.js-style-global`` holds plotly.js's rules (:func:`plotly_css`); the other is the
    stylesheet of its map charts (MapLibre), added at load time unless an element with its id
    exists: the report draws no maps, and without it the browser logs a refused inline style.
    """
    found = re.search(
        r'getElementById\("([0-9a-f]{32,64})"\)\)\{var \w+=document\.createElement\("style"\)', asset("plotly.min.js")
    )
    return ["plotly.js-style-global", *([found[1]] if found else [])]


def chart_data(items: list[Chart]) -> str:
    """The figures as JSON safe inside an HTML ``<script type="application/json">`` block."""
    from plotly.io.json import to_json_plotly

    return to_json_plotly({c.key: c.figure for c in items if c.figure is not None})


def render(stats: Stats, standalone: bool = True, generated: dt.datetime | None = None) -> str:
    """The report as HTML.

    Args:
        stats: what :func:`collect` counted.
        standalone: one self-contained file (plotly.js, the drawing script and the styles inside
            it, for ``make report``); otherwise the page the console serves, which loads them
            from the desk (``/report/plotly.min.js``, ``/static/report.js``, ``/static/report.css``).
        generated: when the report was made (naive UTC; default now).
    """
    items = charts(stats)
    local = (generated or h.utcnow()).replace(tzinfo=dt.timezone.utc).astimezone(h.BANK_TZ)
    return (
        _templates()
        .get_template("report.html")
        .render(
            stats=stats,
            charts=items,
            figures=figures(stats),
            gaps=stats.gaps[:GAPS_SHOWN],
            comments=stats.comments,
            data=chart_data(items),
            standalone=standalone,
            asset=asset,
            period=f"{_md(stats.days[0])}—{_md(stats.days[-1])}",
            days=len(stats.days),
            generated=f"{local:%Y-%m-%d %H:%M}",
            style_ids=[] if standalone else inline_style_ids(),
        )
    )


def build(days: int = DEFAULT_DAYS, standalone: bool = True, now: dt.datetime | None = None) -> str:
    """Read the configured databases (``KNOWLEDGE_DB_URL``, ``TRACKER_STORE_URL``) and render."""
    with session_scope() as session:
        stats = collect(session, store.tracker_engine(), days, now)
    return render(stats, standalone, now)


def write(path: Path, days: int = DEFAULT_DAYS) -> Path:
    """Write the self-contained report to ``path`` (folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build(days), encoding="utf-8")
    return path
