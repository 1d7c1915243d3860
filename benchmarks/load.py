"""Load benchmark: the assistant under scripted Chinese conversations, against Rasa's default pipeline.

    make bench                      (.venv/rasa/bin/python benchmarks/load.py)
    .venv/rasa/bin/python benchmarks/load.py --quick --only project

For each assistant the script starts its own action server and Rasa server on free loopback
ports (scratch knowledge base and tracker store, fresh secrets), talks to them only through
the REST channel customers' systems use (and Rasa's ``/model/parse`` for the NLU-only figure),
and stops them at the end, on Ctrl-C and on failure. It measures, printing each figure as it
is taken:

1. one customer: latency per turn (p50/p95/p99) over conversations played one after another;
2. a closed-loop sweep: 1, 10, 50 and 200 customers each playing scripts back to back;
3. capacity: customers arriving at random (Poisson) at increasing rates, each playing one
   script; the highest rate, in turns/s, with p99 <= 300 ms and no errors;
4. memory (VmRSS) of the Rasa server and of the action server after the load;
5. NLU only: parses/s through ``POST /model/parse`` with 1 and 10 clients.

The same is done, in the same run, for a BASELINE: the pipeline and policies ``rasa init``
writes for Rasa 3.6 (JiebaTokenizer instead of WhitespaceTokenizer), trained on the same
data/ and domain.yml with 1 epoch instead of 100 for DIET, ResponseSelector, TED and
UnexpecTED (serving cost does not depend on the number of epochs; 100 take hours here).
The trained baseline is cached in var/bench/ while config, data and domain are unchanged.

Benchmarks report numbers; they do not pass or fail on a wall-clock time. Machines differ
and are noisy, so every figure is also given as a ratio project / baseline.
Results: results/bench.json and results/bench.md (``--out`` for another folder).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import copy
import hashlib
import json
import math
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY_ACTIONS = ROOT / ".venv" / "actions" / "bin" / "python"
RASA = ROOT / ".venv" / "rasa" / "bin" / "rasa"
PROJECT_MODEL = ROOT / "models" / "assistant.tar.gz"
CACHE_DIR = ROOT / "var" / "bench"
DEFAULT_OUT = ROOT / "results"

#: The service level of the capacity search: p99 of a turn at most this, and no errors.
P99_LIMIT_MS = 300.0
#: Customers at each level of the closed-loop sweep.
SWEEP_CUSTOMERS = (1, 10, 50, 200)
#: Concurrent clients of the NLU-only measurement.
NLU_CLIENTS = (1, 10)
#: A turn without an answer after this long is a timeout (an error).
REQUEST_TIMEOUT_S = 60.0
#: The button that acknowledges a risk disclosure.
ACK_TITLE = "我已阅读并知晓风险"
#: What the channel gateway answers on its own when the bot's turn produced nothing (the
#: action server failed or refused): a reply, but not the bot's (bot/channels/gateway.py).
FALLBACK_RESPONSE = "utter_service_unavailable"


# --- the conversations ------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One customer turn: type ``text`` (say), press the button titled ``text`` (press), or
    press it only when the last answer offers it (ack: a risk disclosure is not always shown)."""

    kind: str
    text: str


def say(text: str) -> Step:
    return Step("say", text)


def press(title: str) -> Step:
    return Step("press", title)


def ack_if_shown(title: str = ACK_TITLE) -> Step:
    return Step("ack", title)


#: What the benchmark's customers do, typed as customers type it (tests/bot/journeys/ has
#: the same phrasings with what each answer must say).
SCRIPTS: dict[str, tuple[Step, ...]] = {
    # product facts: rates, a card's fee, a branch's hours, a mortgage; thanks
    "consultation": (
        say("你好"),
        say("三年定期存款利率是多少"),
        say("金卡信用卡年费多少"),
        say("北京国贸支行几点开门"),
        say("首套房贷利率是多少"),
        say("谢谢"),
    ),
    # the appointment form, slot by slot, ending on a button; writes a booking
    "appointment": (
        say("我要预约"),
        say("北京国贸支行"),
        say("下周二上午10点"),
        press("开户/办卡"),
        say("谢谢"),
    ),
    # a recommendation: segment, amount and term in one sentence, the goal and the risk
    # questionnaire by their buttons, then an R4 product by name, whose risk disclosure is
    # acknowledged (an audit row)
    "recommendation": (
        say("我是年轻上班族，有10万，放3年，帮我推荐一下"),
        press("长期增值"),
        press("C. 买过债券基金或混合基金"),
        press("C. 5%–20%"),
        press("D. 追求较高收益，能承受较大波动"),
        press("C. 3–5年"),
        press("C. 10%–30%"),
        say("锐进权益精选理财怎么样"),
        ack_if_shown(),
    ),
    # the calculators, with follow-ups that keep the subject
    "calculator": (
        say("存10万整存整取三年有多少利息"),
        say("那五年呢"),
        say("首套房贷100万贷30年月供多少"),
        say("那等额本金呢"),
        say("谢谢"),
    ),
    # urgent handling and branch search
    "service": (
        say("我的银行卡丢了"),
        say("挂失要钱吗"),
        say("上海浦东有你们的网点吗"),
        say("周六开门不"),
        say("好的，谢谢"),
    ),
}


def script_turns(scripts: dict[str, Sequence[Step]] = SCRIPTS) -> dict[str, int]:
    """Turns of each script when every step is played (a shown disclosure acknowledged)."""
    return {name: len(steps) for name, steps in scripts.items()}


def mean_turns(scripts: dict[str, Sequence[Step]] = SCRIPTS) -> float:
    """Mean turns per conversation when customers pick scripts uniformly."""
    turns = script_turns(scripts)
    return sum(turns.values()) / len(turns)


