"""Estimates before a run starts: memory refused against what is available, long runs warned, costs linear."""

from __future__ import annotations

import pytest

from seqdiag.budget import check_budget, estimate
from seqdiag.config import load_config
from seqdiag.errors import SeqdiagError


def test_cost_grows_linearly_with_the_sequence_length():
    short, long = (estimate(load_config(None, [f"sequence.length={n}"])) for n in (1000, 2000))
    base = estimate(load_config(None, ["sequence.length=1"]))
    assert long.seconds / short.seconds < 2.1  # twice the length, about twice the time (not four times)
    assert (long.bytes - base.bytes) / (short.bytes - base.bytes) < 2.1


def test_memory_beyond_what_is_available_is_refused_with_the_estimate():
    config = load_config(None, [])
    with pytest.raises(
        SeqdiagError, match=r"1,000,000 seeds of .* needs about .* of memory \(estimate\), but 1\.0 GiB"
    ):
        check_budget(config, 1_000_000, memory=2**30)
    assert check_budget(config, 64, memory=2**34) == []  # the default sweep fits


def test_a_long_run_warns_with_its_estimate():
    warnings = check_budget(load_config(None, ["sequence.length=10000"]), memory=2**34)
    assert len(warnings) == 1 and "will take about" in warnings[0] and "sequence.length = 10000" in warnings[0]
    assert check_budget(load_config(None, []), memory=2**34) == []  # the default runs in seconds: no warning


def test_the_estimate_covers_a_real_run():
    """The default run (measured ~11 s on one thread) is estimated within a factor of a few, not off by 10x."""
    seconds = estimate(load_config(None, [])).seconds
    assert 3 < seconds < 40
