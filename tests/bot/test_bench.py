"""Smoke test of the load benchmark (benchmarks/load.py): its definitions and pure functions.

No server is started: the scripts the customers play, the percentiles, the capacity
search on synthetic pass/fail answers, the arrivals, the baseline's configuration and
the report are checked on numbers made up here.
"""

from __future__ import annotations

import importlib.util
import random
import statistics
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_load", ROOT / "benchmarks" / "load.py")
load = importlib.util.module_from_spec(_spec)
sys.modules["bench_load"] = load
_spec.loader.exec_module(load)


# --- the scripts ------------------------------------------------------------------------


def test_the_scripts_cover_the_service_flows_the_issue_names():
    assert {"consultation", "appointment", "recommendation", "calculator"} <= set(load.SCRIPTS)
    for name, steps in load.SCRIPTS.items():
        assert 5 <= len(steps) <= 10, name
        assert steps[0].kind == "say", f"{name} must open with something typed"
        assert all(step.kind in ("say", "press", "ack") and step.text.strip() for step in steps), name


def test_the_recommendation_acknowledges_the_risk_disclosure_it_is_shown():
    steps = load.SCRIPTS["recommendation"]
    assert steps[-1] == load.Step("ack", "我已阅读并知晓风险")
    assert any(step.kind == "press" for step in steps[:-1])


def test_the_appointment_names_a_branch_a_time_and_a_business():
    texts = [step.text for step in load.SCRIPTS["appointment"]]
    assert "我要预约" in texts and "北京国贸支行" in texts and "下周二上午10点" in texts and "开户/办卡" in texts


def test_every_button_the_scripts_press_is_a_button_of_the_domain():
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    titles = {
        button["title"]
        for variants in domain["responses"].values()
        for variant in variants
        for button in variant.get("buttons") or []
    }
    for steps in load.SCRIPTS.values():
        for step in steps:
            if step.kind in ("press", "ack"):
                assert step.text in titles, step.text


def test_turn_counts_and_the_texts_the_nlu_load_parses():
    turns = load.script_turns()
    assert turns == {name: len(steps) for name, steps in load.SCRIPTS.items()}
    assert load.mean_turns() == pytest.approx(sum(turns.values()) / len(turns))
    texts = load.typed_texts()
    assert "存10万整存整取三年有多少利息" in texts and "首套房贷100万贷30年月供多少" in texts
    assert "开户/办卡" not in texts  # pressed, not typed


def test_a_button_is_found_by_its_title_then_by_the_start_of_it():
    reply = [
        {"text": "风险揭示 ..."},
        {
            "text": "...",
            "buttons": [
                {"title": "不了解了", "payload": "/deny"},
                {"title": "我已阅读并知晓风险", "payload": "/affirm"},
            ],
        },
    ]
    assert load.find_button(reply, "我已阅读并知晓风险")["payload"] == "/affirm"
    assert load.find_button(reply, "我已阅读")["payload"] == "/affirm"
    assert load.find_button(reply, "转人工客服") is None
    assert load.find_button([], "x") is None


def test_the_gateways_fallback_answer_is_recognised_and_the_bots_answers_are_not():
    marker = load.fallback_marker()
    assert marker and "{" not in marker
    assert load.is_fallback([{"text": marker + "400-000（全天）"}], marker)
    assert not load.is_fallback([{"text": "不客气，能帮到您很高兴！"}], marker)
    assert not load.is_fallback([{"image": "x"}], marker)


# --- figures ----------------------------------------------------------------------------


def test_percentiles_interpolate_between_ranks_like_numpy():
    values = list(range(1, 101))  # 1..100
    assert load.percentile(values, 50) == pytest.approx(50.5)
    assert load.percentile(values, 99) == pytest.approx(99.01)
    assert load.percentile(values, 100) == 100
    assert load.percentile(values, 0) == 1
    assert load.percentile([7.0], 99) == 7.0
    assert load.percentile([], 50) is None
    assert load.percentile([3, 1, 2], 50) == 2  # unsorted input


def test_a_summary_counts_turns_rates_and_errors():
    tally = load.Tally(latencies=[100.0] * 98 + [400.0, 900.0], conversations=20, empty=1)
    tally.errors["timeout"] += 2
    summary = load.summarize(tally, elapsed=10.0)
    assert summary["turns"] == 100 and summary["turns_per_s"] == 10.0
    assert summary["p50_ms"] == 100.0 and summary["max_ms"] == 900.0
    assert summary["errors"] == 2 and summary["error_kinds"] == {"timeout": 2}
    assert summary["empty_replies"] == 1


def test_the_service_level_needs_p99_within_the_limit_no_errors_and_a_whole_step():
    ok = {"turns": 100, "p99_ms": 299.0, "errors": 0, "aborted": False}
    assert load.meets_service_level(ok)
    assert not load.meets_service_level({**ok, "p99_ms": 301.0})
    assert not load.meets_service_level({**ok, "errors": 1})
    assert not load.meets_service_level({**ok, "aborted": True})
    assert not load.meets_service_level({**ok, "turns": 0, "p99_ms": None})