def typed_texts(scripts: dict[str, Sequence[Step]] = SCRIPTS) -> list[str]:
    """Everything customers type in the scripts (the NLU-only load parses these)."""
    return [step.text for steps in scripts.values() for step in steps if step.kind == "say"]


def fallback_marker(domain_file: Path = ROOT / "domain.yml") -> str:
    """The fixed start of the gateway's fallback answer (its text up to the first placeholder)."""
    import yaml

    domain = yaml.safe_load(domain_file.read_text(encoding="utf-8"))
    return str(domain["responses"][FALLBACK_RESPONSE][0]["text"]).split("{", 1)[0]


def is_fallback(messages: Iterable[dict[str, Any]], marker: str) -> bool:
    """Whether a reply is the gateway's own fallback answer rather than the bot's."""
    return bool(marker) and any(str(m.get("text") or "").startswith(marker) for m in messages if isinstance(m, dict))


def find_button(messages: Iterable[dict[str, Any]], title: str) -> dict[str, Any] | None:
    """The button titled ``title`` in a reply (exact title first, then a title starting with it)."""
    buttons = [b for m in messages if isinstance(m, dict) for b in (m.get("buttons") or []) if isinstance(b, dict)]
    for match in (lambda t: t == title, lambda t: t.startswith(title)):
        for button in buttons:
            if match(str(button.get("title", ""))):
                return button
    return None


# --- figures ----------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Tally:
    """What a stage saw: latencies of answered turns (ms), errors by kind, and the oddities."""

    latencies: list[float] = field(default_factory=list)
    errors: collections.Counter = field(default_factory=collections.Counter)
    empty: int = 0  # answered with an empty list (an error for the project, see Client)
    off_script: int = 0  # a button to press was not offered; its title was typed instead
    fallbacks: int = 0  # answered by the gateway's fallback, not by the bot (an error for the project)
    conversations: int = 0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def summarize(tally: Tally, elapsed: float) -> dict[str, Any]:
    """A stage's figures: turns, turns/s, latency percentiles (ms), errors."""
    lat = tally.latencies
    return {
        "conversations": tally.conversations,
        "turns": len(lat),
        "seconds": round(elapsed, 2),
        "turns_per_s": round(len(lat) / elapsed, 2) if elapsed > 0 else None,
        "p50_ms": _round(percentile(lat, 50)),
        "p95_ms": _round(percentile(lat, 95)),
        "p99_ms": _round(percentile(lat, 99)),
        "max_ms": _round(max(lat) if lat else None),
        "errors": tally.error_count,
        "error_kinds": dict(tally.errors),
        "empty_replies": tally.empty,
        "fallback_replies": tally.fallbacks,
        "off_script": tally.off_script,
    }


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def poisson_offsets(rate: float, duration: float, rng: random.Random) -> list[float]:
    """Arrival times (s from the start) of a Poisson process of ``rate`` per second over ``duration``."""
    offsets: list[float] = []
    if rate <= 0:
        return offsets
    t = rng.expovariate(rate)
    while t < duration:
        offsets.append(t)
        t += rng.expovariate(rate)
    return offsets


def meets_service_level(summary: dict[str, Any], limit_ms: float = P99_LIMIT_MS) -> bool:
    """p99 within the limit, no errors, and the step was not cut short."""
    p99 = summary.get("p99_ms")
    return (
        not summary.get("aborted")
        and summary.get("errors", 1) == 0
        and summary.get("turns", 0) > 0
        and p99 is not None
        and p99 <= limit_ms
    )


def slow_allowance(expected_turns: float) -> int:
    """Turns over the p99 limit after which a step cannot meet it any more.

    p99 <= limit allows at most 1% of the turns above it; the number of turns is random
    (Poisson), so the step is cut short only past 2% of the expected count, plus two.
    """
    return int(0.02 * expected_turns) + 2


class CapacitySearch:
    """The highest passing rate: step up by ``growth`` until a rate fails, then bisect.

    ``start`` is the first rate tried; when it fails the search steps down instead, and
    gives up (capacity 0) below ``start / 8``. It stops when the highest passing and the
    lowest failing rate are within ``tolerance`` of each other, or after ``max_steps``
    rates. A rate that passes above one that failed (noise) does not raise the capacity:
    the capacity is the highest passing rate below the lowest failing one.
    """

    def __init__(self, start: float, *, max_steps: int = 7, tolerance: float = 0.1, growth: float = 2.0):
        if start <= 0:
            raise ValueError("the first rate must be positive")
        self.start = start
        self.max_steps = max_steps
        self.tolerance = tolerance
        self.growth = growth
        self.trials: list[tuple[float, bool]] = []

    def record(self, rate: float, ok: bool) -> None:
        self.trials.append((rate, ok))

    @property
    def lowest_failure(self) -> float | None:
        failed = [r for r, ok in self.trials if not ok]
        return min(failed) if failed else None

    @property
    def capacity(self) -> float:
        """The highest passing rate below the lowest failing one; 0.0 when none passed."""
        hi = self.lowest_failure
        passed = [r for r, ok in self.trials if ok and (hi is None or r < hi)]
        return max(passed) if passed else 0.0

    def next_rate(self) -> float | None:
        """The next rate to try, or None when the search is over."""
        if len(self.trials) >= self.max_steps:
            return None
        if not self.trials:
            return self.start
        lo, hi = self.capacity, self.lowest_failure
        if hi is None:
            return lo * self.growth
        if lo == 0.0:
            rate = hi / self.growth
            return rate if rate >= self.start / 8 else None
        if hi / lo <= 1 + self.tolerance:
            return None
        return (lo + hi) / 2


def ratio(project: float | None, baseline: float | None) -> float | None:
    """project / baseline, or None when either is missing or the baseline is 0."""
    if project is None or baseline is None or baseline == 0:
        return None
    return round(project / baseline, 3)


