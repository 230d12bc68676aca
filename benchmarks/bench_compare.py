"""`seqdiag compare` on the default, on each engine, against the bare torch loops a user would write for the same job.

    python benchmarks/bench_compare.py   # prints a table, writes benchmarks/results/compare.json
    python benchmarks/bench_compare.py --cell gru   # compare on a GRU model (compare-gru.json)

Everything runs end to end in a fresh Python process on one torch thread, in one run, interleaved:

- bare nn.LSTM loop: one-hot -> Linear(10) -> nn.LSTM(10) (torch's native kernel, sigmoid gates) -> Linear(3),
  RMSprop lr 1e-3 alpha 0.9 eps 1e-6, 5000 steps: the reference of the targets;
- bare hard_sigmoid loop: the 2015 model written directly with torch, autograd through a per-step loop;
- `seqdiag compare --json --engine torch` (today's engine) and `--engine numba` with the kernel cache warm:
  training, snapshots of every procedure every 100 steps, the diagnosis and its probes;
- cold: with an empty kernel cache (SEQDIAG_CACHE_DIR pointed at a new folder), `--engine auto`, which
  compiles the kernels first (a labelled step) and then computes with numba, as every later run does; the
  compile alone and a later load of the cached kernels are timed apart.

Targets: warm numba compare <= 0.5x the bare nn.LSTM loop; the cold first run no slower than the torch engine's
(today's) in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The bare loop, as plain script-level code (no seqdiag): what the comparison is against.
BARE_LOOP = """
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.manual_seed(0)
# vocabulary '0', '1', 'S' -> 0, 1, 2; inputs S 0 1 0 1 ..., targets 0 1 0 1 ... S
inputs = [2] + [t % 2 for t in range(30)]
targets = torch.tensor([t % 2 for t in range(30)] + [2])
x = F.one_hot(torch.tensor(inputs), 3).float()  # (31, 3)
embed = torch.nn.Linear(3, 10)
w_ih = torch.nn.Linear(10, 40)
w_hh = torch.nn.Linear(10, 40, bias=False)
out = torch.nn.Linear(10, 3)
params = [*embed.parameters(), *w_ih.parameters(), *w_hh.parameters(), *out.parameters()]
opt = torch.optim.RMSprop(params, lr=1e-3, alpha=0.9, eps=1e-6)


def hard_sigmoid(z):
    return torch.clamp(0.2 * z + 0.5, 0.0, 1.0)


for step in range(STEPS):
    pre = w_ih(embed(x))  # (31, 40)
    h = torch.zeros(1, 10)
    c = torch.zeros(1, 10)
    hs = []
    for t in range(31):
        z = pre[t : t + 1] + w_hh(h)
        i, f, o = hard_sigmoid(z[:, :30]).chunk(3, dim=1)
        g = torch.tanh(z[:, 30:])
        c = f * c + i * g
        h = o * torch.tanh(c)
        hs.append(h)
    loss = F.cross_entropy(out(torch.cat(hs)), targets)
    opt.zero_grad()
    loss.backward()
    opt.step()
print(float(loss))
"""


LSTM_LOOP = """
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.manual_seed(0)
inputs = [2] + [t % 2 for t in range(30)]
targets = torch.tensor([t % 2 for t in range(30)] + [2])
x = F.one_hot(torch.tensor(inputs), 3).float()[None]  # (1, 31, 3)
embed = torch.nn.Linear(3, 10)
lstm = torch.nn.LSTM(10, 10, batch_first=True)
out = torch.nn.Linear(10, 3)
params = [*embed.parameters(), *lstm.parameters(), *out.parameters()]
opt = torch.optim.RMSprop(params, lr=1e-3, alpha=0.9, eps=1e-6)
for step in range(STEPS):
    hidden, _ = lstm(embed(x))
    loss = F.cross_entropy(out(hidden[0]), targets)
    opt.zero_grad()
    loss.backward()
    opt.step()
