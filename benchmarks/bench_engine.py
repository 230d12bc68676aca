"""Seed-steps per second of the batched engine against a Python loop of nn.LSTM models, and a sweep end to end.

    python benchmarks/bench_engine.py            # prints a table, writes benchmarks/results/engine.json

A seed-step is one training step (forward over the whole sequence, backward, optimizer step) of one
model. For N = 1, 64, 256, 1024 seeds it times, on one torch thread and on the default 2015 setup
(T = 31, V = 3, E = H = 10, RMSprop):

- fused:    `SequenceModel` stacks (the engine `train` and `sweep` use): the recurrence in
            seqdiag.fused with its hand-written backward, everything else autograd;
- autograd: the same stack with the recurrence stepped through `advance` under autograd
            (`forward_stepwise`), the engine before the fused path;
- loop:     N separate models, one-hot -> nn.Linear -> nn.LSTM -> nn.Linear with their own RMSprop,
            trained one after another in a Python loop (what a user without a batched engine writes).

Each figure is steady-state throughput (best of a few timed repeats after warm-up); the warm-up (first
steps, allocation) is reported apart. There is no compile step. Then `seqdiag sweep --seeds 256` on the
default is timed end to end in a subprocess. The machine is often shared: the JSON records the load
average before and after, so a slow figure can be told from a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seqdiag.config import Config  # noqa: E402
from seqdiag.model import build_model  # noqa: E402
from seqdiag.policy import InputPolicy, unroll  # noqa: E402
from seqdiag.sequence import ToySequence  # noqa: E402
from seqdiag.sweep import _keep_freed_memory  # noqa: E402
from seqdiag.train import make_optimizer, per_model_loss  # noqa: E402

SIZES = (1, 64, 256, 1024)


def _timed(step, steps: int, repeats: int) -> float:
    """Best seconds per step over `repeats` runs of `steps` steps."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(steps):
            step()
        best = min(best, (time.perf_counter() - started) / steps)
    return best


def stack_step(n: int, stepwise: bool = False):
    """One training step of an N-model stack, exactly as `train` takes it (teacher forcing)."""
    config = Config()
    sequence = ToySequence.from_config(config.sequence)
    model = build_model(len(sequence.vocabulary), config.model, range(n))
    if stepwise:
        model.forward = model.forward_stepwise  # the autograd reference engine
    optimizer = make_optimizer(model.parameters(), config.train)
    inputs = sequence.input_vectors()[None, None].expand(n, 1, -1, -1)
    targets = sequence.targets
    policy = InputPolicy("teacher")

    def step() -> None:
        loss = per_model_loss(unroll(model, inputs, policy).logits, targets)
        bool(torch.isfinite(loss).all())
        optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()
        optimizer.step()
        loss.detach().tolist()

    return step


class LoopModel(nn.Module):
    """One-hot -> Linear(E) -> nn.LSTM(H) -> Linear(V): the same sizes, torch's own (sigmoid-gated) LSTM."""

    def __init__(self, v: int, e: int, h: int) -> None:
        super().__init__()
        self.embed = nn.Linear(v, e)
        self.lstm = nn.LSTM(e, h, batch_first=True)
        self.out = nn.Linear(h, v)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.lstm(self.embed(x))
        return self.out(hidden)