def parse_status(text: str) -> dict[str, int]:
    """The kB figures of /proc/<pid>/status (VmRSS, VmHWM, ...) as ints."""
    figures = {}
    for line in text.splitlines():
        m = re.match(r"(Vm\w+):\s+(\d+) kB", line)
        if m:
            figures[m.group(1)] = int(m.group(2))
    return figures


def process_memory(pid: int) -> dict[str, float] | None:
    """Resident memory (MiB) of a process and its children: now (VmRSS) and its peak (VmHWM)."""
    pids = [pid] + _children(pid)
    rss = hwm = 0
    for p in pids:
        try:
            figures = parse_status(Path(f"/proc/{p}/status").read_text())
        except OSError:
            if p == pid:
                return None
            continue
        rss += figures.get("VmRSS", 0)
        hwm += figures.get("VmHWM", 0)
    return {"rss_mib": round(rss / 1024, 1), "peak_mib": round(hwm / 1024, 1), "processes": len(pids)}


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            child = int(stat.parent.name)
            found += [child] + _children(child)
    return found


# --- the baseline -----------------------------------------------------------------------

#: What `rasa init` writes for Rasa 3.6 (rasa/engine/recipes/config_files/default_config.yml),
#: with JiebaTokenizer for WhitespaceTokenizer (Chinese has no spaces between words).
BASELINE_CONFIG: dict[str, Any] = {
    "recipe": "default.v1",
    "assistant_id": "bench-baseline",
    "language": "zh",
    "pipeline": [
        {"name": "JiebaTokenizer"},
        {"name": "RegexFeaturizer"},
        {"name": "LexicalSyntacticFeaturizer"},
        {"name": "CountVectorsFeaturizer"},
        {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
        {"name": "DIETClassifier", "epochs": 100, "constrain_similarities": True},
        {"name": "EntitySynonymMapper"},
        {"name": "ResponseSelector", "epochs": 100, "constrain_similarities": True},
        {"name": "FallbackClassifier", "threshold": 0.3, "ambiguity_threshold": 0.1},
    ],
    "policies": [
        {"name": "MemoizationPolicy"},
        {"name": "RulePolicy"},
        {"name": "UnexpecTEDIntentPolicy", "max_history": 5, "epochs": 100},
        {"name": "TEDPolicy", "max_history": 5, "epochs": 100, "constrain_similarities": True},
    ],
}
#: Epochs of the baseline's neural components here: serving cost does not depend on them,
#: and the default 100 take hours on two cores.
BASELINE_EPOCHS = 1


def baseline_config(epochs: int = BASELINE_EPOCHS) -> dict[str, Any]:
    """The default configuration with ``epochs`` for every component that has them."""
    config = copy.deepcopy(BASELINE_CONFIG)
    for component in config["pipeline"] + config["policies"]:
        if "epochs" in component:
            component["epochs"] = epochs
    return config


def training_inputs(root: Path = ROOT) -> list[Path]:
    """The files a model trained on the project's data depends on: domain.yml and data/."""
    return [root / "domain.yml"] + sorted(p for p in (root / "data").rglob("*") if p.is_file())


def fingerprint(config: dict[str, Any], paths: Iterable[Path], root: Path = ROOT) -> str:
    """sha256 over the configuration, the Rasa version and each input's name and contents."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, ensure_ascii=False).encode())
    digest.update(_rasa_version().encode())
    for path in paths:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _rasa_version() -> str:
    try:
        from importlib.metadata import version

        return version("rasa")
    except Exception:  # not installed here (the smoke test does not need it)
        return "unknown"


def baseline_model(log_dir: Path) -> tuple[Path, dict[str, Any]]:
    """The trained baseline, from the cache or trained now (minutes), and how it was obtained."""
    import yaml

    config = baseline_config()
    digest = fingerprint(config, training_inputs())[:16]
    model = CACHE_DIR / f"baseline-{digest}.tar.gz"
    info: dict[str, Any] = {"epochs": BASELINE_EPOCHS, "fingerprint": digest, "model": str(model.relative_to(ROOT))}
    if model.exists():
        print(f"==> baseline: trained model reused from {info['model']} (config, data/ and domain.yml unchanged)")
        return model, {**info, "cached": True, "seconds": 0.0}
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    for old in CACHE_DIR.glob("baseline-*.tar.gz"):  # trained on data that has changed since
        old.unlink()
    config_path = CACHE_DIR / "baseline-config.yml"
    config_path.write_text(
        "# Rasa 3.6 `rasa init` defaults, JiebaTokenizer, epochs: 1 (written by benchmarks/load.py)\n"
        + yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    print(
        f"==> baseline: training Rasa's default pipeline and policies (epochs: {BASELINE_EPOCHS}) "
        f"on data/ and domain.yml; a few minutes (log: {_rel(log_dir / 'baseline-train.log')})",
        flush=True,
    )
    started = time.monotonic()
    env = _env(RASA_CACHE_DIRECTORY=str(CACHE_DIR / "rasa-cache"), RASA_MAX_CACHE_SIZE="0")
    command = [str(RASA), "train", "--config", str(config_path), "--domain", "domain.yml", "--data", "data"]
    command += ["--out", str(CACHE_DIR), "--fixed-model-name", model.name.removesuffix(".tar.gz")]
    with open(log_dir / "baseline-train.log", "w") as log:
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0 or not model.exists():
        _tail(log_dir / "baseline-train.log")
        raise RuntimeError("training the baseline failed")
    seconds = time.monotonic() - started
    print(f"    trained in {seconds:.0f} s")
    return model, {**info, "cached": False, "seconds": round(seconds, 1)}


# --- the servers ------------------------------------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(ROOT),
        TF_CPP_MIN_LOG_LEVEL="2",
        # no usage reports to Rasa's servers from a benchmark run (nor its network calls)
        RASA_TELEMETRY_ENABLED="false",
    )
    env.update(extra)
    return env


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def _tail(path: Path, lines: int = 30) -> None:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return
    print(f"--- last lines of {_rel(path)}:", file=sys.stderr)
    print("\n".join(text), file=sys.stderr)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except Exception:
        return False


class Assistant:
    """An action server and a Rasa server for one model, on free loopback ports.

    Each start gets a scratch folder (knowledge base, tracker store, endpoints) and fresh
    secrets; the servers' logs go to ``log_dir``. :meth:`stop` ends both (their process
    groups, which this script created) and removes the scratch folder.
    """

    def __init__(self, name: str, model: Path, log_dir: Path):
        self.name = name
        self.model = model
        self.log_dir = log_dir
        self.scratch = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        self.rest_token = secrets.token_hex(24)
        self.api_token = secrets.token_hex(24)
        self.action_port = free_port()
        self.rasa_port = free_port()
        while self.rasa_port == self.action_port:
            self.rasa_port = free_port()
        self.procs: dict[str, subprocess.Popen] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    def log(self, server: str) -> Path:
        return self.log_dir / f"{self.name}-{server}.log"

    def start(self, timeout: float = 600.0) -> float:
        """Start both servers and wait until the Rasa server answers; returns the seconds it took."""
        started = time.monotonic()
        env = _env(
            KNOWLEDGE_DB_URL=f"sqlite:///{self.scratch / 'kb.db'}",
            TRACKER_STORE_URL=f"sqlite:///{self.scratch / 'tracker.db'}",
            ACTION_SERVER_TOKEN=secrets.token_hex(24),
            CHANNEL_SECRET=secrets.token_hex(24),
            REST_CHANNEL_TOKEN=self.rest_token,
        )
        subprocess.run([str(PY_ACTIONS), "-m", "knowledge", "load"], cwd=ROOT, env=env, check=True, capture_output=True)
        endpoints = (ROOT / "endpoints.yml").read_text(encoding="utf-8")
        action_url = "http://127.0.0.1:5055/webhook"
        if action_url not in endpoints:
            raise RuntimeError(f"endpoints.yml no longer names {action_url}: update benchmarks/load.py")
        (self.scratch / "endpoints.yml").write_text(
            endpoints.replace(action_url, f"http://127.0.0.1:{self.action_port}/webhook"), encoding="utf-8"
        )
        self._spawn("actions", [str(PY_ACTIONS), "-m", "actions.server", "-p", str(self.action_port)], env)
        # the API (with a token) only for the NLU-only figure: POST /model/parse
        rasa = [str(RASA), "run", "--model", str(self.model), "--endpoints", str(self.scratch / "endpoints.yml")]
        rasa += ["--credentials", "credentials.yml", "-i", "127.0.0.1", "-p", str(self.rasa_port)]
        rasa += ["--enable-api", "--auth-token", self.api_token]
        self._spawn("rasa", rasa, env)
        deadline = started + timeout
        while time.monotonic() < deadline:
            for server, proc in self.procs.items():
                if proc.poll() is not None:
                    _tail(self.log(server))
                    raise RuntimeError(f"the {server} server of {self.name} stopped during start-up")
            if _http_ok(f"http://127.0.0.1:{self.action_port}/health") and _http_ok(f"{self.base_url}/webhooks/rest/"):
                return time.monotonic() - started
            time.sleep(1)
        raise RuntimeError(f"the servers of {self.name} did not answer within {timeout:.0f} s")

    def _spawn(self, server: str, command: list[str], env: dict[str, str]) -> None:
        with open(self.log(server), "w") as log:
            # a session of its own: Ctrl-C reaches this script only, which stops the servers in order
            self.procs[server] = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def pid(self, server: str) -> int:
        return self.procs[server].pid

    def stop(self) -> None:
        for proc in self.procs.values():
            _signal_group(proc, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
        self.procs.clear()
        shutil.rmtree(self.scratch, ignore_errors=True)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)  # the group this script created for the server (start_new_session)


# --- the customers ----------------------------------------------------------------------


class Client:
    """One turn over the REST channel: latency, and whether it counts as an error.

    An error is an HTTP status other than 200, a timeout, a refused connection or an answer
    that is not a JSON list; with ``strict`` (the project) also an empty list and the
    gateway's fallback answer (starting with ``fallback``), which means the bot gave none.
    """

    def __init__(self, session: Any, base_url: str, token: str, *, strict: bool = True, fallback: str = ""):
        self.session = session
        self.url = f"{base_url}/webhooks/rest/webhook"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.strict = strict
        self.fallback = fallback

    async def turn(
        self, tally: Tally, sender: str, message: str, metadata: dict[str, Any] | None = None
    ) -> tuple[list[dict[str, Any]] | None, float | None]:
        """Send one message and count it in ``tally``; returns the answer (None when there is
        none) and the latency in ms (None when the turn was an error)."""
        import aiohttp

        body: dict[str, Any] = {"sender": sender, "message": message}
        if metadata:
            body["metadata"] = metadata
        started = time.perf_counter()
        try:
            async with self.session.post(self.url, json=body, headers=self.headers) as answer:
                payload = await answer.json(content_type=None) if answer.status == 200 else None
                status = answer.status
        except asyncio.TimeoutError:
            tally.errors["timeout"] += 1
            return None, None
        except (aiohttp.ClientError, ValueError) as exc:
            tally.errors[type(exc).__name__] += 1
            return None, None
        latency = (time.perf_counter() - started) * 1000
        if status != 200:
            tally.errors[f"HTTP {status}"] += 1
            return None, None
        if not isinstance(payload, list):
            tally.errors["not a list"] += 1
            return None, None
        tally.latencies.append(latency)
        if not payload:
            tally.empty += 1
            if self.strict:
                tally.errors["empty reply"] += 1
                return payload, None
        elif is_fallback(payload, self.fallback):
            tally.fallbacks += 1
            if self.strict:
                tally.errors["fallback reply"] += 1
                return payload, None
        return payload, latency


def new_sender() -> str:
    return f"bench-{uuid.uuid4().hex[:20]}"


async def play(
    client: Client,
    steps: Sequence[Step],
    tally: Tally,
    *,
    stop_at: float | None = None,
    stop: asyncio.Event | None = None,
    on_turn: Callable[[float | None], None] | None = None,
) -> None:
    """One customer plays one script with a fresh sender id.

    Stops before a turn once ``stop_at`` (loop time) has passed or ``stop`` is set, and
    after a turn that got no answer. ``on_turn`` gets each turn's latency (None: an error).
    """
    loop = asyncio.get_running_loop()
    sender = new_sender()
    tally.conversations += 1
    last: list[dict[str, Any]] = []
    for step in steps:
        if (stop_at is not None and loop.time() >= stop_at) or (stop is not None and stop.is_set()):
            return
        message, metadata = step.text, None
        if step.kind in ("press", "ack"):
            button = find_button(last, step.text)
            if button is not None:
                message, metadata = str(button.get("payload", "")), {"payload_sig": button.get("payload_sig")}
            elif step.kind == "ack":
                continue  # no disclosure shown: nothing to acknowledge
            else:
                tally.off_script += 1  # the label typed instead, as a customer would
        answer, latency = await client.turn(tally, sender, message, metadata)
        if on_turn is not None:
            on_turn(latency)
        if answer is None:
            return  # the customer gives up on a conversation that stopped answering
        last = answer


def script_order(offset: int) -> Iterable[str]:
    names = list(SCRIPTS)
    i = offset
    while True:
        yield names[i % len(names)]
        i += 1


async def single_customer(client: Client, rounds: int) -> dict[str, Any]:
    """One customer at a time: every script ``rounds`` times, one conversation after another."""
    tally = Tally()
    started = time.perf_counter()
    for _ in range(rounds):
        for steps in SCRIPTS.values():
            await play(client, steps, tally)
    return summarize(tally, time.perf_counter() - started)


async def closed_loop(client: Client, customers: int, duration: float) -> dict[str, Any]:
    """``customers`` at once, each playing scripts back to back until ``duration`` has passed."""
    loop = asyncio.get_running_loop()
    tally = Tally()
    started = time.perf_counter()
    stop_at = loop.time() + duration
    ramp = min(1.0, duration / 10)  # starts spread over a second, not one burst

    async def customer(i: int) -> None:
        await asyncio.sleep(ramp * i / customers)
        for name in script_order(i):
            if loop.time() >= stop_at:
                return
            await play(client, SCRIPTS[name], tally, stop_at=stop_at)

    await asyncio.gather(*(customer(i) for i in range(customers)))
    return summarize(tally, time.perf_counter() - started)


async def open_loop(
    client: Client, rate: float, duration: float, rng: random.Random, *, limit_ms: float = P99_LIMIT_MS
) -> dict[str, Any]:
    """Customers arriving at random (Poisson) at ``rate`` turns/s for ``duration``, each playing one script.

    The step is cut short, and fails, on the first error or once too many turns were slower
    than ``limit_ms`` for the p99 to meet it: no more arrivals, and customers already talking
    stop after their current turn.
    """
    loop = asyncio.get_running_loop()
    tally = Tally()
    names = list(SCRIPTS)
    expected = rate * duration
    allowance = slow_allowance(expected)
    slow = 0
    stop = asyncio.Event()

    def on_turn(latency: float | None) -> None:
        nonlocal slow
        if latency is None or latency > limit_ms:
            slow += 1
        if tally.error_count or slow > allowance:
            stop.set()

    tasks: list[asyncio.Task] = []
    started = loop.time()
    # the first customer arrives as the step starts: a short step at a low rate is never empty
    for offset in [0.0] + poisson_offsets(rate / mean_turns(), duration, rng):
        delay = started + offset - loop.time()
        if delay > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
        if stop.is_set():
            break
        steps = SCRIPTS[rng.choice(names)]
        # once the step has failed, customers already talking stop after their current turn
        tasks.append(asyncio.create_task(play(client, steps, tally, stop=stop, on_turn=on_turn)))
    remaining = started + duration - loop.time()
    if remaining > 0 and not stop.is_set():  # the step lasts its whole window, arrivals or not
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), remaining)
    if tasks:
        await asyncio.wait(tasks)
    summary = summarize(tally, loop.time() - started)
    summary.update(offered_turns_per_s=round(rate, 2), aborted=stop.is_set())
    return summary


async def nlu_only(session: Any, assistant: Assistant, clients: int, duration: float) -> dict[str, Any]:
    """``clients`` clients parsing the scripts' texts back to back through POST /model/parse."""
    import aiohttp

    loop = asyncio.get_running_loop()
    url = f"{assistant.base_url}/model/parse"
    texts = typed_texts()
    tally = Tally()
    stop_at = loop.time() + duration
    started = time.perf_counter()

    async def parser(i: int) -> None:
        k = i
        while loop.time() < stop_at:
            text = texts[k % len(texts)]
            k += 1
            t0 = time.perf_counter()
            try:
                async with session.post(url, params={"token": assistant.api_token}, json={"text": text}) as answer:
                    body = await answer.json(content_type=None) if answer.status == 200 else None
                    status = answer.status
            except asyncio.TimeoutError:
                tally.errors["timeout"] += 1
                continue
            except (aiohttp.ClientError, ValueError) as exc:
                tally.errors[type(exc).__name__] += 1
                continue
            if status != 200 or not isinstance(body, dict) or "intent" not in body:
                tally.errors[f"HTTP {status}" if status != 200 else "no intent"] += 1
                continue
            tally.latencies.append((time.perf_counter() - t0) * 1000)

    await asyncio.gather(*(parser(i) for i in range(clients)))
    summary = summarize(tally, time.perf_counter() - started)
    summary["parses_per_s"] = summary.pop("turns_per_s")
    summary["parses"] = summary.pop("turns")
    for key in ("conversations", "empty_replies", "fallback_replies", "off_script"):
        summary.pop(key)
    return summary


