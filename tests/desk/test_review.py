"""问题标注: supervisors say what the customer meant in the questions the assistant missed, and the
labelled ones become training data. The console runs as served (Flask app, real scratch databases);
the questions are stored by the action server's own fallback logging (``actions.quality``), masked.
"""

from __future__ import annotations

import threading

import yaml
from rasa_sdk import Tracker
from sqlalchemy import select

from actions.quality import log_unanswered
from desk import review
from desk.__main__ import main as desk_cli
from knowledge import models as m
from knowledge.db import session_scope
from tests.desk.test_console import app, databases, logged_in  # noqa: F401  (fixtures)

CARD = "6222021234567890123"


def missed(kb: str, sender: str, text: str, reason: str = "fallback", intent: str = "out_of_scope") -> None:
    """A customer's message the assistant did not answer, stored the way the fallback action stores it."""
    message = {"text": text, "intent": {"name": intent, "confidence": 0.18}}
    tracker = Tracker(sender, {}, message, [], False, None, {}, "action_listen")
    with session_scope(kb) as s:
        log_unanswered(s, tracker, reason=reason)


def row_of(page: str, text: str) -> str:
    start = page.rindex("<tr", 0, page.index(text))
    return page[start : page.index("</tr>", start)]


def ids_in(row: str) -> str:
    return row.split('data-ids="', 1)[1].split('"', 1)[0]


def test_supervisors_label_what_customers_meant_and_it_becomes_training_data(app, databases, tmp_path):  # noqa: F811
    kb = databases[0]
    for sender in ("web:a", "wechat:b", "web:c"):  # three customers, one question in their own words
        missed(kb, sender, "你们那个卡 在老家的小县城 礼拜天开门不")
    missed(kb, "web:d", f"卡号{CARD}被吞了咋整 [急]", reason="product_not_found", intent="report_lost_card")
    missed(kb, "web:e", "asdfghjkl")
    missed(kb, "web:f", '/ask_fees{"product": "金满满"}', reason="product_not_found")  # a button: nothing typed

    assert logged_in(app, "alice").get("/review").status_code == 403  # agents do not train the assistant
    boss = logged_in(app, "carol")
    page = boss.get("/review").get_data(as_text=True)
    assert 'id="review-table"' in page and "待标注 5 条" in page
    assert boss.get("/api/overview").json["to_review"] == 5  # on the link to this page
    branch_row = row_of(page, "小县城 礼拜天开门不")
    assert '<td class="num">3</td>' in branch_row  # the same question asked three times is one row
    assert CARD not in page and "6222***********0123" in page  # stored masked, shown masked
    lost_row = row_of(page, "被吞了咋整")
    assert "没有这款产品" in lost_row and "挂失（18%）" in lost_row  # why it was missed, what the bot guessed
    assert "金满满" not in page
    assert "没听懂（4）" in page and "没有这款产品（1）" in page  # waiting, by why they were kept
    only = boss.get("/review?reason=product_not_found").get_data(as_text=True)
    assert "被吞了咋整" in only and "小县城" not in only and "待标注 1 条" in only
    answer = boss.post(
        "/review", data={"csrf_token": boss.csrf, "ids": "0", "action": "skip", "reason": "product_not_found"}
    )
    assert "reason=product_not_found" in answer.headers["Location"]  # back to what was being looked at
    assert 'value="faq/' in page and 'value="ask_branch"' in page and 'value="faq"' not in page

    form = {"csrf_token": boss.csrf, "ids": ids_in(branch_row)}
    assert (
        boss.post("/review", data={**form, "action": "label", "label": "ask_branch", "csrf_token": ""}).status_code
        == 400
    )
    answer = boss.post("/review", data={**form, "action": "label", "label": ""})  # nothing chosen
    assert answer.status_code == 302 and "result=no_label" in answer.headers["Location"]
    answer = boss.post("/review", data={**form, "action": "label", "label": "wire_me_money"})
    assert "result=no_label" in answer.headers["Location"]
    assert boss.post("/review", data={**form, "action": "train_now"}).status_code == 400
    assert boss.post("/review", data={**form, "ids": "1,two", "action": "skip"}).status_code == 400

    answer = boss.post("/review", data={**form, "action": "label", "label": "ask_branch"})
    assert answer.status_code == 302 and "result=label" in answer.headers["Location"]
    page = boss.get(answer.headers["Location"]).get_data(as_text=True)
    assert "已标注" in page and "待标注 2 条" in page
    assert "李主管" in row_of(page[page.index('id="review-labelled"') :], "小县城 礼拜天开门不")
    # the same question labelled again (a colleague's window still showing it): nothing changes
    again = boss.post("/review", data={**form, "action": "label", "label": "out_of_scope"})
    assert "result=changed" in again.headers["Location"]
    with session_scope(kb) as s:
        rows = s.scalars(select(m.UnansweredQuestion).where(m.UnansweredQuestion.text.contains("小县城"))).all()
        assert [(r.label, r.labelled_by) for r in rows] == [("ask_branch", "carol")] * 3
        lost = s.scalar(select(m.UnansweredQuestion.id).where(m.UnansweredQuestion.text.contains("被吞了")))
        mash = s.scalar(select(m.UnansweredQuestion.id).where(m.UnansweredQuestion.text == "asdfghjkl"))
    boss.post("/review", data={**form, "ids": str(lost), "action": "label", "label": "out_of_scope"})
    boss.post("/review", data={**form, "ids": str(mash), "action": "skip"})
    # a slip taken back, and labelled again
    answer = boss.post("/review", data={**form, "ids": str(lost), "action": "unlabel"})
    assert "result=unlabel" in answer.headers["Location"]
    assert "被吞了咋整" in row_of(boss.get("/review").get_data(as_text=True), "被吞了咋整")
    boss.post("/review", data={**form, "ids": str(lost), "action": "label", "label": "report_lost_card"})
    assert "没有待标注的问题" in boss.get("/review").get_data(as_text=True)
    assert boss.get("/api/overview").json["to_review"] == 0

    # the command writes what Rasa trains on: one wording per question, masked, no markup, no skip
    out = tmp_path / "nlu" / "reviewed.yml"
    assert desk_cli(["review", "export", "--out", str(out)]) == 0
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    examples = {item["intent"]: item["examples"].splitlines() for item in data["nlu"]}
    assert data["version"] == "3.1"
    assert examples == {
        "ask_branch": ["- 你们那个卡 在老家的小县城 礼拜天开门不"],
        "report_lost_card": ["- 卡号6222***********0123被吞了咋整 【急】"],
    }
    assert CARD not in out.read_text(encoding="utf-8")


