"""Questions the assistant could not answer, labelled by supervisors and exported as training data.

The quality view shows where the assistant fails; this closes the loop. Every question the
assistant did not understand (``fallback``) or could not match to a product is stored masked in
the knowledge base (``unanswered_question``, :mod:`actions.quality`). On the desk's 问题标注 page
a supervisor reads them, the same question asked many times shown once, and says what the
customer meant: an intent of the NLU contract, an FAQ topic (``faq/<topic>``), or ``skip`` (not a
question to learn from: a keyboard mash, a half sentence). A label can be taken back while it
waits for the next training.

``python -m desk review export`` writes every labelled question as Rasa training data
(``data/nlu/reviewed.yml`` by default) for the next ``make train``: how customers really write,
which no data the team writes itself replaces (``docs/nlu-evaluation.md``). The text is the
stored one, so card, ID and phone numbers stay masked in the training data too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnElement

from desk import store
from desk.report import normalise
from knowledge import models as m
from knowledge.db import rows_changed
from knowledge.handoffs import utcnow

#: Not a question to learn from: kept out of the training data, and out of the queue.
SKIP = "skip"
#: The contract's conversation control, which a message the assistant missed can also be.
CONTROL_LABELS = ("greet", "goodbye", "thank", "affirm", "deny")
#: At most this many distinct questions on the page, most asked first, gathered from the latest
#: ``QUEUE_SCAN`` stored questions still waiting (older ones come up as these are labelled).
QUEUE_ROWS = 100
QUEUE_SCAN = 5000
#: The latest labels shown for taking back.
RECENT_ROWS = 30
DEFAULT_EXPORT = store.ROOT / "data" / "nlu" / "reviewed.yml"
#: A longer text (a pasted paragraph) is not a question to train on; it stays labelled but is not exported.
LONGEST = 300
#: Characters Rasa's training-data format reads as entity markup ([text](entity), {"entity": ...}):
#: written as their full-width look-alikes, so a customer's text stays plain text.
_MARKUP = str.maketrans({"[": "【", "]": "】", "{": "｛", "}": "｝"})
#: What the customer typed: a button's payload ("/ask_fees{...}", kept for the quality view when it
#: named a product the catalogue lacks) is no wording to learn from.
TYPED = ~m.UnansweredQuestion.text.startswith("/")


@dataclass
class Question:
    """One question as the supervisor sees it: the same text asked many times is one row."""

    ids: list[int]
    text: str
    reason: str
    guess: str | None
    confidence: float | None
    last: dt.datetime
    label: str | None = None
    labelled_by: str | None = None

    @property
    def count(self) -> int:
        return len(self.ids)


@dataclass
class Labels:
    """What a question can be labelled: the contract's intents by the names staff read, and the FAQ topics."""

    intents: dict[str, str] = field(default_factory=dict)
    faqs: dict[str, str] = field(default_factory=dict)

    def __contains__(self, label: object) -> bool:
        return label == SKIP or label in self.intents or label in self.faqs

    def name(self, label: str) -> str:
        if label == SKIP:
            return "不是可学习的问题"
        return self.intents.get(label) or self.faqs.get(label) or label


def labels(session: Session) -> Labels:
    """The labels a supervisor chooses from; FAQ topics as the knowledge base lists them now."""
    intents = {i: name for i, name in store.INTENT_NAMES.items() if i != "faq"}
    intents.update({i: store.intent_name(i) for i in CONTROL_LABELS})
    faqs = {f"faq/{topic}": f"常见问题：{title}" for topic, title in session.execute(select(m.Faq.topic, m.Faq.title))}
    return Labels(intents, dict(sorted(faqs.items(), key=lambda kv: kv[1])))


def _grouped(rows: Iterable[m.UnansweredQuestion]) -> list[Question]:
    """Rows with the same normalised text as one question, its latest wording and time kept."""
    groups: dict[tuple[str, str | None], Question] = {}
    for row in rows:  # newest first
        key = (normalise(row.text) or row.text, row.label)
        found = groups.get(key)
        if found is None:
            groups[key] = Question(
                [row.id], row.text, row.reason, row.intent, row.confidence, row.created_at, row.label, row.labelled_by
            )
        else:
            found.ids.append(row.id)
    return list(groups.values())


def _waiting(reason: str | None) -> list[ColumnElement[bool]]:
    """The conditions of a question still to label: typed, no label yet, kept for ``reason`` (any: None)."""
    conditions = [m.UnansweredQuestion.label.is_(None), TYPED]
    return conditions + ([m.UnansweredQuestion.reason == reason] if reason else [])