def test_a_step_is_cut_short_only_when_its_p99_can_no_longer_pass():
    assert load.slow_allowance(1000) == 22  # p99 allows 10 of 1000; Poisson counts vary
    assert load.slow_allowance(0) == 2


def test_poisson_arrivals_have_the_asked_rate_and_stay_in_the_window():
    rng = random.Random(7)
    offsets = load.poisson_offsets(5.0, 2000.0, rng)
    assert all(0 <= a < b < 2000.0 for a, b in zip(offsets, offsets[1:], strict=False))
    assert len(offsets) / 2000.0 == pytest.approx(5.0, rel=0.05)
    gaps = [b - a for a, b in zip(offsets, offsets[1:], strict=False)]
    assert statistics.mean(gaps) == pytest.approx(0.2, rel=0.05)
    assert statistics.stdev(gaps) == pytest.approx(0.2, rel=0.1)  # exponential: sd = mean
    assert load.poisson_offsets(0, 10, rng) == []


# --- the capacity search ----------------------------------------------------------------


def run_search(search, passes):
    while (rate := search.next_rate()) is not None:
        search.record(rate, passes(rate))
    return search


@pytest.mark.parametrize("true_capacity", [3.0, 7.5, 12.0, 40.0])
def test_the_search_brackets_the_capacity_within_its_tolerance(true_capacity):
    search = run_search(load.CapacitySearch(2.0, max_steps=12, tolerance=0.1), lambda r: r <= true_capacity)
    assert search.capacity <= true_capacity < search.capacity * 1.1 + 1e-9
    assert len(search.trials) <= 12


def test_the_search_steps_up_from_its_start_then_bisects():
    search = run_search(load.CapacitySearch(2.0, max_steps=12, tolerance=0.1), lambda r: r <= 7.5)
    rates = [r for r, _ in search.trials]
    assert rates[:3] == [2.0, 4.0, 8.0]  # up by two until a rate fails
    assert rates[3] == 6.0  # then halfway between the best pass and the first failure


def test_the_search_steps_down_when_the_first_rate_fails_and_gives_up_below_an_eighth():
    search = run_search(load.CapacitySearch(8.0, max_steps=12), lambda r: r <= 2.5)
    assert [r for r, _ in search.trials][:3] == [8.0, 4.0, 2.0]
    assert 2.0 <= search.capacity <= 2.5
    nothing = run_search(load.CapacitySearch(8.0, max_steps=12), lambda r: False)
    assert nothing.capacity == 0.0
    assert [r for r, _ in nothing.trials] == [8.0, 4.0, 2.0, 1.0]


def test_the_search_is_bounded_by_its_steps():
    search = run_search(load.CapacitySearch(1.0, max_steps=3), lambda r: True)
    assert [r for r, _ in search.trials] == [1.0, 2.0, 4.0] and search.capacity == 4.0


def test_a_noisy_pass_above_a_failure_does_not_raise_the_capacity():
    search = load.CapacitySearch(2.0)
    for rate, ok in [(2.0, True), (4.0, False), (3.0, True), (5.0, True)]:
        search.record(rate, ok)
    assert search.capacity == 3.0
    with pytest.raises(ValueError):
        load.CapacitySearch(0)


# --- memory, baseline, report -----------------------------------------------------------


def test_memory_figures_are_read_from_proc_status_text():
    status = "Name:\tpython\nVmPeak:\t 2000000 kB\nVmHWM:\t  900000 kB\nVmRSS:\t  812345 kB\nThreads:\t40\n"
    assert load.parse_status(status) == {"VmPeak": 2000000, "VmHWM": 900000, "VmRSS": 812345}
    mine = load.process_memory(__import__("os").getpid())
    assert mine["rss_mib"] > 0 and mine["peak_mib"] >= mine["rss_mib"] * 0.5


def test_the_baseline_is_rasa_inits_default_with_jieba_and_one_epoch():
    config = load.baseline_config()
    names = [c["name"] for c in config["pipeline"]]
    assert names == [
        "JiebaTokenizer",
        "RegexFeaturizer",
        "LexicalSyntacticFeaturizer",
        "CountVectorsFeaturizer",
        "CountVectorsFeaturizer",
        "DIETClassifier",
        "EntitySynonymMapper",
        "ResponseSelector",
        "FallbackClassifier",
    ]
    assert [p["name"] for p in config["policies"]] == [
        "MemoizationPolicy",
        "RulePolicy",
        "UnexpecTEDIntentPolicy",
        "TEDPolicy",
    ]
    epochs = {c["name"]: c["epochs"] for c in config["pipeline"] + config["policies"] if "epochs" in c}
    assert epochs == {"DIETClassifier": 1, "ResponseSelector": 1, "UnexpecTEDIntentPolicy": 1, "TEDPolicy": 1}
    assert config["language"] == "zh"
    assert load.BASELINE_CONFIG["pipeline"][5]["epochs"] == 100  # the default itself is left as Rasa has it


