"""Seed-steps per second of the engines against a Python loop of nn.LSTM models, and sweeps end to end.

    python benchmarks/bench_engine.py            # prints tables, writes benchmarks/results/engine.json

A seed-step is one training step (forward over the whole sequence, backward, optimizer step) of one
model. For N = 1, 64, 256, 1024 seeds it times, on one torch thread and on the default 2015 setup
(T = 31, V = 3, E = H = 10, RMSprop):

- numba:    the numba engine's kernel (seqdiag.kernel via seqdiag.engine.KernelStack): the whole step
            compiled, on 1 thread and on 2 (the kernel's own threads; torch stays at 1);
- fused:    the torch engine's `SequenceModel` stacks: the recurrence in seqdiag.fused with its
            hand-written backward, everything else autograd;
- autograd: the same stack with the recurrence stepped through `advance` under autograd
            (`forward_stepwise`), the engine before the fused path;
- loop:     N separate models, one-hot -> nn.Linear -> nn.LSTM -> nn.Linear with their own RMSprop,
            trained one after another in a Python loop (what a user without a batched engine writes).

Each figure is steady-state throughput (best of a few timed repeats after warm-up); the warm-up (first
steps, allocation; for numba the kernels are loaded from the cache first) is reported apart. Then
`seqdiag sweep --seeds 1024 --set train.steps=500` is timed end to end in a subprocess: as typed (the numba
kernel on every CPU available, torch on 1), with --threads 1 and with --threads = the CPUs, and on the torch
engine; each is compared with the nn.LSTM loop (the eager loop a user would write). The machine
is often shared: the JSON records the load average before and after, so a slow figure can be told from a
busy machine; all ratios come from figures measured in this one run.
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
from seqdiag.device import available_cpus  # noqa: E402
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


def numba_step(n: int, threads: int = 1, chunk: int = 10):
    """`chunk` training steps of an N-model stack on the numba kernel (as `train` calls it), counted as one."""
    import numpy as np

    from seqdiag.engine import KernelStack, prepare_kernels

    prepare_kernels()
    config = Config()
    sequence = ToySequence.from_config(config.sequence)
    model = build_model(len(sequence.vocabulary), config.model, range(n))
    t = config.train
    stack = KernelStack(model, t.optimizer, t.lr, t.rho, t.eps, threads)
    inputs, targets = sequence.inputs.numpy(), sequence.targets.numpy()
    eps = np.ones(chunk)

    def step() -> None:
        stack.train(chunk, 0, eps, inputs, targets, None)

    return step


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


def measure(make, n: int, budget_s: float, per_call: int = 1) -> dict:
    """Warm-up (first 3 calls, including building the models) and steady-state seed-steps per second;
    `per_call`: training steps one call of the step function takes."""
    started = time.perf_counter()
    step = make(n)
    for _ in range(3):
        step()
    warmup = time.perf_counter() - started
    probe = _timed(step, 1, 1)
    steps = max(1, min(200, int(budget_s / 3 / max(probe, 1e-6))))
    per_step = _timed(step, steps, 3) / per_call
    return {
        "seed_steps_per_s": n / per_step,
        "ms_per_step": per_step * 1e3,
        "warmup_s": warmup,
        "steps_timed": steps * per_call,
    }


def time_sweep(seeds: int, steps: int | None = None, engine: str = "auto", threads: int | None = None) -> dict:
    """`seqdiag sweep` end to end in its own process (start-up, kernel load, training, snapshots, report);
    threads None: the command's default (torch 1, the numba kernel every CPU available)."""
    command = [sys.executable, "-m", "seqdiag", "sweep", "--seeds", str(seeds), "--json", "--engine", engine]
    command += ([] if threads is None else ["--threads", str(threads)]) + (
        ["--set", f"train.steps={steps}"] if steps else []
    )
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    data = json.loads(done.stdout)
    return {
        "command": " ".join(command[3:]),
        "engine": data["engine"],
        "threads": "default" if threads is None else threads,
        "wall_s": seconds,
        "sweep_reported_s": data["seconds"],
        "seed_steps_per_s_end_to_end": seeds * data["config"]["train"]["steps"] / seconds,
        "rates": {mode: [r["right_at_end"], r["seeds"]] for mode, r in data["rates"].items()},
    }


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return f"load average {os.getloadavg()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated N (default 1,64,256,1024)")
    parser.add_argument("--budget", type=float, default=4.0, help="seconds of timing per figure (default 4)")
    parser.add_argument("--autograd", action="store_true", help="also time the autograd stack (slow)")
    parser.add_argument("--sweep-seeds", type=int, default=1024, help="seeds for the end-to-end sweeps (0 skips them)")
    parser.add_argument("--sweep-steps", type=int, default=500, help="training steps of the end-to-end sweeps")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "engine.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    _keep_freed_memory()  # as `seqdiag sweep` does
    sizes = [int(s) for s in args.sizes.split(",")]
    load_before = os.getloadavg()
    uptime_before = _uptime()
    rows = []
    print(f"torch {torch.__version__}, torch on 1 thread, {platform.processor() or platform.machine()}")
    print(f"before: {uptime_before}")
    columns = ("N", "numba 1 thr", "numba 2 thr", "fused (torch)", "autograd", "nn.LSTM loop", "numba/loop", "warm-up")
    widths = (5, 12, 12, 14, 9, 13, 11, 8)
    header = " ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True))
    print("seed-steps per second (steady state)")
    print(header)
    print("-" * len(header))
    for n in sizes:
        numba1 = measure(lambda k: numba_step(k, 1), n, args.budget, per_call=10)
        numba2 = measure(lambda k: numba_step(k, 2), n, args.budget, per_call=10)
        fused = measure(stack_step, n, args.budget)
        stepwise = measure(lambda k: stack_step(k, stepwise=True), n, args.budget) if args.autograd else None
        loop = measure(loop_step, n, args.budget)
        ratio = max(numba1["seed_steps_per_s"], numba2["seed_steps_per_s"]) / loop["seed_steps_per_s"]
        rows.append(
            {
                "n": n,
                "numba_1_thread": numba1,
                "numba_2_threads": numba2,
                "fused": fused,
                "autograd_stack": stepwise,
                "nn_lstm_loop": loop,
                "ratio_numba_to_loop": ratio,
                "ratio_fused_to_loop": fused["seed_steps_per_s"] / loop["seed_steps_per_s"],
            }
        )
        autograd = f"{stepwise['seed_steps_per_s']:>9,.0f}" if stepwise else f"{'—':>9}"
        print(
            f"{n:>5} {numba1['seed_steps_per_s']:>12,.0f} {numba2['seed_steps_per_s']:>12,.0f} "
            f"{fused['seed_steps_per_s']:>14,.0f} {autograd} {loop['seed_steps_per_s']:>13,.0f} "
            f"{ratio:>10.1f}x {numba1['warmup_s']:>7.2f}s",
            flush=True,
        )
    eager = rows[-1]["nn_lstm_loop"]["seed_steps_per_s"]  # the loop's rate does not depend on N
    sweeps = []
    if args.sweep_seeds:
        print(f"\nseqdiag sweep --seeds {args.sweep_seeds} --set train.steps={args.sweep_steps}, end to end")
        print(f"{'engine':>8} {'threads':>12} {'wall s':>8} {'seed-steps/s':>13} {'x eager loop':>13}")
        cpus = available_cpus()
        runs: list[tuple[str, int | None]] = [("numba", None), ("numba", 1)]
        runs += [("numba", cpus)] if cpus > 1 else []
        runs += [("torch", 1)]
        for engine, threads in runs:
            sweep = time_sweep(args.sweep_seeds, args.sweep_steps, engine, threads)
            sweep["x_eager_loop"] = sweep["seed_steps_per_s_end_to_end"] / eager
            sweeps.append(sweep)
            shown = f"default ({cpus})" if threads is None else str(threads)
            print(
                f"{sweep['engine']:>8} {shown:>12} {sweep['wall_s']:>8.1f} "
                f"{sweep['seed_steps_per_s_end_to_end']:>13,.0f} {sweep['x_eager_loop']:>12.0f}x",
                flush=True,
            )
        times = sweeps[0]["x_eager_loop"]  # the command as a user types it
        verdict = "meets" if times >= 100 else "misses"
        print(f"target: sweep >= 100x the eager loop ({eager:,.0f} seed-steps/s): {verdict} ({times:.0f}x)")
    uptime_after = _uptime()
    print(f"after: {uptime_after}")
    result = {
        "benchmark": "engine",
        "engines": {
            "numba": "seqdiag.kernel through seqdiag.engine.KernelStack: forward, BPTT and RMSprop compiled (numba), "
            "models innermost in blocks of up to 128; 1 or 2 kernel threads, torch on 1",
            "fused": "seqdiag SequenceModel stack, recurrence in seqdiag.fused (hand-written BPTT, torch eager, "
            "no compile), project/readout/loss/RMSprop by autograd; glibc told to keep freed memory",
            "autograd_stack": "the same stack stepping SequenceModel.advance under autograd (forward_stepwise)",
            "nn_lstm_loop": "N separate one-hot->nn.Linear->nn.LSTM->nn.Linear models (sigmoid gates), "
            "each its own RMSprop, in a Python loop (the eager loop)",
        },
        "settings": {
            "torch_threads": torch.get_num_threads(),
            "model": "lstm hard_sigmoid, T=31 V=3 E=10 H=10 (nn.LSTM loop: sigmoid gates)",
            "optimizer": "rmsprop lr 1e-3 alpha 0.9 eps 1e-6",
            "policy": "teacher",
            "timing": f"best of 3 repeats, ~{args.budget:g} s per figure, after 3 warm-up calls",
        },
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "uptime_before": uptime_before,
        "uptime_after": uptime_after,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "results": rows,
        "eager_loop_seed_steps_per_s": eager,
        "sweeps": sweeps,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
