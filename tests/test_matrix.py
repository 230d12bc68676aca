"""The policy matrix: one model per training policy, every sampling procedure, and the fed inputs."""

import pytest
import torch

from seqdiag import procedures
from seqdiag.config import load_config
from seqdiag.matrix import build_matrix, policy_config
from seqdiag.model import build_model
from seqdiag.policy import unroll
from seqdiag.sequence import ToySequence
from seqdiag.train import set_seed, train, training_policy


def _fed(config, step=0):
    """What the trainer feeds at `step`: the inputs of `unroll` under the training policy, as symbol indices."""
    seq = ToySequence.from_config(config.sequence)
    set_seed(config.seed)
    model = build_model(len(seq.vocabulary), config.model, [config.seed])
    x = seq.input_vectors()[None, None]
    coins = torch.Generator().manual_seed(config.seed)
    rollout = unroll(model, x, training_policy(config.train, step), generator=coins)
    return seq, rollout


@pytest.mark.parametrize("policy", ["teacher", "free", "zeros", "scheduled"])
def test_each_training_policy_changes_what_training_feeds(tiny_config, policy):
    config = policy_config(tiny_config, policy)
    seq, rollout = _fed(config, step=10_000)  # late: scheduled sampling's epsilon is at its floor
    fed = rollout.inputs[0, 0]  # (T, V)
    true = seq.input_vectors()
    assert torch.equal(fed[0], true[0])  # every policy starts from the start symbol
    if policy == "teacher":
        assert torch.equal(fed, true)
    elif policy == "zeros":
        assert fed[1:].abs().sum() == 0
    else:  # free, and scheduled at epsilon 0: the model's own previous predictions
        predicted = torch.nn.functional.one_hot(rollout.predicted[0, 0, :-1], len(seq.vocabulary)).float()
        assert torch.equal(fed[1:], predicted)
        assert not torch.equal(fed, true)  # an untrained model's predictions are not the pattern


def test_scheduled_feeds_the_true_symbol_early_and_predictions_late(tiny_config):
    config = policy_config(tiny_config, "scheduled")
    seq, early = _fed(config, step=0)
    assert training_policy(config.train, 0).epsilon > 0.99
    assert torch.equal(early.inputs[0, 0], seq.input_vectors())


@pytest.mark.parametrize(("schedule", "k"), [("linear", 100.0), ("exponential", 30.0), ("inverse_sigmoid", 10.0)])
def test_the_trainer_follows_each_schedule(tiny_config, schedule, k):
    from seqdiag.policy import scheduled_epsilon

    config = load_config(None, [f"train.schedule={schedule}", f"train.schedule_k={k}", "train.policy=scheduled"])
    eps = [training_policy(config.train, s).epsilon for s in (0, 50, 200)]
    assert eps == [scheduled_epsilon(schedule, k, 0.0, s) for s in (0, 50, 200)]
    assert eps[0] >= eps[1] >= eps[2]


def test_matrix_trains_one_model_per_policy_with_the_same_seed(tiny_config):
    results = {p: train(policy_config(tiny_config, p)) for p in ("teacher", "zeros")}
    matrix = build_matrix(results)
    assert len(matrix.cells) == 2 * len(procedures.COLUMNS)
    assert {(c.train, c.sample) for c in matrix.cells if c.diagonal} == {("teacher", "teacher"), ("zeros", "zeros")}
    teacher = matrix.cell("teacher", "teacher")
    assert teacher.correct == teacher.targets == 9  # the tiny model converges, end symbol included
    assert matrix.cell("zeros", "zeros").end_symbol is None  # the zeros procedure never reaches it
    assert matrix.row("zeros").recovery.injections
    assert matrix.row("teacher").reliance.steps == 8
    # Its own table: a row per training policy, the diagonal marked `*`, and its own JSON.
    spec = matrix.table()
    assert [c.header for c in spec.columns] == ["train", *procedures.COLUMNS, "final loss"]
    rows = {r[0]: r for r in spec.plain()}
    assert rows["teacher"][1] == "9/9 end ✓ · none *"
    assert rows["zeros"][1 + procedures.COLUMNS.index("zeros")].endswith(" *")
    assert not rows["zeros"][1].endswith("*")
    data = matrix.to_json()
    assert len(data["matrix"]) == len(matrix.cells)
    assert [p["train"] for p in data["matrix_policies"]] == ["teacher", "zeros"]
