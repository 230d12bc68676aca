import pytest
import torch

from seqdiag import procedures
from seqdiag.config import Config, ModelConfig
from seqdiag.model import SequenceModel
from seqdiag.policy import Decoding
from seqdiag.sampling import sample, sample_all
from seqdiag.sequence import ToySequence


@pytest.fixture
def untrained():
    seq = ToySequence.from_config(Config().sequence)
    return SequenceModel(len(seq.vocabulary), ModelConfig(), seeds=[0]), seq


def test_zeros_feeds_zero_vectors_and_emits_one_output_per_pattern_symbol(untrained):
    model, seq = untrained
    trace = sample(model, seq, "zeros")
    assert len(trace.steps) == 30
    assert trace.steps[0].input == "S"
    assert all(s.input is None for s in trace.steps[1:])
    assert trace.end_symbol is None  # it never reaches the end symbol's step
    assert trace.first_divergence is not None


def test_free_equals_refeed_step_for_step(trained_tiny, untrained):
    for model, seq in (untrained, (trained_tiny.model, trained_tiny.sequence)):
        free, refeed = sample(model, seq, "free"), sample(model, seq, "refeed")
        assert [s.predicted for s in free.steps] == [s.predicted for s in refeed.steps]
        assert [s.input for s in free.steps] == [s.input for s in refeed.steps]
        for a, b in zip(free.steps, refeed.steps, strict=True):
            assert a.p_target == pytest.approx(b.p_target, abs=1e-5)


def test_free_feeds_its_own_predictions(untrained):
    model, seq = untrained
    trace = sample(model, seq, "free")
    assert trace.steps[0].input == "S"
    for prev, cur in zip(trace.steps, trace.steps[1:], strict=False):
        assert cur.input == prev.predicted


def test_teacher_forced_is_right_on_a_trained_model(trained_tiny):
    traces = sample_all(trained_tiny.model, trained_tiny.sequence)
    teacher = traces["teacher"]
    assert [s.input for s in teacher.steps] == list("S" + teacher.targets[:-1])
    assert teacher.accuracy == 1.0
    assert teacher.first_divergence is None
    assert traces["free"].output == teacher.output


def test_trace_fields_are_probabilities(untrained):
    model, seq = untrained
    for name in procedures.NAMES:
        trace = sample(model, seq, name)
        for s in trace.steps:
            assert 0 <= s.p_target <= 1 and 0 <= s.p_predicted <= 1
            # argmax decoding: the predicted symbol is the most likely one, so no target is likelier
            assert s.p_predicted >= s.p_target - 1e-6
            if s.correct:
                assert s.p_predicted == s.p_target
            assert 0 <= s.entropy <= torch.log(torch.tensor(3.0)) + 1e-5
            assert len(s.hidden) == 10


def test_temperature_sampling_is_seeded(trained_tiny):
    m, s = trained_tiny.model, trained_tiny.sequence
    a = sample(m, s, "free", Decoding(temperature=5.0), torch.Generator().manual_seed(1)).output
    b = sample(m, s, "free", Decoding(temperature=5.0), torch.Generator().manual_seed(1)).output
    assert a == b


def test_unknown_procedure_is_refused_listing_the_registry(untrained):
    model, seq = untrained
    with pytest.raises(ValueError, match="unknown procedure 'beam'; valid: " + ", ".join(procedures.NAMES)):
        sample(model, seq, "beam")
