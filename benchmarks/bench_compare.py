"""`seqdiag compare` on the default against the bare torch loop a user would write for the same job.

    python benchmarks/bench_compare.py   # prints the times and the ratio, writes benchmarks/results/compare.json

Both run end to end in a fresh Python process on one torch thread: the bare loop is the 2015 model
written directly with torch (one-hot -> Linear(10) -> hard_sigmoid-gated LSTM(10) -> Linear(3), RMSprop
lr 1e-3 alpha 0.9 eps 1e-6, 5000 steps, autograd through a per-step loop), and `python -m seqdiag compare
--json` trains the same model and then does everything compare does (snapshots of every procedure every 100
steps, the diagnosis and its probes). Ratio = compare / bare; the target is <= 1.15, the floor <= 1.3.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
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


def _run(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="runs of each; the best counts (default 2)")
    parser.add_argument("--steps", type=int, default=5000, help="training steps of both (default 5000)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "compare.json")
    args = parser.parse_args()
    bare_cmd = [sys.executable, "-c", BARE_LOOP.replace("STEPS", str(args.steps))]
    compare_cmd = [sys.executable, "-m", "seqdiag", "compare", "--json", "--set", f"train.steps={args.steps}"]
    load_before = os.getloadavg()
    bare, compare = [], []
    for _ in range(args.repeats):  # interleaved, so a burst of load hits both alike
        bare.append(_run(bare_cmd))
        compare.append(_run(compare_cmd))
    ratio = min(compare) / min(bare)
    verdict = "meets the target (<= 1.15)" if ratio <= 1.15 else "within the floor (<= 1.3)" if ratio <= 1.3 else "over"
    print(f"bare torch loop ({args.steps} steps, end to end): {min(bare):6.2f} s   (runs: {_fmt(bare)})")
    print(f"seqdiag compare --json (end to end):      {min(compare):6.2f} s   (runs: {_fmt(compare)})")
    print(f"ratio compare / bare: {ratio:.2f}  {verdict}")
    import torch

    result = {
        "benchmark": "compare",
        "bare_loop": {"command": "python -c BARE_LOOP (see benchmarks/bench_compare.py)", "runs_s": bare},
        "seqdiag_compare": {"command": " ".join(compare_cmd[1:]), "runs_s": compare},
        "ratio_best": ratio,
        "target": 1.15,
        "floor": 1.3,
        "steps": args.steps,
        "threads": 1,
        "engine": "seqdiag fused recurrence (hand-written BPTT, eager) vs autograd through a per-step loop",
        "torch": torch.__version__,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main()
