"""Counting and stability: end-symbol step, learning curves, loss spikes and optimizer denominators."""

import dataclasses

import pytest
import torch

from seqdiag import procedures
from seqdiag.history import Snapshot
from seqdiag.report import build_compare
from seqdiag.stability import learning_curve, loss_spikes, stability


def test_loss_spikes_after_near_convergence_are_found_and_merged():
    losses = [1.0] * 10 + [0.1] * 100
    losses[80] = 0.3
    losses[82] = 0.25  # same event as step 80
    losses[100] = 0.2
    near, spikes, over = loss_spikes(losses)
    assert near == 10
    assert [s.step for s in spikes] == [80, 100]
    assert over == 3
    assert spikes[0].ratio == pytest.approx(3.0)


def test_no_spikes_before_convergence_or_in_noise():
    assert loss_spikes([1.0] * 100) == (None, [], 0)
    _, spikes, _ = loss_spikes([1.0] + [0.01 + 0.004 * (i % 2) for i in range(200)])
    assert spikes == []  # 40% wiggles of a tiny loss are below the absolute threshold


def test_learning_curve_splits_pattern_from_end_symbol():
    targets = "0101S"
    history = [
        Snapshot(0, 1.0, {"teacher": "00000"}, {}),
        Snapshot(10, 0.5, {"teacher": "01010"}, {}),
        Snapshot(20, 0.2, {"teacher": "0101S"}, {}),
        Snapshot(30, 0.2, {"teacher": "01010"}, {}),
        Snapshot(40, 0.1, {"teacher": "0101S"}, {}),
    ]
    curve = learning_curve(history, "teacher", targets)
    assert (curve.pattern_first_right, curve.pattern_stable_from) == (10, 10)
    assert (curve.end_first_right, curve.end_stable_from, curve.end_right) == (20, 40, 2)


def test_stability_of_the_trained_tiny_model(trained_tiny):
    report = build_compare(trained_tiny, "test")
    s = stability(
        report.traces, trained_tiny.history, trained_tiny.losses[0], trained_tiny.optimizer_state, "adam", 0.05, 1e-8
    )
    assert s.end_step["teacher"] == s.target_step == 8
    assert s.end_step["zeros"] != s.target_step  # it never reaches the end symbol's step
    assert s.denominator_median is not None and s.denominator_median > 0
    args = (trained_tiny.history, trained_tiny.losses[0], trained_tiny.optimizer_state, "adam", 0.05)
    assert stability(report.traces, *args, eps=1e9).below_eps_share == 1.0  # every root is below a huge eps
    assert stability(report.traces, *args, eps=0.0).below_eps_share == 0.0  # and none below zero
    assert {c.mode for c in s.curves} == set(procedures.COLUMNS)  # refeed is a check of free, not a column


def test_denominators_are_absent_for_sgd(trained_tiny):
    report = build_compare(trained_tiny, "test")
    s = stability(
        report.traces, trained_tiny.history, [], {"state": {0: {"momentum_buffer": torch.ones(2)}}}, "sgd", 0.1, 1e-8
    )
    assert s.denominator_median is None and s.spikes == []


def test_counting_table_has_a_row_per_procedure(trained_tiny):
    report = build_compare(trained_tiny, "test")
    st = report.stability
    spec = st.table()
    rows = {r[0]: r for r in spec.plain()}
    assert set(rows) == set(st.end_step)
    assert rows["teacher"][1] == f"step {st.end_step['teacher']}"
    assert f"end symbol due at step {st.target_step}" in (spec.caption or "")
    assert st.to_json()["spikes"] == [{**dataclasses.asdict(x), "ratio": round(x.ratio, 4)} for x in st.spikes]