print(float(loss))
"""

WAIT_FOR_KERNELS = "from seqdiag.engine import prepare_kernels; prepare_kernels(cell=CELL)"


def _run(command: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return seconds


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return f"load average {os.getloadavg()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="runs of each warm command; the best counts")
    parser.add_argument("--steps", type=int, default=5000, help="training steps of every run (default 5000)")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-cache runs")
    parser.add_argument("--cold-only", action="store_true", help="only the torch engine and the cold-cache runs")
    parser.add_argument("--cell", default="lstm", choices=("lstm", "gru", "rnn"), help="model.cell of the compares")
    parser.add_argument("--out", type=Path, help="JSON file (default benchmarks/results/compare[-CELL].json)")
    args = parser.parse_args()
    if args.out is None:
        name = "compare.json" if args.cell == "lstm" else f"compare-{args.cell}.json"
        args.out = ROOT / "benchmarks" / "results" / name
    py = sys.executable
    wait_for_kernels = WAIT_FOR_KERNELS.replace("CELL", repr(args.cell))
    compare = [py, "-m", "seqdiag", "compare", "--json", "--set", f"train.steps={args.steps}"]
    compare += ["--set", f"model.cell={args.cell}"] if args.cell != "lstm" else []
    commands = {
        "bare nn.LSTM loop": [py, "-c", LSTM_LOOP.replace("STEPS", str(args.steps))],
        "bare hard_sigmoid loop": [py, "-c", BARE_LOOP.replace("STEPS", str(args.steps))],
        "compare --engine torch": [*compare, "--engine", "torch"],
        "compare --engine numba (warm)": [*compare, "--engine", "numba"],
    }
    if args.cold_only:
        commands = {"compare --engine torch": commands["compare --engine torch"]}
    _run([py, "-c", wait_for_kernels])  # the warm runs find the kernels in the user cache
    uptime_before = _uptime()
    print(f"before: {uptime_before}")
    runs: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.repeats):  # interleaved, so a burst of load hits every command alike
        for name, command in commands.items():
            runs[name].append(_run(command))
    cold: dict[str, float] = {}
    if not args.no_cold:
        with tempfile.TemporaryDirectory() as auto_cache, tempfile.TemporaryDirectory() as compile_cache:
            env = {"SEQDIAG_CACHE_DIR": auto_cache}
            cold["compare (cold cache: auto compiles first, then numba)"] = _run(compare, env)
            cold["  then loading the cached kernels, in a new process"] = _run([py, "-c", wait_for_kernels], env)
            compile_env = {"SEQDIAG_CACHE_DIR": compile_cache}
            cold["  the one-time compile alone, in a new process"] = _run([py, "-c", wait_for_kernels], compile_env)
    uptime_after = _uptime()
    best = {name: min(values) for name, values in runs.items()}
    reference = best.get("bare nn.LSTM loop", float("nan"))
    print(f"{'command (end to end, ' + str(args.steps) + ' steps)':<68} {'best s':>7} {'x nn.LSTM':>10}  runs")
    for name, values in runs.items():
        print(f"{name:<68} {best[name]:>7.2f} {best[name] / reference:>9.2f}x  {_fmt(values)}")
    for name, seconds in cold.items():
        print(f"{name:<68} {seconds:>7.2f} {seconds / reference:>9.2f}x")
    warm_ratio = best.get("compare --engine numba (warm)", float("nan")) / reference
    print(f"target: warm numba compare <= 0.5x the bare nn.LSTM loop: {warm_ratio:.2f}x")
    if cold:
        cold_auto = next(iter(cold.values()))
        today = best["compare --engine torch"]
        print(
            f"target: cold first run no slower than the torch engine: {cold_auto:.2f} s vs {today:.2f} s "
            f"({cold_auto / today:.2f}x)"
        )
    print(f"after: {uptime_after}")
    import torch

    result = {
        "benchmark": "compare",
        "steps": args.steps,
        "cell": args.cell,
        "torch_threads": 1,
        "runs_s": runs,
        "best_s": best,
        "cold_s": cold,
        "ratio_to_nn_lstm_loop": {name: value / reference for name, value in best.items()},
        "target_warm_numba_ratio": 0.5,
        "warm_numba_ratio": warm_ratio,
        "cold_ratio_to_torch_engine": (next(iter(cold.values())) / best["compare --engine torch"]) if cold else None,
        "commands": {name: " ".join(c[1:3]) if "-c" in c else " ".join(c[1:]) for name, c in commands.items()},
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "uptime_before": uptime_before,
        "uptime_after": uptime_after,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main()