# --- one assistant, every stage ---------------------------------------------------------


@dataclass
class Plan:
    """How long each stage runs."""

    duration: float  # seconds per sweep level, capacity step and NLU level
    single_rounds: int  # conversations per script for the one-customer latency
    capacity_steps: int
    min_step_turns: int  # a capacity step lasts until this many turns were offered (up to 2 x duration)


def plan_for(quick: bool, duration: float | None) -> Plan:
    if quick:
        return Plan(duration=duration or 3.0, single_rounds=1, capacity_steps=3, min_step_turns=10)
    return Plan(duration=duration or 20.0, single_rounds=4, capacity_steps=6, min_step_turns=60)


def _line(label: str, s: dict[str, Any], rate_key: str = "turns_per_s", unit: str = "turns/s") -> str:
    extra = ""
    if s.get("empty_replies"):
        extra += f", {s['empty_replies']} empty replies"
    if s.get("fallback_replies"):
        extra += f", {s['fallback_replies']} fallback replies"
    if s.get("off_script"):
        extra += f", {s['off_script']} buttons not offered"
    kinds = ", ".join(f"{k}: {v}" for k, v in s.get("error_kinds", {}).items())
    count = s.get("turns", s.get("parses"))
    return (
        f"    {label:<22s} {count:>6} in {s['seconds']:>5.1f} s  {_fmt(s[rate_key]):>7s} {unit}  "
        f"p50 {_fmt(s['p50_ms'])}  p95 {_fmt(s['p95_ms'])}  p99 {_fmt(s['p99_ms'])} ms  "
        f"errors {s['errors']}{' (' + kinds + ')' if kinds else ''}{extra}"
    )


