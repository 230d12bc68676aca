"""A claim test for every finding id: over a grid of small runs (seeds, presets, training policies, optimizers,
short and long training, an interrupted run, a numerically failed one, the policy matrix and rollouts), every
sentence a finding prints is true of that run's measurements, and every finding whose condition holds fires.

The grid is trained once per session (`claim_grid`); the checks are in `finding_claims.check`. The rows of the
audit that need the full 5000-step setup are the slow grid in test_finding_claims_slow.py.
"""

from __future__ import annotations

import collections

import pytest
from conftest import TINY
from finding_claims import check

from seqdiag.config import load_config
from seqdiag.errors import RunFailure
from seqdiag.findings import finding_ids
from seqdiag.matrix import build_matrix
from seqdiag.policy import Decoding
from seqdiag.report import build_compare
from seqdiag.train import train


def _train(overrides: list[str], stop_after: int | None = None, preset: str | None = None):
    config = load_config(preset, overrides)
    counter = iter(range(10**9))
    should_stop = None if stop_after is None else (lambda: next(counter) >= stop_after)
    try:
        return train(config, should_stop=should_stop)
    except RunFailure as exc:  # the last good state, as `train` saves it marked stopped
        assert exc.partial is not None
        return exc.partial


GRID: dict[str, list[str]] = {
    "tiny seed 0": [*TINY],
    "tiny seed 1": [*TINY, "seed=1"],
    "tiny seed 2": [*TINY, "seed=2"],
    "tiny policy zeros": [*TINY, "train.policy=zeros", "train.steps=300"],
    "tiny policy free": [*TINY, "train.policy=free"],
    "tiny policy scheduled": [*TINY, "train.policy=scheduled", "train.schedule_k=30"],
    "tiny sgd lr 1e-3": [*TINY, "train.optimizer=sgd", "train.lr=0.001"],
    "tiny sgd lr 1e9": [*TINY, "train.optimizer=sgd", "train.lr=1e9", "train.steps=60"],
    "tiny 30 steps": [*TINY, "train.steps=30", "train.snapshot_every=5"],
    "tiny 600 steps": [*TINY, "train.steps=600", "train.snapshot_every=50"],
    "tiny hard_sigmoid rmsprop": [*TINY, "model.gate=hard_sigmoid", "train.optimizer=rmsprop", "train.lr=0.01"],
    "tiny pairs": [*TINY, "sequence.pattern=0011", "train.steps=300"],
    "tiny rnn": [*TINY, "model.cell=rnn", "seed=3"],
    "default model 200 steps": ["train.steps=200", "train.snapshot_every=20"],
}


@pytest.fixture(scope="session")
def claim_grid():
    runs = {}
    for label, overrides in GRID.items():
        runs[label] = build_compare(_train(overrides), label)
    # Two rows of the audit, shortened: a zeros-trained 2015 model, and pairs (the state carries the pattern).
    runs["default zeros-trained 300 steps"] = build_compare(_train(["train.policy=zeros", "train.steps=300"]), "z")
    runs["pairs 300 steps"] = build_compare(_train(["train.steps=300"], preset="pairs"), "pairs")
    early = _train([*TINY, "train.steps=40", "train.snapshot_every=10"])
    early.config = early.config.replace(sample=early.config.sample.__class__(temperature=3.0, top_k=0))
    runs["tiny 40 steps sampled at T=3"] = build_compare(early, "sampled", Decoding(3.0, 0))
    interrupted = _train(TINY, stop_after=60)
    runs["tiny interrupted at 60"] = build_compare(interrupted, "interrupted")
    # The depth measurements only --train / --rollouts / --inject take.
    base = _train(TINY)
    results = {"teacher": base, "zeros": _train([*TINY, "train.policy=zeros"])}
    matrix = build_matrix(results, [2, 5])
    sampled = base.config.replace(sample=base.config.sample.__class__(temperature=1.5, top_k=0))
    base.config = sampled
    runs["tiny matrix + rollouts at T=1.5"] = build_compare(
        base, "depth", Decoding(1.5, 0), rollouts_n=16, inject_at=[2, 5], matrix=matrix
    )
    return runs


def test_every_finding_says_only_what_its_run_measured(claim_grid):
    fired = collections.Counter()
    for label, report in claim_grid.items():
        try:
            fired.update(check(report))
        except AssertionError as exc:
            raise AssertionError(f"{label}: {exc}") from exc
    print("\nfired per finding id over", len(claim_grid), "runs:", dict(sorted(fired.items())))


def test_the_grid_makes_every_finding_fire_somewhere_and_not_everywhere(claim_grid):
    fired = collections.Counter(f.id for r in claim_grid.values() for f in r.verdict.findings)
    assert set(fired) == set(finding_ids()), set(finding_ids()) - set(fired)


def test_zeros_trained_model_is_not_told_its_inputs_were_unseen(claim_grid):
    report = claim_grid["tiny policy zeros"]
    assert "zeros-unseen-inputs" not in {f.id for f in report.verdict.findings}
    assert "the zeros sampler, fed what training fed" in report.verdict.headline


def test_a_diverged_run_is_never_called_converged(claim_grid):
    for label in ("tiny sgd lr 1e-3", "tiny sgd lr 1e9"):
        report = claim_grid[label]
        ids = {f.id for f in report.verdict.findings}
        assert "training-converged" not in ids and "training-nearly-converged" not in ids, label
        assert "training-not-converged" in ids


def test_an_interrupted_run_says_so(claim_grid):
    report = claim_grid["tiny interrupted at 60"]
    assert report.verdict.headline.startswith("Training was interrupted after 60 of 150 steps")
    assert report.verdict.findings[0].id == "training-incomplete"
