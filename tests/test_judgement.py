"""Judgement, defined once: right, the pattern vs the end symbol, the first divergence, with a prompt and joined."""

import torch

from seqdiag import judgement as j


def test_first_divergence_judges_the_pattern_apart_when_asked():
    targets = "0101S"
    assert j.first_divergence("0101S", targets) is None
    assert j.first_divergence("0101", targets) == 4  # missing the end symbol's step
    assert j.first_divergence("0101", targets, pattern_only=True) is None  # zeros never reaches the end symbol
    assert j.first_divergence("0101x", targets, pattern_only=True) is None  # the end symbol is judged apart
    assert j.first_divergence("0111S", targets, pattern_only=True) == 2
    assert j.first_divergence("01", targets, pattern_only=True) == 2


def test_a_prompt_is_given_not_judged():
    targets = "Ada^"
    assert j.first_divergence("Eda^", targets, prompt=1) is None  # step 0 predicts the given first letter
    assert j.first_divergence("Eda^", targets) == 0
    assert j.correct("Eda^", targets, prompt=1) == 3 and j.judged_targets(targets, prompt=1) == 3
    assert j.pattern_right("Exa^", targets, prompt=1) is False


def test_end_symbol_is_none_when_never_reached():
    assert j.end_symbol("010", "0101S") is None
    assert j.end_symbol("0101S", "0101S") is True
    assert j.end_symbol("01010", "0101S") is False


def test_joined_outputs_are_judged_sequence_by_sequence():
    targets = j.join(["ab^", "cd^"])
    assert j.all_patterns_right(j.join(["ab^", "cdx"]), targets)  # only an end symbol wrong
    assert not j.all_patterns_right(j.join(["ab^", "ce^"]), targets)
    assert not j.all_ends_right(j.join(["ab^", "cdx"]), targets)
    assert j.share_right(j.join(["ab^", "ce^"]), targets) == 5 / 6
    assert j.share_right(j.join(["xb^", "ce^"]), targets, prompt=1) == 3 / 4
    assert j.first_divergence_pattern(j.join(["ab^", "ce^"]), targets) == 1


def test_batched_first_divergence_agrees_with_the_one_at_a_time_one():
    g = torch.Generator().manual_seed(0)
    targets = torch.randint(0, 3, (9,), generator=g)
    predicted = torch.where(torch.rand(64, 9, generator=g) < 0.9, targets, torch.randint(0, 3, (64, 9), generator=g))
    for prompt in (0, 2):
        for steps in (9, 8):  # a procedure that stops one short is missing the last target
            rows = predicted[:, :steps]
            batch = j.first_divergence_batch(rows, targets, prompt).tolist()
            one = [j.first_divergence(r.tolist(), targets.tolist(), prompt) for r in rows]
            assert batch == [-1 if d is None else d for d in one]
            assert j.correct_batch(rows, targets, prompt).tolist() == [
                j.correct(r.tolist(), targets.tolist(), prompt) for r in rows
            ]
