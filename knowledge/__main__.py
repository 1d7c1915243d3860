"""Command line of the knowledge base.

python -m knowledge load [--db URL] [--desk-hours 00:00-24:00] [SEED_DIR]
                                                 validate, then load in one transaction
python -m knowledge check [SEED_DIR]             validate only
python -m knowledge export-nlu [SEED_DIR]        write lookup tables, synonyms, FAQ data, jieba dictionary
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from knowledge import config


def _read(seed_dir: Path):
    from knowledge.loader import SeedError, read_seed

    try:
        return read_seed(seed_dir)
    except SeedError as exc:
        print(f"The seed in {seed_dir} has {len(exc.problems)} problem(s); nothing was written:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return None


def cmd_load(args) -> int:
    from knowledge.db import create_schema, get_engine, session_scope
    from knowledge.loader import apply_seed

    url = args.db or config.db_url()
    print(f"Validating seed {args.seed_dir} ...", flush=True)
    seed = _read(args.seed_dir)
    if seed is None:
        return 1
    shown = get_engine(url).url.render_as_string(hide_password=True)
    print(f"Loading into {shown} (one transaction) ...", flush=True)
    started = time.perf_counter()
    create_schema(url)
    if args.desk_hours and seed.desk is not None:
        # a desk staffed at other hours than the seed says (a 24-hour desk, tests at any hour)
        opens, closes = args.desk_hours
        seed.desk = seed.desk.model_copy(update={"opens": opens, "closes": closes})
    with session_scope(url) as session:
        report = apply_seed(session, seed)
    for table, counts in report.items():
        print(
            f"  {table:12s} created {counts['created']:3d}  updated {counts['kept']:3d}  removed {counts['removed']:3d}"
        )
    print(f"Loaded in {time.perf_counter() - started:.2f}s.")
    return 0


def cmd_check(args) -> int:
    seed = _read(args.seed_dir)
    if seed is None:
        return 1
    print(
        f"{args.seed_dir}: {len(seed.products)} products, {len(seed.branches)} branches, {len(seed.faqs)} FAQ entries: valid."
    )
    return 0


def cmd_export(args) -> int:
    from knowledge.export import export_nlu

    seed = _read(args.seed_dir)
    if seed is None:
        return 1
    for path in export_nlu(seed, args.project_root):
        print(f"  wrote {path.relative_to(args.project_root) if path.is_relative_to(args.project_root) else path}")
    return 0


def _hours(text: str) -> tuple[str, str]:
    import re

    match = re.fullmatch(r"(\d\d:\d\d)-(\d\d:\d\d)", text.strip())
    if not match or match.group(1) >= match.group(2) or match.group(2) > "24:00":
        raise argparse.ArgumentTypeError("hours are HH:MM-HH:MM, opening before closing, e.g. 08:00-20:00")
    return match.group(1), match.group(2)


def cmd_purge(args) -> int:
    from knowledge import tickets

    removed = tickets.purge_expired_callback_numbers(args.db)
    print(f"deleted {removed} sealed call-back numbers past their time")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m knowledge", description="The bank's knowledge base.")
    sub = parser.add_subparsers(dest="command", required=True)
    load = sub.add_parser("load", help="validate a seed folder and load it into the database")
    load.add_argument("--db", help="SQLAlchemy URL (default: KNOWLEDGE_DB_URL or var/knowledge.db)")
    load.add_argument(
        "--desk-hours", type=_hours, help="the staff desk's hours instead of the seed's, e.g. 00:00-24:00"
    )
    load.add_argument("seed_dir", nargs="?", type=Path, default=config.SEED_DIR)
    load.set_defaults(func=cmd_load)
    check = sub.add_parser("check", help="validate a seed folder without writing anything")
    check.add_argument("seed_dir", nargs="?", type=Path, default=config.SEED_DIR)
    check.set_defaults(func=cmd_check)
    export = sub.add_parser(
        "export-nlu", help="generate NLU lookup tables, synonyms, FAQ data and the jieba dictionary"
    )
    export.add_argument("seed_dir", nargs="?", type=Path, default=config.SEED_DIR)
    export.add_argument("--project-root", type=Path, default=config.PROJECT_ROOT)
    export.set_defaults(func=cmd_export)
    purge = sub.add_parser(
        "purge", help="delete sealed call-back numbers past CONVERSATION_RETENTION_DAYS or that no ticket took"
    )
    purge.add_argument("--db", help="SQLAlchemy URL (default: KNOWLEDGE_DB_URL or var/knowledge.db)")
    purge.set_defaults(func=cmd_purge)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
