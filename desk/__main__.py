"""``python -m desk``: serve the staff console, manage staff accounts.

python -m desk serve [--host 127.0.0.1] [--port 5006]
python -m desk user add NAME --role agent|supervisor [--display-name 王敏] [--departments cards,loans]
    (the password is read from the terminal, or from stdin with --password-stdin)
python -m desk user list
python -m desk demo-users     # first run only: a demo agent and supervisor, passwords printed once
python -m desk tickets [--status open|in_progress|resolved]
python -m desk tickets set CODE in_progress|resolved [--reply "给客户的处理说明"]
python -m desk report [--out var/report/index.html] [--days 30]   # the quality view as one HTML file
python -m desk reminders [--once]   # deliver the reminders whose time has come (serve does it every minute)
python -m desk review [list]        # the questions the assistant missed: waiting for a label, labelled
python -m desk review export [--out data/nlu/reviewed.yml]   # the labelled ones as training data
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import secrets
import sys
from pathlib import Path

from sqlalchemy import select

from knowledge import models as m
from knowledge.db import create_schema, session_scope

DEMO_USERS = (
    ("demo_agent", "王敏（演示坐席）", "agent"),
    ("demo_supervisor", "李主管（演示主管）", "supervisor"),
)


def _serve(args: argparse.Namespace) -> int:
    from waitress import serve

    from desk.app import create_app
    from desk.reminders import start_in_background

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    create_schema()
    app = create_app()
    start_in_background()
    print(f"staff desk on http://{args.host}:{args.port}/", flush=True)
    serve(app, host=args.host, port=args.port, threads=8, ident="desk")
    return 0


def _user(args: argparse.Namespace) -> int:
    from desk import store

    create_schema()
    if args.action == "list":
        with session_scope() as s:
            for u in s.scalars(select(m.StaffUser).order_by(m.StaffUser.name)):
                print(f"{u.name}\t{u.role}\t{u.display_name}\t{','.join(u.departments or []) or '全部部门'}")
        return 0
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("password: ")
    departments = [d for d in (args.departments or "").split(",") if d]
    try:
        with session_scope() as s:
            store.add_user(s, args.name, password, args.role, args.display_name or args.name, departments)
    except ValueError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    print(f"created {args.role} {args.name}")
    return 0


def _demo_users(_: argparse.Namespace) -> int:
    """Create the demo agent and supervisor once; print their passwords once (never stored in clear)."""
    from desk import store

    create_schema()
    made = []
    with session_scope() as s:
        for name, display, role in DEMO_USERS:
            if s.scalar(select(m.StaffUser).where(m.StaffUser.name == name)) is None:
                password = secrets.token_urlsafe(12)
                store.add_user(s, name, password, role, display)
                made.append((name, role, password))
    for name, role, password in made:
        print(f"    {role:<10} {name:<16} password: {password}")
    return 0


def _tickets(args: argparse.Namespace) -> int:
    from banktext import redact
    from knowledge import tickets

    create_schema()
    if args.action == "set":
        try:
            with session_scope() as s:
                row = tickets.set_status(s, args.code, args.new_status, redact(args.reply) if args.reply else None)
                print(f"{row.code}\t{tickets.STATUSES[row.status]}")
        except (ValueError, LookupError) as exc:
            print(f"ERROR: {exc if isinstance(exc, ValueError) else f'no ticket {args.code}'}", file=sys.stderr)
            return 1
        return 0
    with session_scope() as s:
        for t in tickets.listing(s, args.status):
            print(f"{t.code}\t{t.created_at:%Y-%m-%d %H:%M}\t{tickets.STATUSES.get(t.status or 'open')}\t{t.category}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from desk import report

    if args.days < 1:
        print("ERROR: --days must be at least 1", file=sys.stderr)
        return 1
    path = report.write(Path(args.out), args.days)
    print(f"quality report ({args.days} days): {path}")
    return 0


def _reminders(args: argparse.Namespace) -> int:
    import time

    from desk.bridge import Bridge
    from desk.reminders import poll_seconds, run_once

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    create_schema()
    bridge = Bridge()
    while True:
        print(run_once(bridge), flush=True)
        if args.once:
            return 0
        time.sleep(max(1.0, poll_seconds()))


def _review(args: argparse.Namespace) -> int:
    from desk import review

    create_schema()
    with session_scope() as s:
        if args.action == "export":
            out = Path(args.out) if args.out else review.DEFAULT_EXPORT
            total = review.export(s, out)
            print(f"{total} labelled questions written to {out}; `make train` learns them")
            return 0
        examples = review.training_examples(s)
        print(f"waiting for a label: {review.waiting(s)}")
        print(f"labelled, to export: {review.exportable(examples)}")
        for value, texts in examples.items():
            print(f"    {value:<40} {len(texts)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m desk", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the staff console")
    serve.add_argument("--host", default=os.environ.get("DESK_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("DESK_PORT", "5006")))
    serve.set_defaults(run=_serve)
    user = sub.add_parser("user", help="staff accounts")
    user.add_argument("action", choices=["add", "list"])
    user.add_argument("name", nargs="?")
    user.add_argument("--role", choices=["agent", "supervisor"], default="agent")
    user.add_argument("--display-name")
    user.add_argument("--departments", help="comma-separated department codes (default: all)")
    user.add_argument("--password-stdin", action="store_true")
    user.set_defaults(run=_user)
    ticket = sub.add_parser("tickets", help="list complaint tickets, or change one's status")
    ticket.add_argument("action", nargs="?", choices=["list", "set"], default="list")
    ticket.add_argument("code", nargs="?")
    ticket.add_argument("new_status", nargs="?", choices=["open", "in_progress", "resolved"])
    ticket.add_argument("--status", choices=["open", "in_progress", "resolved"])
    ticket.add_argument("--reply", help="what the customer is told when they ask for the ticket")
    ticket.set_defaults(run=_tickets)
    demo = sub.add_parser("demo-users", help="create the demo agent and supervisor (first run)")
    demo.set_defaults(run=_demo_users)
    quality = sub.add_parser("report", help="the quality view as one self-contained HTML file")
    quality.add_argument("--out", default=os.environ.get("REPORT_OUT", "var/report/index.html"))
    quality.add_argument("--days", type=int, default=30, help="how many days back (default 30)")
    quality.set_defaults(run=_report)
    remind = sub.add_parser("reminders", help="deliver the customers' reminders whose time has come")
    remind.add_argument("--once", action="store_true", help="one pass, then exit (for cron)")
    remind.set_defaults(run=_reminders)
    reviewed = sub.add_parser("review", help="questions the assistant missed, labelled by supervisors")
    reviewed.add_argument("action", nargs="?", choices=["list", "export"], default="list")
    reviewed.add_argument("--out", help="where export writes the training file (default: data/nlu/reviewed.yml)")
    reviewed.set_defaults(run=_review)
    args = parser.parse_args(argv)
    if getattr(args, "action", None) == "add" and not args.name:
        parser.error("user add needs a NAME")
    if args.command == "tickets" and args.action == "set" and not (args.code and args.new_status):
        parser.error("tickets set needs a CODE and a status")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