def loop_step(n: int):
    """One training step of N separate nn.LSTM models, one after another."""
    config = Config()
    sequence = ToySequence.from_config(config.sequence)
    v, e, h = len(sequence.vocabulary), config.model.embed_size, config.model.hidden_size
    models = []
    for seed in range(n):
        torch.manual_seed(seed)
        model = LoopModel(v, e, h)
        models.append((model, make_optimizer(model.parameters(), config.train)))
    x = sequence.input_vectors()[None]  # (1, T, V)
    targets = sequence.targets

    def step() -> None:
        for model, optimizer in models:
            loss = F.cross_entropy(model(x)[0], targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss.item()

    return step


def measure(make, n: int, budget_s: float) -> dict:
    """Warm-up (first 3 steps, including building the models) and steady-state seed-steps per second."""
    started = time.perf_counter()
    step = make(n)
    for _ in range(3):
        step()
    warmup = time.perf_counter() - started
    probe = _timed(step, 1, 1)
    steps = max(1, min(200, int(budget_s / 3 / max(probe, 1e-6))))
    per_step = _timed(step, steps, 3)
    return {"seed_steps_per_s": n / per_step, "ms_per_step": per_step * 1e3, "warmup_s": warmup, "steps_timed": steps}


def time_sweep(seeds: int) -> dict:
    command = [sys.executable, "-m", "seqdiag", "sweep", "--seeds", str(seeds), "--json"]
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    data = json.loads(done.stdout)
    return {
        "command": f"seqdiag sweep --seeds {seeds} (default config, 5000 steps, snapshots every 100)",
        "wall_s": seconds,
        "sweep_reported_s": data["seconds"],
        "seed_steps_per_s_end_to_end": seeds * data["config"]["train"]["steps"] / seconds,
        "rates": {mode: [r["right_at_end"], r["seeds"]] for mode, r in data["rates"].items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated N (default 1,64,256,1024)")
    parser.add_argument("--budget", type=float, default=4.0, help="seconds of timing per figure (default 4)")
    parser.add_argument("--sweep-seeds", type=int, default=256, help="seeds for the end-to-end sweep (0 skips it)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "engine.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    _keep_freed_memory()  # as `seqdiag sweep` does
    sizes = [int(s) for s in args.sizes.split(",")]
    load_before = os.getloadavg()
    rows = []
    print(
        f"torch {torch.__version__}, 1 thread, {platform.processor() or platform.machine()}, load {load_before[0]:.2f}"
    )
    columns = ("N", "fused seed-steps/s", "autograd stack", "nn.LSTM loop", "fused/loop", "warm-up")
    header = " ".join(f"{c:>{w}}" for c, w in zip(columns, (5, 19, 15, 13, 11, 8), strict=True))
    print(header)
    print("-" * len(header))
    for n in sizes:
        fused = measure(stack_step, n, args.budget)
        stepwise = measure(lambda k: stack_step(k, stepwise=True), n, args.budget)
        loop = measure(loop_step, n, args.budget)
        ratio = fused["seed_steps_per_s"] / loop["seed_steps_per_s"]
        rows.append(
            {"n": n, "fused": fused, "autograd_stack": stepwise, "nn_lstm_loop": loop, "ratio_fused_to_loop": ratio}
        )
        print(
            f"{n:>5} {fused['seed_steps_per_s']:>19,.0f} {stepwise['seed_steps_per_s']:>15,.0f} "
            f"{loop['seed_steps_per_s']:>13,.0f} {ratio:>10.1f}x {fused['warmup_s']:>7.2f}s",
            flush=True,
        )
    sweep = None
    if args.sweep_seeds:
        sweep = time_sweep(args.sweep_seeds)
        print(
            f"seqdiag sweep --seeds {args.sweep_seeds}: {sweep['wall_s']:.1f} s end to end "
            f"({sweep['seed_steps_per_s_end_to_end']:,.0f} seed-steps/s including snapshots and start-up)"
        )
    result = {
        "benchmark": "engine",
        "engines": {
            "fused": "seqdiag SequenceModel stack, recurrence in seqdiag.fused (hand-written BPTT, torch eager, "
            "no compile), project/readout/loss/RMSprop by autograd; glibc told to keep freed memory",
            "autograd_stack": "the same stack stepping SequenceModel.advance under autograd (forward_stepwise)",
            "nn_lstm_loop": "N separate one-hot->nn.Linear->nn.LSTM->nn.Linear models (sigmoid gates), "
            "each its own RMSprop, in a Python loop",
        },
        "settings": {
            "threads": torch.get_num_threads(),
            "model": "lstm hard_sigmoid, T=31 V=3 E=10 H=10 (nn.LSTM loop: sigmoid gates)",
            "optimizer": "rmsprop lr 1e-3 alpha 0.9 eps 1e-6",
            "policy": "teacher",
            "timing": f"best of 3 repeats, ~{args.budget:g} s per figure, after 3 warm-up steps",
            "compile": None,
        },
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "results": rows,
        "sweep": sweep,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
