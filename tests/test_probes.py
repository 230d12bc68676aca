import torch

from seqdiag.config import Config, ModelConfig
from seqdiag.model import SequenceModel
from seqdiag.probes import hidden_drift, input_novelty, input_reliance, input_reliance_over, reliance_table
from seqdiag.sequence import ToySequence


def test_novelty_counts_zero_vectors_as_unseen():
    train = torch.eye(3)
    fed = torch.stack([torch.eye(3)[2], torch.zeros(3), torch.zeros(3), torch.eye(3)[0]])
    n = input_novelty(train, fed)
    assert (n.fed, n.unseen, n.zero_vectors, n.unseen_steps) == (4, 2, 2, [1, 2])
    assert n.nearest_distance == 1.0


def test_hidden_drift_finds_first_step_beyond_tolerance():
    ref = [[0.0, 0.0]] * 4
    other = [[0.0, 0.0], [0.1, 0.0], [0.3, 0.0], [1.0, 0.0]]
    d = hidden_drift(ref, other, tolerance=0.25)
    assert d.left_at == 2
    assert d.distances[3] == 1.0


def _wired(kind: str) -> tuple[SequenceModel, ToySequence]:
    """A hand-wired RNN: 'lookup' predicts from the input alone, 'clock' from the state alone."""
    seq = ToySequence.from_config(Config().sequence)  # vocabulary 0, 1, S
    model = SequenceModel(3, ModelConfig(cell="rnn", embed_size=3, hidden_size=3), seeds=[0])
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.embed_weight[0] = torch.eye(3)
        if kind == "lookup":
            # hidden = tanh(5 * one-hot input); next symbol: after 0 -> 1, after 1 -> 0, after S -> 0
            model.cell_weight_ih[0] = 5 * torch.eye(3)
            model.out_weight[0] = torch.tensor([[0.0, 1, 0], [1, 0, 0], [1, 0, 0]]) * 5
        else:
            # no input weights: from the zero state, unit 0 flips sign every step, a period-2 clock
            model.cell_bias[0] = torch.tensor([1.0, 0.0, 0.0])
            model.cell_weight_hh[0] = torch.tensor([[-5.0, 0, 0], [0, 0, 0], [0, 0, 0]])
            model.out_weight[0] = torch.tensor([[5.0, -5, 0], [0, 0, 0], [0, 0, 0]])
    return model, seq


def test_reliance_of_a_pure_lookup_model():
    model, seq = _wired("lookup")
    r = input_reliance(model, seq)
    assert r.changed_by_state_reset == 0  # the state carries nothing
    assert r.changed_by_other_symbol > 0.9 * r.other_symbol_trials * 0.5  # most swaps change the output
    assert r.changed_by_zero_input > 0


def test_reliance_of_a_pure_clock_model():
    model, seq = _wired("clock")
    r = input_reliance(model, seq)
    assert r.changed_by_other_symbol == 0 and r.changed_by_zero_input == 0
    assert r.changed_by_state_reset > 0  # everything lives in the state


def test_reliance_over_several_sequences_sums_the_counts():
    model, seq = _wired("lookup")
    one = input_reliance(model, seq)
    both = input_reliance_over(model, [seq, seq])
    assert both.sequences == 2 and one.sequences == 1
    assert (both.steps, both.other_symbol_trials) == (2 * one.steps, 2 * one.other_symbol_trials)
    assert both.changed_by_other_symbol == 2 * one.changed_by_other_symbol
    assert both.other_symbol_share == one.other_symbol_share
    assert "sequences" not in one.to_json() and both.to_json()["sequences"] == 2


def test_reliance_table_has_one_row_per_model():
    lookup, clock = input_reliance(*_wired("lookup")), input_reliance(*_wired("clock"))
    spec = reliance_table([("trained lookup", lookup), ("trained clock", clock)])
    assert [h.header for h in spec.columns] == ["model", "other symbol", "zero vector", "state reset"]
    rows = spec.plain()
    assert rows[0][0] == "trained lookup" and rows[0][3] == f"0/{lookup.steps} (0%)"
    assert rows[1][1] == f"0/{clock.other_symbol_trials} (0%)"
    assert "summed over" not in (spec.caption or "")
    model, seq = _wired("lookup")
    summed = reliance_table([("m", input_reliance_over(model, [seq, seq]))])
    assert "summed over all 2 sequences" in (summed.caption or "")
