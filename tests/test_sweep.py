"""Sweeps: the Wilson interval, per-procedure rates from histories, and a tiny batched sweep end to end."""

from __future__ import annotations

import json

import pytest

from seqdiag.config import Config, TrainConfig
from seqdiag.history import Snapshot
from seqdiag.procedures import NAMES as PROCEDURES
from seqdiag.sweep import procedure_rates, run_sweep, wilson_interval


@pytest.mark.parametrize(
    ("successes", "trials", "lo", "hi"),
    [
        # Newcombe (1998), Statistics in Medicine 17:857, Table I, method 3 (Wilson score, no correction).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
        (5, 10, 0.2366, 0.7634),
    ],
)
def test_wilson_interval_matches_published_values(successes, trials, lo, hi):
    got = wilson_interval(successes, trials)
    assert got == pytest.approx((lo, hi), abs=5e-5)


def test_wilson_interval_at_the_ends_and_symmetry():
    assert wilson_interval(0, 64)[0] == 0.0
    assert wilson_interval(64, 64)[1] == 1.0
    lo, hi = wilson_interval(3, 17)
    mirror = wilson_interval(14, 17)
    assert (lo, hi) == pytest.approx((1 - mirror[1], 1 - mirror[0]))


@pytest.mark.parametrize(("successes", "trials"), [(1, 0), (-1, 5), (6, 5)])
def test_wilson_interval_rejects_impossible_counts(successes, trials):
    with pytest.raises(ValueError):
        wilson_interval(successes, trials)


def _history(outputs: list[str]) -> list[Snapshot]:
    return [
        Snapshot(step=100 * i, loss=0.0, outputs={m: o for m in PROCEDURES}, accuracy={m: 0.0 for m in PROCEDURES})
        for i, o in enumerate(outputs)
    ]


def test_procedure_rates_from_histories():
    targets = "0101S"
    histories = [
        _history(["1111S", "0101S", "0101S", "0101S", "0101S"]),  # right from 100, no late changes
        _history(["1111S", "1111S", "0101S", "0111S", "0101S"]),  # right at the end from 400, flips late
        _history(["1111S", "0101S", "0101S", "0101S", "0011S"]),  # wrong at the end, diverges at 1
        _history(["1111S", "1111S", "1111S", "0101S", "0101S"]),  # right from 300
    ]
    rates = procedure_rates(histories, "free", targets)
    assert rates.right_at_end == 3
    assert rates.seeds == 4
    assert rates.share == 0.75
    assert rates.ci95 == wilson_interval(3, 4)
    assert rates.stable_from_median == 300  # median_low of 100, 400, 300
    assert rates.first_divergence == {1: 1, None: 3}
    # history_stats' second half of 5 checkpoints: the changes after checkpoint 1: 0, 3, 1, 1 -> mean 1.25
    assert rates.changes_second_half == 1.25
    data = rates.to_json()
    assert data["first_divergence"] == {"1": 1, "never": 3}
    assert data["ci95"] == list(wilson_interval(3, 4))


def test_procedure_rates_when_no_seed_ends_right():
    rates = procedure_rates([_history(["11S", "00S"])], "zeros", "01S")
    assert rates.right_at_end == 0
    assert rates.stable_from_median is None
    assert rates.ci95[0] == 0.0


def _tiny(steps: int = 40) -> Config:
    return Config(seed=7, train=TrainConfig(steps=steps, snapshot_every=10))


def test_run_sweep_one_policy_json_shape():
    result = run_sweep(_tiny(), 5)
    assert result.seeds == [7, 8, 9, 10, 11]
    data = json.loads(json.dumps(result.to_json(), allow_nan=False))
    assert data["command"] == "sweep"
    assert data["seeds"] == 5
    assert "policies" not in data
    assert set(data["rates"]) == set(PROCEDURES)
    for rate in data["rates"].values():
        assert set(rate) >= {"right_at_end", "seeds", "share", "ci95", "stable_from_median", "changes_second_half"}
        assert rate["seeds"] == 5
        assert 0 <= rate["ci95"][0] <= rate["share"] <= rate["ci95"][1] <= 1
        assert sum(rate["first_divergence"].values()) == 5


def test_run_sweep_several_policies_gives_the_matrix():
    result = run_sweep(_tiny(20), 3, train_policies=["teacher", "zeros", "teacher"])
    assert list(result.policies) == ["teacher", "zeros"]
    data = result.to_json()
    assert set(data["policies"]) == {"teacher", "zeros"}
    assert data["rates"] == data["policies"]["teacher"]["rates"]
    assert result.rates is result.policies["teacher"].rates


def test_a_one_seed_sweep_is_the_single_run():
    """The sweep's numbers for one seed are those of `train`'s own history for that seed."""
    from seqdiag.train import train

    config = _tiny(30)
    sweep = run_sweep(config, 1)
    alone = train(config)
    targets = alone.sequence.target_text()
    for mode in PROCEDURES:
        assert sweep.rates[mode] == procedure_rates([alone.history], mode, targets)


def test_run_sweep_rejects_no_seeds():
    with pytest.raises(ValueError):
        run_sweep(_tiny(), 0)


def test_the_interval_bar_says_which_side_of_one_half_the_interval_lies():
    from seqdiag.sweep import interval_bar

    above, below, across = interval_bar(0.9, 0.6, 1.0, 10), interval_bar(0.1, 0.0, 0.4, 10), interval_bar(0.5, 0.2, 0.8)
    assert (above.style, below.style, across.style) == ("good", "bad", "warn")
    assert above.plain == "······───●" and across.plain.count("●") == 1 and len(across.plain) == 20


def test_the_sweep_matrix_has_no_column_for_a_consistency_check():
    from seqdiag import procedures
    from seqdiag.sweep import rate_columns

    checks = {p.name for p in procedures.REGISTRY.values() if p.same_as is not None}
    names = rate_columns({name: None for name in procedures.NAMES})  # type: ignore[misc]
    assert checks and not checks & set(names) and set(names) | checks == set(procedures.NAMES)