def _fmt(value: float | int | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, (int, str)):
        return str(value)
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


async def measure(assistant: Assistant, plan: Plan, *, strict: bool, seed: int) -> dict[str, Any]:
    """Every stage against one running assistant; prints each figure as it is taken."""
    import aiohttp

    name = assistant.name
    results: dict[str, Any] = {"stage_seconds": {}}
    stages = results["stage_seconds"]
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    # no client-side connection limit: 200 customers are 200 connections, not a queue in this script
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        client = Client(session, assistant.base_url, assistant.rest_token, strict=strict, fallback=fallback_marker())

        t0 = time.monotonic()
        warm = Tally()
        for steps in SCRIPTS.values():  # first inference traces TensorFlow graphs, loads caches
            await play(client, steps, warm)
        stages["warm-up"] = round(time.monotonic() - t0, 1)
        results["memory_idle"] = {s: process_memory(assistant.pid(s)) for s in ("rasa", "actions")}
        print(f"[{name}] warm-up: {len(warm.latencies)} turns, {warm.error_count} errors ({stages['warm-up']} s)")

        t0 = time.monotonic()
        print(f"[{name}] 1. one customer, {plan.single_rounds} x {len(SCRIPTS)} conversations one after another")
        results["single"] = await single_customer(client, plan.single_rounds)
        print(_line("one customer", results["single"]), flush=True)
        stages["single"] = round(time.monotonic() - t0, 1)

        t0 = time.monotonic()
        print(f"[{name}] 2. closed loop, {plan.duration:.0f} s per level: customers playing scripts back to back")
        results["sweep"] = {}
        for customers in SWEEP_CUSTOMERS:
            summary = await closed_loop(client, customers, plan.duration)
            results["sweep"][str(customers)] = summary
            print(_line(_customers(customers), summary), flush=True)
        stages["sweep"] = round(time.monotonic() - t0, 1)

        t0 = time.monotonic()
        best = max((s["turns_per_s"] or 0) for s in results["sweep"].values())
        search = CapacitySearch(max(best / 4, 0.2), max_steps=plan.capacity_steps)
        rng = random.Random(seed)
        print(
            f"[{name}] 3. capacity: Poisson arrivals, one script each; highest rate with p99 <= "
            f"{P99_LIMIT_MS:.0f} ms and no errors (first rate: a quarter of the best closed-loop {best:.1f} turns/s)"
        )
        trials = []
        while (rate := search.next_rate()) is not None:
            step_s = min(max(plan.duration, plan.min_step_turns / rate), 2 * plan.duration)
            summary = await open_loop(client, rate, step_s, rng)
            ok = meets_service_level(summary)
            search.record(rate, ok)
            trials.append({**summary, "passed": ok})
            print(_line(f"{rate:.1f} turns/s offered", summary) + ("  PASS" if ok else "  fail"), flush=True)
            await asyncio.sleep(1)  # let the server finish what a cut-short step left behind
        results["capacity"] = {
            "turns_per_s": round(search.capacity, 2),
            "customers_per_s": round(search.capacity / mean_turns(), 3),
            "p99_limit_ms": P99_LIMIT_MS,
            "trials": trials,
        }
        print(f"    capacity: {search.capacity:.1f} turns/s ({search.capacity / mean_turns():.2f} customers/s)")
        stages["capacity"] = round(time.monotonic() - t0, 1)

        results["memory"] = {s: process_memory(assistant.pid(s)) for s in ("rasa", "actions")}
        for server, mem in results["memory"].items():
            if mem:
                print(
                    f"[{name}] 4. memory after the load, {server} server: {mem['rss_mib']:.0f} MiB RSS "
                    f"(peak {mem['peak_mib']:.0f} MiB)"
                )

        t0 = time.monotonic()
        print(f"[{name}] 5. NLU only: POST /model/parse, {plan.duration:.0f} s per level")
        results["nlu"] = {}
        for clients in NLU_CLIENTS:
            summary = await nlu_only(session, assistant, clients, plan.duration)
            results["nlu"][str(clients)] = summary
            print(
                _line(f"{clients} client{'s' if clients > 1 else ''}", summary, "parses_per_s", "parses/s"), flush=True
            )
        stages["nlu"] = round(time.monotonic() - t0, 1)
    return results


