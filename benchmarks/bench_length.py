"""Cost against sequence.length: the refeed sampler (re-run every prefix from a fresh state) was quadratic in the
length; it is now one checked pass (seqdiag.policy). This times both on the default model and prints the budget's
estimate of a whole `seqdiag compare` beside them.

    python benchmarks/bench_length.py   # prints a table, writes benchmarks/results/length.json

One torch thread. `quadratic` is the definition run literally (one fresh-state pass per step over the prefix);
`linear` is what seqdiag runs. They give the same picks (tests/test_policy.py checks it).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from seqdiag.budget import estimate
from seqdiag.config import load_config
from seqdiag.model import build_model
from seqdiag.policy import InputPolicy, unroll
from seqdiag.sequence import ToySequence

ROOT = Path(__file__).resolve().parent.parent
LENGTHS = (50, 100, 200, 400)


def _quadratic(model, x) -> float:
    started = time.perf_counter()
    policy, fed, previous = InputPolicy("free"), [], None
    for t in range(x.shape[2]):
        fed.append(policy.feed(t, x[:, :, t], previous))
        pick = model(torch.stack(fed, dim=2))[0][:, :, -1].argmax(-1)
        previous = torch.nn.functional.one_hot(pick, model.vocab_size).to(x.dtype)
    return time.perf_counter() - started


def _linear(model, x) -> float:
    started = time.perf_counter()
    unroll(model, x, InputPolicy("free"), carry_state=False)
    return time.perf_counter() - started


def main() -> None:
    torch.set_num_threads(1)
    rows = []
    print(f"{'length':>7} {'quadratic s':>12} {'linear s':>9} {'ratio':>7} {'compare estimate s':>19}")
    for length in LENGTHS:
        config = load_config(None, [f"sequence.length={length}"])
        sequence = ToySequence.from_config(config.sequence)
        model = build_model(len(sequence.vocabulary), config.model, [0])
        x = sequence.input_vectors()[None, None]
        with torch.no_grad():
            quadratic, linear = _quadratic(model, x), _linear(model, x)
        row = {
            "length": length,
            "quadratic_seconds": round(quadratic, 4),
            "linear_seconds": round(linear, 4),
            "estimate_compare_seconds": round(estimate(config).seconds, 1),
        }
        rows.append(row)
        ratio = quadratic / linear
        print(f"{length:>7} {quadratic:>12.3f} {linear:>9.3f} {ratio:>7.1f} {row['estimate_compare_seconds']:>19}")
    out = ROOT / "benchmarks" / "results" / "length.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"threads": 1, "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
