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
