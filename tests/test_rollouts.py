"""Stochastic rollouts: N rollouts in one batch, summarised as distributions."""

from seqdiag.policy import Decoding
from seqdiag.rollouts import rollout_stats


def test_argmax_rollouts_are_all_the_same(trained_tiny):
    stats, rollout = rollout_stats(trained_tiny.model, trained_tiny.sequence, Decoding(), 5)
    assert rollout.predicted.shape[:2] == (1, 5)  # one batch of 5, not a loop
    assert stats.distinct_outputs == 1 and stats.all_right == 5
    assert stats.divergence_quartiles is None


def test_hot_sampling_spreads_the_first_divergence(trained_tiny):
    stats, rollout = rollout_stats(trained_tiny.model, trained_tiny.sequence, Decoding(temperature=5.0), 64, seed=1)
    assert stats.rollouts == 64
    assert stats.all_right < 64 and stats.distinct_outputs > 1
    assert sum(count for _, _, count in stats.divergence_histogram) == 64 - stats.all_right
    targets = trained_tiny.sequence.targets
    per_rollout = (rollout.predicted[0] == targets).float().mean(1)  # (B,)
    assert stats.accuracy_mean == round(float(per_rollout.mean()), 4)
    assert stats.accuracy_min == round(float(per_rollout.min()), 4)


def test_rollouts_table_is_the_first_divergence_histogram(trained_tiny):
    stats, _ = rollout_stats(trained_tiny.model, trained_tiny.sequence, Decoding(temperature=5.0), 64, seed=1)
    spec = stats.table()
    rows = spec.plain()
    assert [r[0] for r in rows] == [f"{lo}–{hi}" for lo, hi, _ in stats.divergence_histogram] + ["never"]
    assert sum(int(r[1]) for r in rows) == stats.rollouts
    assert spec.title.startswith("64 free rollouts at temperature 5")
    assert stats.to_json()["rollouts"] == 64
