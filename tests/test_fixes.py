"""`compare --test-fixes`: each proposed change is retrained and measured exactly as a plain run measures it."""

from __future__ import annotations

import pytest
from conftest import TINY
from test_schema import _json_of, _set, _validate

from seqdiag.fixes import describe_tested, measure_fixes, outcome
from seqdiag.report import build_compare

SGD_TINY = [*TINY, "train.optimizer=sgd", "train.lr=0.001"]


def _tested_findings(data):
    return [f for f in data["findings"] if f["tested"] is not None]


def _check_after_equals_plain_runs(runner, overrides, fixes_data):
    tested = _tested_findings(fixes_data)
    assert tested, "no finding proposed a change"
    for f in tested:
        assert f["tested"]["before"] == fixes_data["summary"]
        assert f["tested"]["set"] == f["proposes"]
        assert f"(tested: it {f['tested']['outcome']}, see below" in f["help"] and "untested" not in f["help"]
        assert f["tested"]["outcome"] == outcome(f["tested"]["before"], f["tested"]["after"], tuple(f["aims"]))
        plain = _json_of(runner, ["compare", *_set([*overrides, *f["tested"]["set"]])])
        assert f["tested"]["after"] == plain["summary"], f["id"]
    for f in fixes_data["findings"]:  # every proposal was tested
        assert (f["tested"] is not None) == bool(f["proposes"])


def test_fixes_of_an_unconverged_sgd_run_are_measured_as_plain_runs(runner):
    data = _json_of(runner, ["compare", "--test-fixes", *_set(SGD_TINY)])
    _validate(data)
    assert "training-not-converged" in {f["id"] for f in data["findings"]}
    _check_after_equals_plain_runs(runner, SGD_TINY, data)


def test_summary_counts_right_targets_spikes_and_lost_steps(runner):
    data = _json_of(runner, ["compare", *_set(TINY)])
    summary = data["summary"]
    assert summary["right"] == {m: sum(s["correct"] for s in t["steps"]) for m, t in data["modes"].items()}
    assert summary["targets"] == len(data["modes"]["teacher"]["targets"])
    assert summary["late_spikes"] == len(data["stability"]["spikes"])
    assert summary["teacher_flips"] == len(data["stability"]["teacher_flips"])


def test_each_distinct_change_is_trained_once_and_shown_before_and_after(trained_tiny):
    report = build_compare(trained_tiny, "test")
    proposing = [f for f in report.verdict.findings if f.proposes]
    calls = []

    def fake_measure(config, changes):
        calls.append(config)
        return {"right": {"teacher": 1}, "targets": 9, "late_spikes": 4, "teacher_flips": 2}

    fixed = measure_fixes(report, fake_measure)
    assert len(calls) == len({tuple(f.proposes) for f in proposing})
    for f in fixed.verdict.findings:
        if f.proposes:
            assert f.tested["after"]["late_spikes"] == 4 and f.tested["before"] == report.summary()
            line = describe_tested(f.tested)
            assert f"late loss spikes {report.summary()['late_spikes']}→4" in line
        else:
            assert f.tested is None


@pytest.mark.slow
@pytest.mark.parametrize(
    "overrides",
    [[], ["train.optimizer=sgd", "train.lr=1e9", "train.steps=300"]],
    ids=["default", "sgd-lr1e9-300"],
)
def test_fixes_on_the_audited_runs_equal_plain_reruns(runner, overrides):
    data = _json_of(runner, ["compare", "--test-fixes", *_set(overrides)])
    _validate(data)
    if overrides:
        ids = {f["id"] for f in data["findings"]}
        assert "training-converged" not in ids and "training-nearly-converged" not in ids
        headline = data["headline"]
        assert "not converged" in headline or "converged" not in headline, headline
    _check_after_equals_plain_runs(runner, overrides, data)


def _summary(teacher: int, zeros: int, spikes: int = 0, flips: int = 0) -> dict:
    return {"right": {"teacher": teacher, "zeros": zeros}, "targets": 31, "late_spikes": spikes, "teacher_flips": flips}


@pytest.mark.parametrize(
    ("after", "aims", "expected"),
    [
        (_summary(31, 15), ("right.teacher",), "helped"),
        (_summary(31, 10), ("right.teacher",), "mixed"),
        (_summary(30, 30), ("right.teacher",), "did not help"),  # zeros right by chance is not what was aimed at
        (_summary(30, 12), ("right.zeros",), "made it worse"),
        (_summary(30, 15, spikes=0), ("late_spikes",), "did not help"),
        (_summary(30, 15, spikes=0), (), "did not help"),
        (None, (), "failed"),
    ],
)
def test_a_tested_change_is_judged_by_what_it_aims_at_and_what_it_costs(after, aims, expected):
    assert outcome(_summary(30, 15), after, aims) == expected


def test_a_change_that_did_not_help_is_never_recommended(trained_tiny):
    report = build_compare(trained_tiny, "test")
    worse = dict(report.summary(), right={m: 0 for m in report.summary()["right"]})
    fixed = measure_fixes(report, lambda config, changes: worse)
    tested = [f for f in fixed.verdict.findings if f.tested is not None]
    for f in tested:
        assert f.tested["outcome"] in ("made it worse", "did not help")
        assert f.help.endswith("see below; not advised)") and "it helped" not in f.help