def test_the_baseline_cache_key_changes_with_the_data_and_the_config(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "domain.yml").write_text("version: '3.1'\n", encoding="utf-8")
    (tmp_path / "data" / "nlu.yml").write_text("nlu: []\n", encoding="utf-8")
    inputs = load.training_inputs(tmp_path)
    first = load.fingerprint(load.baseline_config(), inputs, tmp_path)
    assert first == load.fingerprint(load.baseline_config(), inputs, tmp_path)
    assert first != load.fingerprint(load.baseline_config(epochs=2), inputs, tmp_path)
    (tmp_path / "data" / "nlu.yml").write_text("nlu: [x]\n", encoding="utf-8")
    assert first != load.fingerprint(load.baseline_config(), inputs, tmp_path)


def fake_results(scale: float) -> dict:
    stage = {"turns": 100, "turns_per_s": 10 * scale, "p50_ms": 100 / scale, "p95_ms": 200 / scale}
    stage.update(p99_ms=300 / scale, errors=0)
    return {
        "single": dict(stage),
        "sweep": {str(c): dict(stage) for c in load.SWEEP_CUSTOMERS},
        "capacity": {"turns_per_s": 5 * scale, "trials": []},
        "memory": {"rasa": {"rss_mib": 800 / scale}, "actions": {"rss_mib": 80.0}},
        "nlu": {str(c): {"parses_per_s": 20 * scale, "p50_ms": 50 / scale} for c in load.NLU_CLIENTS},
        "stage_seconds": {"start": 10.0},
    }


def test_ratios_are_project_over_baseline_for_every_figure():
    ratios = load.compute_ratios(fake_results(2.0), fake_results(1.0))
    assert ratios["single.p99_ms"] == 0.5
    assert ratios["sweep.200.turns_per_s"] == 2.0
    assert ratios["capacity.turns_per_s"] == 2.0
    assert ratios["memory.rasa.rss_mib"] == 0.5 and ratios["memory.actions.rss_mib"] == 1.0
    assert ratios["nlu.10.parses_per_s"] == 2.0
    assert load.ratio(1.0, 0) is None and load.ratio(None, 1.0) is None


def fake_meta() -> dict:
    """The run's description as benchmarks/load.py writes it."""
    return {
        "date": "2026-12-03 08:00 UTC",
        "cpus": 2,
        "python": "3.10.13",
        "quick": False,
        "duration_s": 20.0,
        "request_timeout_s": 60.0,
        "scripts": load.script_turns(),
    }


def test_the_markdown_table_has_both_assistants_and_the_ratios():
    results = {
        "meta": {**fake_meta(), "wall_seconds": 1200.0},
        "assistants": {"project": fake_results(2.0), "baseline": fake_results(1.0)},
    }
    results["ratios"] = load.compute_ratios(results["assistants"]["project"], results["assistants"]["baseline"])
    markdown = load.render_markdown(results)
    header, rule, *rows = markdown.split("\n\n")[0].splitlines()
    assert header == "| figure | unit | project | baseline | project / baseline |"
    assert all(row.count("|") == header.count("|") for row in rows)
    assert "| 200 customers: throughput | turns/s | 20.0 | 10.0 | 2.00 |" in rows
    assert any(row.startswith("| capacity: p99 <= 300 ms") and row.endswith(" 2.00 |") for row in rows)
    assert "epochs: 1" in markdown
    project_only = load.render_markdown({**results, "assistants": {"project": fake_results(1.0)}, "ratios": None})
    assert project_only.splitlines()[0] == "| figure | unit | project |"


def test_a_capacity_no_rate_met_is_shown_as_below_the_lowest_rate_tried():
    trials = [{"offered_turns_per_s": r, "p99_ms": 400.0, "errors": 0, "passed": False} for r in (3.0, 1.5, 0.75)]
    assert load.capacity_figure({"turns_per_s": 0.0, "trials": trials}) == "< 0.75"
    assert load.capacity_figure({"turns_per_s": 7.03, "trials": trials}) == 7.03
    baseline = {**fake_results(1.0), "capacity": {"turns_per_s": 0.0, "trials": trials}}
    results = {
        "meta": fake_meta(),
        "assistants": {"project": fake_results(2.0), "baseline": baseline},
    }
    results["ratios"] = load.compute_ratios(results["assistants"]["project"], baseline)
    row = next(line for line in load.render_markdown(results).splitlines() if line.startswith("| capacity"))
    assert row.endswith("| 10.0 | < 0.75 | - |")