def queue(session: Session, limit: int = QUEUE_ROWS, reason: str | None = None) -> list[Question]:
    """The questions still to label (kept for ``reason``, or any), most asked first (then newest)."""
    rows = list(
        session.scalars(
            select(m.UnansweredQuestion)
            .where(*_waiting(reason))
            .order_by(m.UnansweredQuestion.created_at.desc(), m.UnansweredQuestion.id.desc())
            .limit(QUEUE_SCAN)
        )
    )
    questions = sorted(_grouped(rows), key=lambda q: (-q.count, -q.last.timestamp()))
    return questions[:limit]


def waiting(session: Session, reason: str | None = None) -> int:
    """How many stored questions wait for a label (kept for ``reason``, or any); the supervisor's page
    shows it on the link."""
    return int(session.scalar(select(func.count()).select_from(m.UnansweredQuestion).where(*_waiting(reason))) or 0)


def waiting_by_reason(session: Session) -> dict[str, int]:
    """How many wait for a label, by why they were kept (没听懂, 没有这款产品, 答非所问)."""
    query = select(m.UnansweredQuestion.reason, func.count()).where(*_waiting(None))
    return {reason: int(n) for reason, n in session.execute(query.group_by(m.UnansweredQuestion.reason)).all()}


def recent(session: Session, limit: int = RECENT_ROWS) -> list[Question]:
    """The latest labelled questions, newest label first, to check or take back."""
    rows = session.scalars(
        select(m.UnansweredQuestion)
        .where(m.UnansweredQuestion.label.is_not(None))
        .order_by(m.UnansweredQuestion.labelled_at.desc(), m.UnansweredQuestion.id.desc())
        .limit(limit * 5)
    )
    return _grouped(rows)[:limit]


def label(session: Session, ids: Iterable[int], value: str, staff: str, now: dt.datetime | None = None) -> int:
    """Label the questions ``ids`` (not labelled yet); how many were. Raises ValueError for an unknown label.

    One conditional update: of two supervisors labelling the same question at once, the first wins."""
    if value not in labels(session):
        raise ValueError(value)
    waiting = m.UnansweredQuestion.label.is_(None)
    return _update(session, ids, waiting, label=value, labelled_by=staff[:64], labelled_at=now or utcnow())


def unlabel(session: Session, ids: Iterable[int]) -> int:
    """Take labels back: the questions wait in the queue again; how many did."""
    labelled = m.UnansweredQuestion.label.is_not(None)
    return _update(session, ids, labelled, label=None, labelled_by=None, labelled_at=None)


def _update(session: Session, ids: Iterable[int], only: ColumnElement[bool], **values: object) -> int:
    """Set ``values`` on the questions ``ids`` that meet ``only`` (one conditional update); how many did."""
    wanted = [int(i) for i in ids]
    if not wanted:
        return 0
    changed = update(m.UnansweredQuestion).where(m.UnansweredQuestion.id.in_(wanted), only).values(**values)
    return rows_changed(session, changed)


def training_examples(session: Session) -> dict[str, list[str]]:
    """Every labelled question (``skip`` left out) by label, each distinct wording once, in a stable order."""
    known = labels(session)
    by_label: dict[str, dict[str, str]] = {}
    rows = session.execute(
        select(m.UnansweredQuestion.label, m.UnansweredQuestion.text)
        .where(m.UnansweredQuestion.label.is_not(None), m.UnansweredQuestion.label != SKIP, TYPED)
        .order_by(m.UnansweredQuestion.id)
    )
    for value, text in rows:
        if value not in known:  # an FAQ topic since removed from the catalogue
            continue
        example = "".join(c for c in " ".join(text.split()) if c.isprintable()).translate(_MARKUP)
        if example and len(example) <= LONGEST:
            by_label.setdefault(value, {}).setdefault(normalise(example) or example, example)
    return {value: list(texts.values()) for value, texts in sorted(by_label.items())}


def exportable(examples: dict[str, list[str]]) -> int:
    """How many training examples :func:`training_examples` gave, over every label."""
    return sum(len(texts) for texts in examples.values())


def training_data(session: Session, now: dt.datetime | None = None) -> tuple[str, int]:
    """The labelled questions as a Rasa NLU training file (YAML text), and how many examples it holds."""
    examples = training_examples(session)
    total = exportable(examples)
    lines = [
        "# Customers' own questions that the assistant missed, labelled by supervisors on the desk's",
        f"# 问题标注 page. Written by `python -m desk review export` on {(now or utcnow()):%Y-%m-%d %H:%M} UTC:",
        f"# {total} examples; do not edit by hand (take a label back on the page and export again).",
        'version: "3.1"',
        "nlu:",
    ]
    for value, texts in examples.items():
        lines += [f"- intent: {value}", "  examples: |", *(f"    - {text}" for text in texts)]
    return "\n".join(lines) + "\n", total


def export(session: Session, path: Path = DEFAULT_EXPORT) -> int:
    """Write the training file; how many examples it holds."""
    text, total = training_data(session)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return total
