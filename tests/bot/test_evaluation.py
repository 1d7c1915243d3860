"""`make eval` compares figures only when they were taken on the same training data."""

from __future__ import annotations

import json

from bot.evaluation import data_fingerprint, report, stored_results


def _figures(accuracy: float) -> dict:
    return {
        "real_accuracy": accuracy,
        "real_macro_f1": 0.5,
        "real_fallbacks": 0,
        "train_seconds": 10.0,
        "parse_ms": 5.0,
        "confusions": [],
    }


def test_a_stored_baseline_is_reused_only_on_the_same_data(tmp_path, capsys):
    data = tmp_path / "nlu"
    data.mkdir()
    (data / "a.yml").write_text("nlu: []\n", encoding="utf-8")
    before = data_fingerprint(data)
    out = tmp_path / "eval.json"
    out.write_text(json.dumps({"baseline": {**_figures(0.4), "data": before}}), encoding="utf-8")

    kept = stored_results(out, before, skip={"project"})
    assert kept["baseline"]["stored"] and kept["baseline"]["real_accuracy"] == 0.4
    assert stored_results(out, before, skip={"baseline"}) == {}

    report({"project": _figures(0.8), **kept}, {"real": 10}, k=0)
    printed = capsys.readouterr().out
    assert "baseline*" in printed and "kept from an earlier run" in printed and "x2.00" in printed

    (data / "a.yml").write_text("nlu: [changed]\n", encoding="utf-8")
    assert data_fingerprint(data) != before
    assert stored_results(out, data_fingerprint(data), skip={"project"}) == {}
    assert stored_results(tmp_path / "missing.json", before, skip=set()) == {}


def test_each_own_validation_set_gets_its_columns_and_says_where_it_comes_from(capsys):
    figures = {**_figures(0.7), "validation_accuracy": 0.9, "nick_accuracy": 0.25, "nick_macro_f1": 0.125}
    report({"project": figures}, {"validation": 600, "nick": 120}, k=5)
    printed = capsys.readouterr().out
    assert "nick acc" in printed and "0.250" in printed and "0.125" in printed
    assert "qa acc" not in printed  # a set that was not measured gets no column
    assert "120 posts naming products by nicknames" in printed and "nickname_questions.tsv" in printed
    assert "real = not parsed in this run" in printed


def test_parsing_for_the_evaluation_prints_no_question(capsys):
    """The real questions are reported as counts: Rasa's debug log of each parse (with its text)
    must not reach the output of `make eval`."""
    import structlog

    from bot.train import quiet_rasa_logs

    before = structlog.get_config()
    try:
        structlog.reset_defaults()  # as in a fresh process, where structlog prints every level
        structlog.get_logger().debug("processor.message.parse", parse_data_text="一个真实问题的原文")
        assert "一个真实问题的原文" in capsys.readouterr().out  # the leak this guards against
        quiet_rasa_logs()
        structlog.get_logger().debug("processor.message.parse", parse_data_text="一个真实问题的原文")
        captured = capsys.readouterr()
        assert "一个真实问题的原文" not in captured.out + captured.err
    finally:
        structlog.configure(**before)
