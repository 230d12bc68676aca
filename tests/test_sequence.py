import torch

from seqdiag.config import SequenceConfig
from seqdiag.sequence import ToySequence, Vocabulary


def test_vocabulary_is_sorted_and_stable():
    v = Vocabulary.from_config(SequenceConfig(pattern="10", start_symbol="S"))
    assert v.symbols == ("0", "1", "S")
    v2 = Vocabulary.from_config(SequenceConfig(pattern="ba", start_symbol="#"))
    assert v2.symbols == ("#", "a", "b")


def test_inputs_and_targets_follow_the_2015_layout():
    s = ToySequence.from_config(SequenceConfig())
    v = s.vocabulary
    assert s.steps == 31
    assert v.decode(s.inputs) == "S" + "01" * 15
    assert s.target_text() == "01" * 15 + "S"
    # targets are the inputs shifted by one, with the end symbol last
    assert torch.equal(s.targets[:-1], s.inputs[1:])


def test_pattern_is_cut_to_length():
    s = ToySequence.from_config(SequenceConfig(pattern="001", length=7))
    assert s.target_text() == "0010010S"


def test_input_vectors_are_one_hot():
    s = ToySequence.from_config(SequenceConfig(length=4))
    x = s.input_vectors()
    assert x.shape == (5, 3)
    assert torch.equal(x.sum(-1), torch.ones(5))
    assert int(x[0].argmax()) == s.start_index
