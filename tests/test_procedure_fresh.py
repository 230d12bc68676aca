"""fresh: free-running with a fresh state every step (a common bug), added as one module of seqdiag/procedures/."""

import torch

from seqdiag import procedures
from seqdiag.sampling import run_procedure, sample


def test_fresh_is_registered_as_a_column_of_its_own():
    assert procedures.get("fresh").state == "fresh" and "fresh" in procedures.COLUMNS


def test_fresh_feeds_its_own_predictions_and_forgets_the_state(trained_tiny):
    model, seq = trained_tiny.model, trained_tiny.sequence
    trace = sample(model, seq, "fresh")
    for prev, cur in zip(trace.steps, trace.steps[1:], strict=False):
        assert cur.input == prev.predicted
    # Each step is a single step from the zero state: the same input gives the same prediction at any step.
    by_input: dict[str | None, set[str]] = {}
    for s in trace.steps:
        by_input.setdefault(s.input, set()).add(s.predicted)
    assert all(len(predictions) == 1 for predictions in by_input.values())
    rollout = run_procedure(model, seq, "fresh")
    x = rollout.inputs[:, :, 3]  # (N, B, V)
    logits, _ = model.step(x, model.initial_state(1))
    assert torch.allclose(rollout.logits[:, :, 3], logits)


def test_fresh_cannot_keep_the_position_that_the_end_symbol_needs(trained_tiny):
    """The tiny model gets the pattern and the end symbol right free-running; without its state it cannot count."""
    model, seq = trained_tiny.model, trained_tiny.sequence
    assert sample(model, seq, "free").accuracy == 1.0
    assert sample(model, seq, "fresh").accuracy < 1.0
