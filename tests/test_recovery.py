"""Error injection on hand-wired models whose answer is known: a lookup continues, a clock resyncs."""

import pytest
import torch
from test_probes import _wired

from seqdiag.config import SequenceConfig
from seqdiag.policy import unroll
from seqdiag.recovery import (
    InjectedPolicy,
    back_after,
    every_sequence_json,
    inject_and_recover,
    injection_steps,
    recover_every_sequence,
    recovery_table,
    recovery_totals_table,
)
from seqdiag.sequence import ToySequence


def test_back_after_counts_steps_until_the_suffix_matches():
    assert back_after([1, 2, 3], [1, 2, 3]) == 0
    assert back_after([9, 2, 3], [1, 2, 3]) == 1
    assert back_after([9, 9, 3], [1, 2, 3]) == 2
    assert back_after([1, 2, 9], [1, 2, 3]) is None  # wrong at the end: never back for good
    assert back_after([9, 9, 3], [1, 2, 3], min_run=2) is None  # one matching step is not a period
    assert back_after([9, 2, 3], [1, 2, 3], min_run=2) == 1
    assert back_after([3], [3], min_run=3) == 0  # a run as long as what is left is enough


def test_injection_steps_are_clipped_to_the_pattern():
    assert injection_steps((3, 10, 20), 8) == [3, 7]
    assert injection_steps((0, 3, 3), 30) == [1, 3]


def test_injected_policy_feeds_the_forced_symbol_only_where_forced():
    model, seq = _wired("lookup")
    true = seq.inputs.clone().repeat(2, 1)
    true[1, 4] = 0  # the true input at step 4 is '1' (index 1); force '0'
    forced = torch.zeros(2, seq.steps, dtype=torch.bool)
    forced[1, 4] = True
    vectors = seq.vocabulary.one_hot(true)[None]
    with torch.no_grad():
        fed = unroll(model, vectors, InjectedPolicy("free", forced=forced)).inputs[0].argmax(-1)  # (B, T)
    assert fed[1, 4] == 0
    assert torch.equal(fed[0, :4], fed[1, :4])  # identical before the injection
    assert fed[0, 4] == 1  # the baseline fed its own (right) prediction


def test_a_pure_lookup_continues_from_the_error_at_once_and_never_resyncs():
    model, seq = _wired("lookup")
    recovery = inject_and_recover(model, seq, (3, 10, 20))
    assert [i.step for i in recovery.injections] == [3, 10, 20]
    for injection in recovery.injections:
        assert injection.fed != injection.replaced
        assert injection.continues_after == 0
        assert injection.resyncs_after is None
    assert recovery.continued == 3 and recovery.resynced == 0


def test_a_pure_clock_resyncs_at_once_and_never_continues_from_the_error():
    model, seq = _wired("clock")
    recovery = inject_and_recover(model, seq, (3, 10, 20))
    assert recovery.baseline_output.startswith("0101")
    for injection in recovery.injections:
        assert injection.resyncs_after == 0
        assert injection.continues_after is None


@pytest.mark.parametrize("pattern", ["001", "0011"])
def test_longer_patterns_accept_any_phase_of_the_injected_symbol(pattern):
    seq = ToySequence.from_config(SequenceConfig(pattern=pattern, length=12))
    model, _ = _wired("clock")  # vocabulary size 3 matches: 0, 1, S
    recovery = inject_and_recover(model, seq, (5,))
    (injection,) = recovery.injections
    assert injection.step == 5 and injection.fed != injection.replaced


def test_trained_model_recovery_is_measured(trained_tiny):
    recovery = inject_and_recover(trained_tiny.model, trained_tiny.sequence)
    assert [i.step for i in recovery.injections] == [3, 7]  # 10 and 20 clip to the last pattern step
    assert recovery.baseline_first_divergence is None  # the tiny model is fully right free-running


def test_recovery_table_has_a_column_per_injection_and_a_row_per_model():
    lookup = inject_and_recover(*_wired("lookup"), (3, 10))
    clock = inject_and_recover(*_wired("clock"), (3, 10))
    spec = recovery_table([("trained lookup", lookup), ("trained clock", clock)])
    assert spec is not None
    assert [c.header for c in spec.columns][:2] == ["model", "no injection"]
    assert [c.header.split(":")[0] for c in spec.columns][2:] == ["step 3", "step 10"]
    lookup_row, clock_row = spec.plain()
    assert lookup_row[2:] == ["cont. after 0, back never"] * 2
    assert clock_row[2:] == ["cont. never, back after 0"] * 2
    assert recovery_table([("m", inject_and_recover(*_wired("lookup"), ()))]) is None  # nothing injected


def test_every_sequence_is_injected_at_the_steps_inside_it_and_counted():
    model, long = _wired("lookup")
    short = ToySequence.from_config(SequenceConfig(length=6))  # pattern steps 0..5: step 10 is past it
    recoveries = recover_every_sequence(model, [long, short], (3, 10))
    assert [[i.step for i in r.injections] for r in recoveries] == [[3, 10], [3]]  # 10 left out, not moved to 5
    spec = recovery_totals_table([("trained lookup", recoveries)], [3, 10])
    assert spec is not None and "in each of 2 sequences" in spec.title
    # A lookup on the previous symbol never emits the end symbol, so free-running is never all right.
    assert spec.plain() == [["trained lookup", "0/2 all right", "cont. 2/2, back 0/2", "cont. 1/1, back 0/1"]]
    assert every_sequence_json(recoveries)[1]["sequence"] == 1
    assert recovery_totals_table([("m", recoveries)], []) is None