def run_assistant(name: str, model: Path, plan: Plan, log_dir: Path, *, strict: bool, seed: int) -> dict[str, Any]:
    assistant = Assistant(name, model, log_dir)
    load_before = os.getloadavg()
    try:
        print(
            f"==> {name}: starting the action server (:{assistant.action_port}) and the Rasa server "
            f"(:{assistant.rasa_port}) with {_rel(model)}; loading the model takes a minute",
            flush=True,
        )
        start_s = assistant.start()
        print(f"    ready in {start_s:.0f} s")
        results = asyncio.run(measure(assistant, plan, strict=strict, seed=seed))
        results["stage_seconds"] = {"start": round(start_s, 1), **results["stage_seconds"]}
    finally:
        assistant.stop()
    results["model"] = _rel(model)
    results["load_average"] = {
        "before": [round(x, 2) for x in load_before],
        "after": [round(x, 2) for x in os.getloadavg()],
    }
    return results


# --- the report -------------------------------------------------------------------------


def compute_ratios(project: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """project / baseline for every figure both have (latency < 1 and throughput > 1 favour the project)."""
    out: dict[str, Any] = {}
    for key in ("p50_ms", "p95_ms", "p99_ms"):
        out[f"single.{key}"] = ratio(project["single"][key], baseline["single"][key])
    for level in project.get("sweep", {}):
        p, b = project["sweep"][level], baseline.get("sweep", {}).get(level)
        if b:
            for key in ("turns_per_s", "p50_ms", "p95_ms", "p99_ms"):
                out[f"sweep.{level}.{key}"] = ratio(p[key], b[key])
    out["capacity.turns_per_s"] = ratio(project["capacity"]["turns_per_s"], baseline["capacity"]["turns_per_s"])
    for server in ("rasa", "actions"):
        p, b = project["memory"].get(server), baseline["memory"].get(server)
        out[f"memory.{server}.rss_mib"] = ratio(p and p["rss_mib"], b and b["rss_mib"])
    for level in project.get("nlu", {}):
        b = baseline.get("nlu", {}).get(level)
        if b:
            out[f"nlu.{level}.parses_per_s"] = ratio(project["nlu"][level]["parses_per_s"], b["parses_per_s"])
            out[f"nlu.{level}.p50_ms"] = ratio(project["nlu"][level]["p50_ms"], b["p50_ms"])
    return out


def _customers(n: str | int) -> str:
    return f"{n} customer{'' if str(n) == '1' else 's'}"


def capacity_figure(capacity: dict[str, Any]) -> float | str:
    """The capacity for the table; when no rate passed, "< lowest rate tried" rather than a plain 0."""
    rates = [t["offered_turns_per_s"] for t in capacity.get("trials") or []]
    if not capacity["turns_per_s"] and rates:
        return f"< {_fmt(min(rates))}"
    return capacity["turns_per_s"]


def table_rows(results: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], str]]:
    """(label, unit, {assistant: value}, ratio key) for every figure of the table."""
    rows: list[tuple[str, str, dict[str, Any], str]] = []

    def add(label: str, unit: str, getter: Callable[[dict[str, Any]], Any], key: str = "") -> None:
        values = {}
        for name, figures in results["assistants"].items():
            try:
                values[name] = getter(figures)
            except (KeyError, TypeError):
                values[name] = None
        rows.append((label, unit, values, key))

    for q in ("p50", "p95", "p99"):
        add(f"one customer: latency {q}", "ms", lambda f, q=q: f["single"][f"{q}_ms"], f"single.{q}_ms")
    for level in (str(c) for c in SWEEP_CUSTOMERS):
        sweep = lambda f, level=level: f["sweep"][level]  # noqa: E731
        add(
            f"{_customers(level)}: throughput",
            "turns/s",
            lambda f, g=sweep: g(f)["turns_per_s"],
            f"sweep.{level}.turns_per_s",
        )
        for q in ("p50", "p95", "p99"):
            add(
                f"{_customers(level)}: latency {q}",
                "ms",
                lambda f, g=sweep, q=q: g(f)[f"{q}_ms"],
                f"sweep.{level}.{q}_ms",
            )
        add(f"{_customers(level)}: errors", "turns", lambda f, g=sweep: g(f)["errors"])
    add(
        f"capacity: p99 <= {P99_LIMIT_MS:.0f} ms, no errors",
        "turns/s",
        lambda f: capacity_figure(f["capacity"]),
        "capacity.turns_per_s",
    )
    for server, label in (("rasa", "Rasa server"), ("actions", "action server")):
        add(
            f"memory after the load: {label}",
            "MiB RSS",
            lambda f, s=server: f["memory"][s]["rss_mib"],
            f"memory.{server}.rss_mib",
        )
    for level in (str(c) for c in NLU_CLIENTS):
        add(
            f"NLU only: {level} client{'' if level == '1' else 's'}",
            "parses/s",
            lambda f, n=level: f["nlu"][n]["parses_per_s"],
            f"nlu.{level}.parses_per_s",
        )
    return rows


