"""The staff console: a Flask app for agents and supervisors.

Login with a name and password (salted scrypt hashes, Werkzeug); Flask-Login keeps the session
in a signed cookie (Flask/itsdangerous) that expires after ``DESK_SESSION_HOURS`` (default 8);
Flask-WTF checks a CSRF token on every state-changing request. Pages and API answer 401 to
the unauthenticated and 403 to the wrong role. Customer text is only ever inserted as text by
the page (``desk/static/desk.js``), under a Content-Security-Policy without inline scripts.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, Response, abort, jsonify, redirect, render_template, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import select

from banktext import redact, unseal
from desk import report, review, store
from desk.bridge import Bridge, BridgeError
from knowledge import appointments, tickets
from knowledge import handoffs as h
from knowledge import models as m
from knowledge.db import session_scope
from knowledge.reminders import BANK_TZ, to_local

logger = logging.getLogger(__name__)

MAX_REPLY_CHARS = 2000
MAX_NOTE_CHARS = 2000
#: Failed logins per name before it is locked for LOCK_SECONDS (per desk process).
MAX_FAILED_LOGINS, LOCK_SECONDS = 5, 300
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


#: The department that calls complainants back: its staff (and supervisors) read call-back numbers.
COMPLAINTS_DEPARTMENT = "complaints"


class Staff(UserMixin):
    """The logged-in member of staff, as Flask-Login holds them."""

    def __init__(self, row: m.StaffUser) -> None:
        self.id = str(row.id)
        self.name = row.name
        self.display_name = row.display_name
        self.role = row.role
        self.own_departments = list(row.departments or [])


#: Weekday names as staff read them, Monday first.
WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def page_refresh_seconds() -> int:
    """How often the appointments and tickets pages reload themselves while nobody fills in a form
    (``DESK_PAGE_REFRESH_SECONDS``, 60 by default; 0 turns it off)."""
    try:
        return max(0, int(os.environ.get("DESK_PAGE_REFRESH_SECONDS", "60")))
    except ValueError:
        return 60


#: What the 问题标注 page says after a supervisor labelled, skipped or took back a question.
REVIEW_NOTICES = {
    "label": "已标注，下次导出训练数据时带上。",
    "skip": "已标为不是可学习的问题，不进训练数据。",
    "unlabel": "已撤销标注，问题回到待标注列表。",
    "no_label": "请选择客户想问的是什么。",
    "changed": "这个问题刚被同事处理过，请看下面的最新列表。",
}
#: What the appointments page says after a member of staff recorded something, by result.
APPOINTMENT_NOTICES = {
    "arrived": "已登记到店。",
    "no_show": "已登记未到店。",
    "cancel": "已代客户取消，预约提醒不再发送。",
    "cancelled": "这个预约已经取消过了，没有再做改动。",
    "past": "预约时间已过，不能取消；客户没来请登记未到店。",
    "too_early": "还没到预约的日子（未到店要过了预约时间）才能登记。",
    "move": "已改期，预约号不变；客户设了预约提醒的，提醒按新时间发送。",
    "changed": "这个预约刚被改过，请看下面的最新状态后再操作。",
    "attended": "客户已到店，不能改期。",
    "same_time": "新时间和原来的一样，没有改动。",
    "time_past": "改到的时间已经过去，请选一个以后的时间。",
    "time_too_far": f"最多只能改到 {appointments.BOOKING_DAYS_AHEAD} 天以内。",
    "branch_closed": "网点在改到的时间不营业，请按网点营业时间改。",
    "bad_time": "请填写要改到的日期和时间。",
}


def create_app(config: dict[str, Any] | None = None, bridge: Bridge | None = None) -> Flask:
    app = Flask(__name__)
    secret = (config or {}).get("SECRET_KEY") or os.environ.get("DESK_SECRET_KEY", "")
    if len(secret) < 32:
        raise RuntimeError("DESK_SECRET_KEY must be set to a random value of at least 32 characters")
    hours = float(os.environ.get("DESK_SESSION_HOURS", "8"))
    app.config.update(
        SECRET_KEY=secret,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=os.environ.get("DESK_COOKIE_SECURE", "") == "1",
        SESSION_COOKIE_NAME="yunlan_desk",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=hours),
        REMEMBER_COOKIE_DURATION=dt.timedelta(seconds=0),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session, which expires
        WTF_CSRF_HEADERS=["X-CSRFToken"],
        MAX_CONTENT_LENGTH=64 * 1024,
        JSON_AS_ASCII=False,
    )
    app.config.update(config or {})
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["desk_bridge"] = bridge or Bridge()
    CSRFProtect(app)
    logins = LoginManager(app)
    logins.session_protection = "strong"
    failed: dict[str, tuple[int, float]] = {}

    @logins.user_loader
    def load_user(user_id: str) -> Staff | None:
        with session_scope() as s:
            row = s.get(m.StaffUser, int(user_id)) if user_id.isdigit() else None
            return Staff(row) if row is not None and row.active else None

    @logins.unauthorized_handler
    def unauthorized() -> Any:
        if request.path.startswith("/api/"):
            return jsonify(error="请先登录"), 401
        return render_template("login.html", error=None), 401

    @app.errorhandler(CSRFError)
    def csrf_refused(_: CSRFError) -> Any:
        return jsonify(error="页面已过期或请求无效（CSRF），请刷新页面后重试"), 400

    @app.errorhandler(403)
    def forbidden(_: Any) -> Any:
        return jsonify(error="您的角色不能进行这个操作"), 403

    @app.errorhandler(404)
    def not_found(_: Any) -> Any:
        return jsonify(error="没有找到"), 404

    @app.errorhandler(413)
    def too_large(_: Any) -> Any:
        return jsonify(error="内容太长"), 413

    @app.after_request
    def security_headers(answer: Any) -> Any:
        answer.headers["Content-Security-Policy"] = CSP
        answer.headers["X-Content-Type-Options"] = "nosniff"
        answer.headers["X-Frame-Options"] = "DENY"
        answer.headers["Referrer-Policy"] = "same-origin"
        if request.path.startswith(("/api/", "/tickets", "/appointments", "/review")) or request.path in (
            "/",
            "/login",
            "/report",
        ):
            answer.headers["Cache-Control"] = "no-store"
        return answer

    def role(*allowed: str) -> Callable:
        def wrap(view: Callable) -> Callable:
            @wraps(view)
            @login_required
            def checked(*args: Any, **kwargs: Any) -> Any:
                if current_user.role not in allowed:
                    abort(403)
                return view(*args, **kwargs)

            return checked

        return wrap

    def to_rasa() -> Bridge:
        return app.extensions["desk_bridge"]

    def handoff_answer(handoff_id: int) -> Any:
        """A handoff as it stands now, the answer to every action on it."""
        with session_scope() as s:
            return jsonify(handoff=store.handoff_view(s, s.get(m.Handoff, handoff_id), h.desk(s)))

    def body() -> dict[str, Any]:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else {}

    def error(message: str, status: int) -> Any:
        return jsonify(error=message), status

    # --- pages ------------------------------------------------------------------
    @app.get("/login")
    def login_page() -> Any:
        if current_user.is_authenticated:
            return redirect(url_for("console"))
        return render_template("login.html", error=None)

    @app.post("/login")
    def login() -> Any:
        name = (request.form.get("username") or "").strip()[:40]
        password = request.form.get("password") or ""
        count, since = failed.get(name, (0, 0.0))
        if count >= MAX_FAILED_LOGINS and time.monotonic() - since < LOCK_SECONDS:
            return render_template("login.html", error="登录失败次数过多，请5分钟后再试"), 429
        with session_scope() as s:
            row = store.check_login(s, name, password)
            staff = Staff(row) if row else None
        if staff is None:
            failed[name] = (count + 1, time.monotonic())
            logger.warning("a failed desk login")
            return render_template("login.html", error="用户名或密码不正确"), 401
        failed.pop(name, None)
        login_user(staff)
        session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME
        return redirect(url_for("console"))

    @app.post("/logout")
    @login_required
    def logout() -> Any:
        with session_scope() as s:
            row = s.get(m.StaffUser, int(current_user.id))
            if row is not None:
                row.online = False
        logout_user()
        return redirect(url_for("login_page"))

    @app.get("/")
    @login_required
    def console() -> Any:
        with session_scope() as s:
            settings = h.desk(s)
            every = [{"code": c, "name": n} for c, n, *_ in settings.departments] if settings else []
            row = s.get(m.StaffUser, int(current_user.id))
            mine = store.departments_of(row, settings) if row else []
        user = {
            "name": current_user.name,
            "display_name": current_user.display_name,
            "role": current_user.role,
            "departments": [d for d in every if d["code"] in mine],
        }
        return render_template("console.html", user=user, all_departments=every)

    # --- the agent's API -----------------------------------------------------------
    @app.get("/api/me")
    @login_required
    def me() -> Any:
        with session_scope() as s:
            row = s.get(m.StaffUser, int(current_user.id))
            settings = h.desk(s)
            mine = store.departments_of(row, settings) if row else []
            return jsonify(
                name=current_user.name,
                display_name=current_user.display_name,
                role=current_user.role,
                departments=[{"code": c, "name": settings.department_name(c)} for c in mine] if settings else [],
                online=bool(row and row.online),
            )

    @app.post("/api/me/online")
    @role("agent")
    def set_online() -> Any:
        online = bool(body().get("online"))
        with session_scope() as s:
            row = s.get(m.StaffUser, int(current_user.id))
            row.online = online
        return jsonify(online=online)

    @app.get("/api/queue")
    @role("agent", "supervisor")
    def queue() -> Any:
        engine = store.tracker_engine()
        with session_scope() as s:
            settings = h.desk(s)
            row = s.get(m.StaffUser, int(current_user.id))
            departments = store.departments_of(row, settings) if current_user.role == "agent" else None

            def view(x: m.Handoff) -> dict[str, Any]:
                return store.handoff_view(s, x, settings, store.last_customer_text(engine, x.conversation_id))

            waiting = [view(x) for x in h.waiting(s, departments)]
            mine = s.scalars(
                select(m.Handoff)
                .where(m.Handoff.agent == current_user.name, m.Handoff.state == "with_agent")
                .order_by(m.Handoff.taken_at)
            ).all()
            query = select(m.Handoff).where(m.Handoff.state == "message")
            if departments is not None:
                query = query.where(m.Handoff.department.in_(departments))
            messages = s.scalars(query.order_by(m.Handoff.created_at)).all()
            return jsonify(waiting=waiting, mine=[view(x) for x in mine], messages=[view(x) for x in messages])

    def visible(s: Any, handoff_id: int) -> m.Handoff:
        """The handoff, if this member of staff may see it (404 otherwise: ids are not probed)."""
        handoff = s.get(m.Handoff, handoff_id)
        if handoff is None:
            abort(404)
        if current_user.role == "agent" and handoff.agent != current_user.name:
            row = s.get(m.StaffUser, int(current_user.id))
            if handoff.department not in store.departments_of(row, h.desk(s)):
                abort(404)
        return handoff

    def held(s: Any, handoff_id: int) -> m.Handoff:
        """The handoff this agent holds right now (409 otherwise)."""
        handoff = visible(s, handoff_id)
        if handoff.state != "with_agent" or handoff.agent != current_user.name:
            abort(409)
        return handoff

    @app.errorhandler(409)
    def conflict(_: Any) -> Any:
        return jsonify(error="这位客户现在不在您的会话中（可能已结束或已转给其他客服）"), 409

    @app.get("/api/handoffs/<int:handoff_id>")
    @role("agent", "supervisor")
    def handoff(handoff_id: int) -> Any:
        after = request.args.get("after", "0")
        after_id = int(after) if after.isdigit() else 0
        engine = store.tracker_engine()
        with session_scope() as s:
            x = visible(s, handoff_id)
            settings = h.desk(s)
            lines = store.transcript(engine, x.conversation_id, after_id)
            notes = s.scalars(
                select(m.HandoffNote).where(m.HandoffNote.handoff_id == x.id).order_by(m.HandoffNote.id)
            ).all()
            summary = store.summary_view(x)
            summary["reminders"] = store.reminders_view(s, x.conversation_id)
            return jsonify(
                handoff=store.handoff_view(s, x, settings),
                summary=summary,
                notes=[{"author": n.author, "text": n.text, "at": n.created_at.isoformat() + "Z"} for n in notes],
                transcript=lines,
                last_id=lines[-1]["id"] if lines else after_id,
            )

    @app.post("/api/handoffs/<int:handoff_id>/take")
    @role("agent")
    def take(handoff_id: int) -> Any:
        with session_scope() as s:
            x = visible(s, handoff_id)
            conversation = x.conversation_id
            won = h.take(s, x.id, current_user.name)
            row = s.get(m.StaffUser, int(current_user.id))
            row.online = True
        if not won:
            return error("这位客户已由其他客服接入", 409)
        try:
            to_rasa().hand_over(conversation, current_user.display_name)
        except BridgeError:
            with session_scope() as s:
                h.give_back(s, handoff_id, current_user.name)
            return error("暂时无法连接到客户所在的渠道，请稍后再试", 502)
        return handoff_answer(handoff_id)

    @app.post("/api/handoffs/<int:handoff_id>/reply")
    @role("agent")
    def reply(handoff_id: int) -> Any:
        text = str(body().get("text") or "").strip()
        if not text:
            return error("回复不能为空", 400)
        if len(text) > MAX_REPLY_CHARS:
            return error(f"回复最多 {MAX_REPLY_CHARS} 个字", 400)
        with session_scope() as s:
            conversation = held(s, handoff_id).conversation_id
        try:
            reached = to_rasa().say(conversation, current_user.display_name, text)
        except BridgeError:
            return error("消息没有发出：暂时无法连接到客户所在的渠道，请稍后重试", 502)
        with session_scope() as s:
            h.answered(s, handoff_id)
        return jsonify(ok=True, reached=reached)

    @app.post("/api/handoffs/<int:handoff_id>/notes")
    @role("agent", "supervisor")
    def add_note(handoff_id: int) -> Any:
        text = str(body().get("text") or "").strip()
        if not text or len(text) > MAX_NOTE_CHARS:
            return error(f"备注需要 1 到 {MAX_NOTE_CHARS} 个字", 400)
        with session_scope() as s:
            x = visible(s, handoff_id)
            s.add(m.HandoffNote(handoff_id=x.id, author=current_user.display_name, text=redact(text)))
        return jsonify(ok=True)

    @app.post("/api/handoffs/<int:handoff_id>/transfer")
    @role("agent")
    def transfer(handoff_id: int) -> Any:
        department = str(body().get("department") or "")
        with session_scope() as s:
            settings = h.desk(s)
            if settings is None or department not in [d[0] for d in settings.departments]:
                return error("没有这个部门", 400)
            x = held(s, handoff_id)
            if department == x.department:
                return error("客户已经在这个部门的队列中", 400)
            conversation, name = x.conversation_id, settings.department_name(department)
            h.transfer(s, x.id, current_user.name, department)
        try:
            to_rasa().say(
                conversation, current_user.display_name, f"正在为您转接{name}的同事，请稍候，您的对话记录会一并转过去。"
            )
        except BridgeError:
            logger.warning("the customer was not told about a transfer")
        return handoff_answer(handoff_id)

    @app.post("/api/handoffs/<int:handoff_id>/resolve")
    @role("agent")
    def resolve(handoff_id: int) -> Any:
        with session_scope() as s:
            x = held(s, handoff_id)
            conversation = x.conversation_id
            h.resolve(s, x.id, current_user.name)
        try:
            to_rasa().resolve(conversation)
        except BridgeError:
            # the handoff is closed; the bot resumes at the next message the desk manages to pass
            logger.error("a resolved conversation could not be handed back to the bot yet")
            return error("已结束服务，但暂时无法通知客户所在的渠道", 502)
        return handoff_answer(handoff_id)

    @app.get("/api/canned")
    @role("agent", "supervisor")
    def canned() -> Any:
        with session_scope() as s:
            replies = [
                {"title": c.title, "text": c.text}
                for c in s.scalars(select(m.CannedReply).order_by(m.CannedReply.position))
            ]
            replies += [
                {"title": f"常见问题：{f.title}", "text": f.answer}
                for f in s.scalars(select(m.Faq).order_by(m.Faq.title))
            ]
        return jsonify(replies=replies)

    # --- complaint tickets (server-rendered page: staff change the status) ---------------
    @app.get("/tickets")
    @role("agent", "supervisor")
    def ticket_page() -> Any:
        status = request.args.get("status") or None
        status = status if status in tickets.STATUSES else None
        # the call-back number itself: for the complaints department and supervisors, never logged
        opens = current_user.role == "supervisor" or not current_user.own_departments
        opens = opens or COMPLAINTS_DEPARTMENT in current_user.own_departments
        with session_scope() as s:
            every = tickets.listing(s)
            sealed = tickets.sealed_callback_numbers(s, every) if opens else {}
            counts: dict[str, int] = {}
            for t in every:
                counts[t.status or "open"] = counts.get(t.status or "open", 0) + 1
            rows = [
                {
                    "code": t.code,
                    "created": f"{t.created_at:%Y-%m-%d %H:%M}",
                    "category": t.category,
                    "description": t.description,
                    "contact": (t.contact or "—") if t.contact_preference == "phone" else "在线答复",
                    "callback": unseal(sealed.get(t.code)),
                    "status": t.status or "open",
                    "staff_reply": t.staff_reply or "",
                }
                for t in every
                if status is None or (t.status or "open") == status
            ]
        return render_template(
            "tickets.html",
            refresh_seconds=page_refresh_seconds(),
            rows=rows,
            statuses=tickets.STATUSES,
            status=status,
            counts=counts,
            updated=request.args.get("updated", "")[:20],
        )

    @app.post("/tickets/<code>")
    @role("agent", "supervisor")
    def update_ticket(code: str) -> Any:
        try:
            with session_scope() as s:
                tickets.set_status(s, code, request.form.get("status", ""), redact(request.form.get("staff_reply", "")))
        except ValueError:
            return error("没有这个状态", 400)
        except LookupError:
            abort(404)
        logger.info("a ticket's status was changed")
        return redirect(url_for("ticket_page", updated=code))

    # --- branch appointments (server-rendered: what a branch prepares for, who came) ----------
    @app.get("/appointments")
    @role("agent", "supervisor")
    def appointment_page() -> Any:
        today = dt.datetime.now(BANK_TZ).date()
        try:
            first = dt.date.fromisoformat(request.args.get("from") or today.isoformat())
        except ValueError:
            first = today
        days = min(max(request.args.get("days", 7, type=int) or 7, 1), 31)
        last = first + dt.timedelta(days=days - 1)
        branch = (request.args.get("branch") or "")[:40] or None
        now_local = dt.datetime.now(BANK_TZ).replace(tzinfo=None)
        with session_scope() as s:
            branches = [(b.code, b.name) for b in s.scalars(select(m.Branch).order_by(m.Branch.city, m.Branch.name))]
            staff = store.display_names(s)
            rows = [
                {
                    "code": a.code,
                    "when": f"{a.starts_at:%m-%d %H:%M}",
                    "weekday": WEEKDAYS[a.starts_at.weekday()],
                    "branch": name,
                    "business": a.business,
                    "booked": f"{to_local(a.created_at):%m-%d %H:%M}" if a.created_at else "",
                    "cancelled": f"{to_local(a.cancelled_at):%m-%d %H:%M}" if a.cancelled_at else "",
                    "attendance": a.attendance or "",
                    # staff by the name colleagues know them by (the stored login name if since removed)
                    "handled_by": staff.get(a.handled_by, a.handled_by) if a.handled_by else "",
                    # what staff can record now (appointments.record decides again on submit)
                    "can_cancel": not a.cancelled_at and a.starts_at > now_local,
                    "can_attend": not a.cancelled_at and a.starts_at.date() <= now_local.date(),
                    "can_no_show": not a.cancelled_at and a.starts_at <= now_local,
                    "moved_from": f"{a.moved_from:%m-%d %H:%M}" if a.moved_from else "",
                    "new_time": f"{a.starts_at:%Y-%m-%dT%H:%M}",
                }
                for a, name in appointments.for_branches(s, first, last, branch)
            ]
        return render_template(
            "appointments.html",
            refresh_seconds=page_refresh_seconds(),
            rows=rows,
            branches=branches,
            branch=branch or "",
            first=first.isoformat(),
            last=last.isoformat(),
            days=days,
            active=sum(1 for r in rows if not r["cancelled"]),
            arrived=sum(1 for r in rows if r["attendance"] == "arrived"),
            no_show=sum(1 for r in rows if r["attendance"] == "no_show"),
            notice=APPOINTMENT_NOTICES.get(request.args.get("result", ""), ""),
            updated=request.args.get("updated", "")[:20],
        )

    @app.post("/appointments/<code>")
    @role("agent", "supervisor")
    def record_appointment(code: str) -> Any:
        action = request.form.get("action", "")
        if action not in (*appointments.STAFF_ACTIONS, "move"):
            return error("没有这个操作", 400)
        now_local = dt.datetime.now(BANK_TZ).replace(tzinfo=None)
        back = {k: request.form.get(k, "")[:40] for k in ("from", "days", "branch") if request.form.get(k)}
        with session_scope() as s:
            if action == "move":  # the customer asked at the counter or on the phone for another time
                try:
                    new_start = dt.datetime.fromisoformat(request.form.get("new_time", "")[:16])
                except ValueError:
                    return redirect(url_for("appointment_page", updated=code[:20], result="bad_time", **back))
                done = appointments.move(s, code[:20], new_start, current_user.name, now_local)
            else:
                done = appointments.record(s, code[:20], action, current_user.name, now_local)
        if done.outcome == "unknown":
            abort(404)
        logger.info("branch staff recorded %s for an appointment: %s", action, done.outcome)
        result = action if done.outcome == "done" else done.outcome
        # back to the same day and branch the member of staff was looking at
        return redirect(url_for("appointment_page", updated=code[:20], result=result, **back))

    # --- questions the assistant missed, labelled as training data (supervisors) ---------------
    @app.get("/review")
    @role("supervisor")
    def review_page() -> Any:
        reason = request.args.get("reason") or None
        reason = reason if reason in report.UNANSWERED_REASONS else None
        with session_scope() as s:
            choices = review.labels(s)
            waiting, waiting_rows = review.queue(s, reason=reason), review.waiting(s, reason)
            by_reason = review.waiting_by_reason(s)
            labelled = review.recent(s)
            exportable = review.exportable(review.training_examples(s))
            staff = store.display_names(s)
            return render_template(
                "review.html",
                waiting=waiting,
                waiting_rows=waiting_rows,
                reason=reason,
                by_reason=by_reason,
                shown_max=review.QUEUE_ROWS,
                labelled=labelled,
                exportable=exportable,
                labels=choices,
                reasons=report.UNANSWERED_REASONS,
                intent_name=store.intent_name,
                staff=staff,
                local=lambda moment: f"{to_local(moment):%m-%d %H:%M}",
                notice=REVIEW_NOTICES.get(request.args.get("result", ""), ""),
            )

    @app.post("/review")
    @role("supervisor")
    def label_questions() -> Any:
        # back to the reason the supervisor was looking at
        back = {"reason": request.form["reason"]} if request.form.get("reason") in report.UNANSWERED_REASONS else {}
        try:
            ids = [int(i) for i in request.form.get("ids", "").split(",") if i.strip()][: review.QUEUE_SCAN]
        except ValueError:
            return error("没有这些问题", 400)
        action = request.form.get("action", "")
        with session_scope() as s:
            if action == "unlabel":
                done = review.unlabel(s, ids)
            elif action in ("label", "skip"):
                value = review.SKIP if action == "skip" else request.form.get("label", "")
                try:
                    done = review.label(s, ids, value, current_user.name)
                except ValueError:
                    return redirect(url_for("review_page", result="no_label", **back))
            else:
                return error("没有这个操作", 400)
        logger.info("a supervisor %s %d unanswered questions", action, done)
        return redirect(url_for("review_page", result=action if done else "changed", **back))

    # --- the supervisor's view --------------------------------------------------------
    @app.get("/api/overview")
    @role("supervisor")
    def supervisor_overview() -> Any:
        with session_scope() as s:
            return jsonify(**store.overview(s, h.desk(s)), to_review=review.waiting(s))

    # The quality view: the same page as `make report`, its scripts served from here (the CSP
    # stays script-src 'self'; the chart data sit in a JSON block the browser never executes).
    @app.get("/report")
    @role("supervisor")
    def quality_report() -> Any:
        days = request.args.get("days", "")
        days_back = min(max(int(days), 1), 365) if days.isdigit() else report.DEFAULT_DAYS
        return Response(report.build(days_back, standalone=False), mimetype="text/html")

    @app.get("/report/plotly.min.js")
    @role("supervisor")
    def report_plotly() -> Any:
        answer = Response(report.asset("plotly.min.js"), mimetype="text/javascript")
        answer.headers["Cache-Control"] = "private, max-age=86400"
        return answer

    @app.get("/report/plotly.css")
    @role("supervisor")
    def report_plotly_css() -> Any:
        answer = Response(report.plotly_css(), mimetype="text/css")
        answer.headers["Cache-Control"] = "private, max-age=86400"
        return answer

    return app