def test_two_supervisors_labelling_one_question_at_once_the_first_wins(databases):  # noqa: F811
    kb = databases[0]
    missed(kb, "web:race", "理财到期了钱啥时候回卡里")
    with session_scope(kb) as s:
        ids = [
            r.id
            for r in s.scalars(select(m.UnansweredQuestion).where(m.UnansweredQuestion.text.contains("啥时候回卡里")))
        ]
    won: list[int] = []
    barrier = threading.Barrier(2)

    def supervisor(name: str, value: str) -> None:
        barrier.wait()
        with session_scope(kb) as s:
            won.append(review.label(s, ids, value, name))

    threads = [threading.Thread(target=supervisor, args=(name, "ask_maturity")) for name in ("carol", "dave")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won) == [0, 1]
    with session_scope(kb) as s:
        assert s.scalar(select(m.UnansweredQuestion.label).where(m.UnansweredQuestion.id == ids[0])) == "ask_maturity"


def test_a_label_is_one_of_the_contract_intents_or_an_faq_topic_the_catalogue_has(databases):  # noqa: F811
    with session_scope(databases[0]) as s:
        choices = review.labels(s)
        topics = [t for (t,) in s.execute(select(m.Faq.topic))]
    assert topics and all(f"faq/{t}" in choices for t in topics)
    assert "ask_branch" in choices and "greet" in choices and review.SKIP in choices
    assert "faq" not in choices and "inform" not in choices and "rate_service" not in choices
    assert "faq/no_such_topic" not in choices
