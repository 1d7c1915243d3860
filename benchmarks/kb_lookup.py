"""Per-lookup latency of the knowledge base on SQLite and PostgreSQL.

Prints microseconds per call for each query, and each backend's figures as a
ratio to a baseline measured in the same run (a primary-key fetch of one
product on that backend), since absolute times vary between machines.

    make bench-kb         (starts the test PostgreSQL server if needed)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowledge import queries as q  # noqa: E402
from knowledge.config import SEED_DIR  # noqa: E402
from knowledge.db import create_schema, get_sessionmaker, session_scope  # noqa: E402
from knowledge.loader import apply_seed, read_seed  # noqa: E402

REPEATS = 200


def timed(fn, repeats: int = REPEATS) -> float:
    """Median microseconds of ``fn()`` over ``repeats`` calls (after a warm-up call)."""
    fn()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1e6)
    return statistics.median(samples)


def postgres_url() -> str:
    url = os.environ.get("KNOWLEDGE_TEST_PG_URL")
    if url:
        return url
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "pg_test_server.sh")], capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def fresh(url: str) -> str:
    if url.startswith("postgresql"):
        from sqlalchemy import create_engine, text

        name = f"kb_bench_{os.getpid()}"
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = url.rsplit("/", 1)[0] + "/" + name
    create_schema(url)
    with session_scope(url) as session:
        apply_seed(session, read_seed(SEED_DIR))
    return url


def bench(url: str) -> dict[str, float]:
    session = get_sessionmaker(url)()
    cases = {
        "baseline: product by code": lambda: q.get_product(session, "TD-ZCZQ"),
        "find product: exact alias": lambda: q.find_products(session, "整存整取"),
        "find product: Traditional": lambda: q.find_products(session, "雲瀾整存整取定期儲蓄存款"),
        "find product: in a sentence": lambda: q.find_products(session, "请问云澜金卡信用卡的年费是多少"),
        "find product: typo (fuzzy)": lambda: q.find_products(session, "云澜整存整取定其储蓄存款"),
        "rate for term": lambda: q.rate_for_term(session, "TD-ZCZQ", 36),
        "disclosure in force": lambda: q.disclosure_for(session, "WM-MIX"),
        "suitable products": lambda: q.suitable_products(session, "retiree", "C2", "saving", 200000, 12),
        "compare two products": lambda: q.compare_products(session, ["TD-ZCZQ", "CD-STD"]),
        "branches in a city, open now": lambda: q.find_branches(
            session, city="北京", open_at=__import__("datetime").datetime(2026, 12, 1, 10)
        ),
    }
    try:
        return {name: timed(fn) for name, fn in cases.items()}
    finally:
        session.close()


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        backends = {"sqlite": fresh(f"sqlite:///{tmp}/bench.db"), "postgresql": fresh(postgres_url())}
        results = {name: bench(url) for name, url in backends.items()}
    names = list(next(iter(results.values())))
    print(
        f"Knowledge-base lookups: median microseconds per call over {REPEATS} calls (x = ratio to that backend's baseline)"
    )
    print(f"{'lookup':32s}" + "".join(f"{b:>22s}" for b in results))
    for name in names:
        row = f"{name:32s}"
        for figures in results.values():
            base = figures["baseline: product by code"]
            row += f"{figures[name]:12.0f} us {figures[name] / base:5.1f}x"
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