def render_markdown(results: dict[str, Any]) -> str:
    """The results as a markdown table (each assistant, project / baseline) and notes on how they were taken."""
    names = list(results["assistants"])
    ratios = results.get("ratios") or {}
    columns = ["figure", "unit", *names] + (["project / baseline"] if ratios else [])
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for label, unit, values, key in table_rows(results):
        cells = [label, unit, *(_fmt(values.get(n)) for n in names)]
        if ratios:
            r = ratios.get(key) if key else None
            cells.append("-" if r is None else f"{r:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    meta = results["meta"]
    notes = [
        f"{meta['date']}, {meta['cpus']} CPUs, Python {meta['python']}; {meta['duration_s']:.0f} s per sweep level, "
        f"capacity step and NLU level{' (--quick)' if meta['quick'] else ''}; the whole run took "
        f"{meta.get('wall_seconds', 0) / 60:.1f} min.",
        "Conversations: " + ", ".join(f"{k} ({v} turns)" for k, v in meta["scripts"].items()) + "; every customer "
        "a new sender id, over the REST channel (the channel gateway included). Latency is per turn, as the "
        "client sees it. Errors: HTTP errors, timeouts "
        f"({meta['request_timeout_s']:.0f} s), empty replies and the gateway's fallback answer (the bot gave none).",
        "Closed loop: each customer plays scripts back to back, with no pause between turns. Capacity: customers "
        "arrive at random (Poisson) and play one script each; rates stepped up, then bisected; the highest "
        f"offered rate with p99 <= {P99_LIMIT_MS:.0f} ms and no errors.",
    ]
    if "baseline" in results["assistants"]:
        notes.append(
            "Baseline: Rasa 3.6's `rasa init` pipeline and policies with JiebaTokenizer for WhitespaceTokenizer, "
            f"trained on the same data/ and domain.yml with epochs: {BASELINE_EPOCHS} (not 100) for DIET, "
            "ResponseSelector, TED and UnexpecTED: serving cost does not depend on the number of epochs. Its answers "
            "are poor, so only HTTP errors and timeouts count as its errors (empty and fallback replies do not). "
            "Both assistants run with the same channels, action server and knowledge base."
        )
        training = meta.get("baseline_training") or {}
        if training:
            notes[-1] += " The baseline model was " + (
                "reused from var/bench/ (config, data/ and domain.yml unchanged)."
                if training.get("cached")
                else f"trained in this run ({training.get('seconds', 0) / 60:.1f} min)."
            )
    if ratios:
        notes.append(
            "project / baseline: below 1 is better for latency and memory, above 1 for throughput and capacity."
        )
    for name, figures in results["assistants"].items():
        trials = (figures.get("capacity") or {}).get("trials") or []
        steps = ", ".join(
            f"{t['offered_turns_per_s']:.1f} → p99 {_fmt(t['p99_ms'])} ms{' with errors' if t['errors'] else ''} "
            f"{'pass' if t['passed'] else 'fail'}"
            for t in trials
        )
        if steps:
            notes.append(f"{name} capacity steps (turns/s offered): {steps}.")
            if not figures["capacity"]["turns_per_s"]:
                notes[-1] += (
                    " No rate tried met the service level: its capacity is below the lowest one, and there is "
                    "no ratio."
                )
        stages = ", ".join(f"{k} {v:.0f}" for k, v in (figures.get("stage_seconds") or {}).items())
        load = figures.get("load_average")
        if stages:
            notes.append(
                f"{name} seconds per stage: {stages}"
                + (
                    f"; 1-minute load average {load['before'][0]:.1f} before, {load['after'][0]:.1f} after"
                    if load
                    else ""
                )
                + "."
            )
    return "\n".join(lines) + "\n\n" + "".join(f"- {n}\n" for n in notes)


# --- main -------------------------------------------------------------------------------


def _terminate(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the servers the same way as Ctrl-C


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load benchmark of the assistant against Rasa's default pipeline.")
    parser.add_argument("--quick", action="store_true", help="a few seconds per stage (development, smoke test)")
    parser.add_argument("--only", choices=["project", "baseline"], help="measure one assistant only")
    parser.add_argument("--duration", type=float, help="seconds per sweep level, capacity step and NLU level")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder of bench.json and bench.md")
    parser.add_argument("--seed", type=int, default=20261203, help="seed of the random arrivals")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)

    plan = plan_for(args.quick, args.duration)
    for need, hint in ((PY_ACTIONS, "make setup"), (RASA, "make setup"), (PROJECT_MODEL, "make train")):
        if not need.exists():
            print(f"ERROR: {_rel(need)} is missing: run `{hint}` first.", file=sys.stderr)
            return 1
    log_dir = CACHE_DIR / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    wall = time.monotonic()
    results: dict[str, Any] = {
        "meta": {
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "quick": args.quick,
            "duration_s": plan.duration,
            "p99_limit_ms": P99_LIMIT_MS,
            "request_timeout_s": REQUEST_TIMEOUT_S,
            "scripts": script_turns(),
        },
        "assistants": {},
    }
    names = [args.only] if args.only else ["project", "baseline"]
    try:
        models = {"project": PROJECT_MODEL}
        if "baseline" in names:
            models["baseline"], results["meta"]["baseline_training"] = baseline_model(log_dir)
        for name in names:
            results["assistants"][name] = run_assistant(
                name, models[name], plan, log_dir, strict=(name == "project"), seed=args.seed
            )
    except KeyboardInterrupt:
        print("\ninterrupted: the servers are stopped", file=sys.stderr)
        return 130
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"ERROR: {exc} (logs in {_rel(log_dir)})", file=sys.stderr)
        return 1
    if {"project", "baseline"} <= set(results["assistants"]):
        results["ratios"] = compute_ratios(results["assistants"]["project"], results["assistants"]["baseline"])
    results["meta"]["wall_seconds"] = round(time.monotonic() - wall, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    markdown = render_markdown(results)
    (args.out / "bench.md").write_text(markdown, encoding="utf-8")
    print(
        f"\n==> results in {_rel(args.out / 'bench.json')} and {_rel(args.out / 'bench.md')} "
        f"({results['meta']['wall_seconds'] / 60:.1f} min)\n"
    )
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
