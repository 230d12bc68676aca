"""Many seeds at once: outcome rates per sampling procedure, with intervals, from one batched training.

One run says what happened; many seeds say whether it was luck. `run_sweep` trains N models (seeds
seed .. seed + N - 1) as one stack with `train(config, seeds=...)`, once per training policy, and reads the
outcome of every procedure from each model's snapshot history:

- right at the end: the pattern (every target but the end symbol, as `history.is_right` judges it) is
  right at the last snapshot; counted over seeds, with a 95% Wilson score interval on the share;
- stable from: the first snapshot step from which the pattern stays right to the end (median over the
  seeds that end right; None when none does);
- changes in the second half: how often the output changed between snapshots in the second half of
  training (mean over seeds), the "occasionally it alternates, then reverts" symptom;
- first divergence: at the end, the first step whose prediction is wrong (a distribution over seeds).
"""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from seqdiag import judgement, procedures
from seqdiag.config import Config
from seqdiag.errors import ConfigError
from seqdiag.history import Snapshot, history_stats
from seqdiag.table import Cell, CellValue, Column, Row, TableSpec, steps_after, styled

# Two-sided 95%: the standard normal quantile 0.975.
Z95 = 1.959963984540054


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial share (Wilson 1927).

    Written out rather than taken from scipy/statsmodels: it is five lines, and a heavy dependency for
    them would slow the CLI's start. Unlike the normal (Wald) interval it stays inside [0, 1] and is not
    degenerate at 0 or N successes, which is exactly where sweeps land (e.g. 0 of 64 right).

    Raises:
        ValueError: trials < 1 or successes outside [0, trials].
    """
    if trials < 1 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials >= 1, got {successes} of {trials}")
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z / (1 + z2 / trials) * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    # Clamp the rounding at the ends: the exact interval at 0 (or N) successes starts at 0 (ends at 1).
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == trials else min(1.0, centre + half)
    return lo, hi


@dataclass(frozen=True)
class ProcedureRates:
    """One sampling procedure's outcome over every seed of a sweep."""

    procedure: str
    right_at_end: int
    seeds: int
    ci95: tuple[float, float]
    stable_from_median: int | None  # a snapshot step (median_low over the seeds that end right)
    changes_second_half: float  # mean over seeds
    first_divergence: dict[int | None, int]  # step (None: never) -> seeds, in step order, None last

    @property
    def share(self) -> float:
        return self.right_at_end / self.seeds

    def to_json(self) -> dict[str, Any]:
        return {
            "right_at_end": self.right_at_end,
            "seeds": self.seeds,
            "share": self.share,
            "ci95": list(self.ci95),
            "stable_from_median": self.stable_from_median,
            "changes_second_half": self.changes_second_half,
            "first_divergence": {"never" if k is None else str(k): v for k, v in self.first_divergence.items()},
        }


def procedure_rates(
    histories: Sequence[list[Snapshot]], procedure: str, targets: str, prompt: int = 0
) -> ProcedureRates:
    """Rates of one procedure from the snapshot histories of every seed (one history per seed)."""
    stats = [history_stats(history, procedure, targets, prompt) for history in histories]
    final_right = [s.stable_from is not None for s in stats]
    stable = [s.stable_from for s in stats if s.stable_from is not None]
    divergence = Counter(
        judgement.first_divergence_pattern(history[-1].outputs[procedure], targets, prompt) for history in histories
    )
    ordered = dict(sorted(divergence.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)))
    right = sum(final_right)
    return ProcedureRates(
        procedure=procedure,
        right_at_end=right,
        seeds=len(histories),
        ci95=wilson_interval(right, len(histories)),
        stable_from_median=statistics.median_low(stable) if stable else None,
        changes_second_half=statistics.fmean(s.changes_second_half for s in stats),
        first_divergence=ordered,
    )


@dataclass(frozen=True)
class PolicySweep:
    """Every procedure's rates for the models trained under one training policy."""

    policy: str
    rates: dict[str, ProcedureRates]
    steps: int  # training steps each model took
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "rates": {name: r.to_json() for name, r in self.rates.items()},
            "steps": self.steps,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class SweepResult:
    """A sweep: N seeds trained under one or more training policies."""

    config: Config
    seeds: list[int]
    policies: dict[str, PolicySweep]  # in the order asked for; the first is the headline
    device: str
    seconds: float
    targets: str = field(default="")
    engine: str = "torch"  # what trained the stacks (seqdiag.engine)

    @property
    def headline(self) -> PolicySweep:
        return next(iter(self.policies.values()))

    @property
    def rates(self) -> dict[str, ProcedureRates]:
        """The first training policy's rates (the only one unless several were asked for)."""
        return self.headline.rates

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "command": "sweep",
            "seeds": len(self.seeds),
            "seed_range": [self.seeds[0], self.seeds[-1]],
            "policy": self.headline.policy,
            "rates": {name: r.to_json() for name, r in self.rates.items()},
            "targets": self.targets,
            "device": self.device,
            "engine": self.engine,
            "seconds": round(self.seconds, 3),
            "config": self.config.to_dict(),
        }
        if len(self.policies) > 1:
            data["policies"] = {name: p.to_json() for name, p in self.policies.items()}
        return data


def run_sweep(
    config: Config,
    n_seeds: int,
    train_policies: Sequence[str] | None = None,
    device: str = "cpu",
    on_policy: Callable[[str, int, int], None] | None = None,
    on_step: Callable[[Any], None] | None = None,
    engine: str = "torch",
    threads: int = 1,
) -> SweepResult:
    """Train seeds config.seed .. config.seed + n_seeds - 1 as one stack per training policy; rate every procedure.

    Args:
        config: the run; its train.policy is used when `train_policies` is not given.
        n_seeds: how many seeds (models) per training policy.
        train_policies: training policies to compare (each trains its own stack from the same seeds).
        device: a torch device string (resolve "auto" with `seqdiag.device.resolve_device` first).
        on_policy: told (policy, index, count) before each policy's training starts (for progress).
        on_step: passed to `train` (for a progress bar).
        engine: "torch" or "numba" (resolve "auto" with `seqdiag.engine.resolve_engine` first).
        threads: the numba kernel's threads (torch's are set by the caller).

    Raises:
        ValueError: n_seeds < 1.
        ConfigError: the seed range leaves [0, 2**63).
        RunFailure: a model's loss became NaN or infinite.
    """
    from seqdiag.matrix import policy_config
    from seqdiag.sequence import SequenceSet
    from seqdiag.train import train

    if n_seeds < 1:
        raise ValueError(f"n_seeds must be >= 1, got {n_seeds}")
    if config.seed + n_seeds > 2**63:
        raise ConfigError(f"--seed {config.seed} --seeds {n_seeds}: the last seed would leave [0, 2**63)")
    _keep_freed_memory()
    started = time.perf_counter()
    policies = list(dict.fromkeys(train_policies or [config.train.policy]))
    seeds = list(range(config.seed, config.seed + n_seeds))
    sequences = SequenceSet.from_config(config)
    targets = sequences.target_text()
    results: dict[str, PolicySweep] = {}
    for index, policy in enumerate(policies):
        if on_policy is not None:
            on_policy(policy, index, len(policies))
        policy_started = time.perf_counter()
        trained = train(
            policy_config(config, policy), seeds=seeds, device=device, on_step=on_step, engine=engine, threads=threads
        )
        rates = {mode: procedure_rates(trained.histories, mode, targets, sequences.prompt) for mode in procedures.NAMES}
        results[policy] = PolicySweep(policy, rates, trained.steps_done, time.perf_counter() - policy_started)
    return SweepResult(config, seeds, results, device, time.perf_counter() - started, targets, engine)


def _keep_freed_memory() -> None:
    """Ask glibc to keep freed memory for reuse instead of returning it to the OS.

    A wide stack allocates tens of MB of step buffers per training step; by default glibc hands them back
    (trim) and every step page-faults them in again, which costs ~15% at N = 1024 (and more in a VM).
    Process-wide, so only sweeps (which own their process) do it; a no-op where glibc is absent.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 32 * 1024 * 1024)  # glibc's maximum
    libc.mallopt(m_trim_threshold, 1 << 30)


def interval_bar(share: float, lo: float, hi: float, width: int = 20) -> Cell:
    """The 95% interval as a line on [0, 1] with the observed share as a dot: ··──●───·····; good when the interval
    lies above one half, bad below, warn across it."""
    cells = ["·"] * width
    for i in range(width):
        if lo <= (i + 0.5) / width <= hi:
            cells[i] = "─"
    cells[min(width - 1, int(share * width))] = "●"
    return styled("".join(cells), "good" if lo >= 0.5 else "bad" if hi <= 0.5 else "warn")


def rate_cell(rate: ProcedureRates) -> Cell:
    """right/seeds share [interval in percent], compact enough for four procedures side by side."""
    lo, hi = rate.ci95
    return styled(f"{rate.right_at_end}/{rate.seeds} {rate.share:.0%} [{lo * 100:.0f}–{hi * 100:.0f}]")


def _divergence_cell(distribution: dict[int | None, int], top: int = 4) -> str:
    ranked = sorted(distribution.items(), key=lambda kv: -kv[1])
    parts = [f"{'never' if step is None else f'@{step}'}×{count}" for step, count in ranked[:top]]
    return " ".join(parts) + (" …" if len(ranked) > top else "")


def rate_columns(rates: dict[str, ProcedureRates]) -> list[str]:
    """The procedures that get a column: a consistency check (one that must equal another) keeps its row in the
    per-policy table and its JSON, not a column of the matrices."""
    return [name for name in rates if name not in procedures.REGISTRY or procedures.REGISTRY[name].same_as is None]


def rates_table(policy_sweep: PolicySweep, n_seeds: int, width: int = 120) -> TableSpec:
    """One training policy's rates: a row per sampling procedure; below 100 columns the headers take a line per
    word, the interval bar narrows and the padding tightens. The procedure and the numbers are never cut (the
    renderer's kept columns); where they still do not fit, the interval bar is left out, the caption saying so, and
    the first divergences, free text, are cut with …"""
    narrow = width < 100

    def column(header: str, wrap_header: bool = True, **kwargs: Any) -> Column:
        return Column(header.replace(" ", "\n") if narrow and wrap_header else header, no_wrap=True, **kwargs)

    bar = 10 if narrow else 20
    rows = []
    for name, rate in policy_sweep.rates.items():
        lo, hi = rate.ci95
        cells: tuple[CellValue, ...] = (
            name,
            f"{rate.right_at_end}/{rate.seeds}",
            f"{rate.share:.0%}",
            f"{lo:.0%}–{hi:.0%}",
            interval_bar(rate.share, lo, hi, bar),
            steps_after(rate.stable_from_median),
            f"{rate.changes_second_half:.1f}",
            _divergence_cell(rate.first_divergence),
        )
        rows.append(Row(cells))
    return TableSpec(
        title=f"Trained with {policy_sweep.policy}: {n_seeds} seeds, {policy_sweep.steps} steps each",
        caption="right = pattern right at the last snapshot · interval = Wilson 95% · stays right = median first "
        "step from which it stays right · changes = mean output changes between snapshots, 2nd half",
        columns=(
            column("procedure", style="strong", keep=True),
            column("right", justify="right"),
            column("share", justify="right"),
            column("95% interval", justify="right"),
            column("0 ─ 1", wrap_header=False, drop=True),
            column("stays right", justify="right"),
            column("changes", justify="right"),
            column("first divergence"),
        ),
        rows=tuple(rows),
        padding=(0, 1, 0, 0) if narrow else (0, 1, 0, 1),
    )


def matrix_table(result: SweepResult) -> TableSpec:
    """Training policy x sampling procedure: the share right at the end, with its interval."""
    names = rate_columns(result.headline.rates)
    return TableSpec(
        title="Rates: rows = what training fed, columns = sampling procedure",
        caption="cell = right/seeds share [Wilson 95% interval, %]",
        columns=(
            Column("train", style="strong", keep=True),
            *(Column(name, justify="right", keep=False) for name in names),  # wraps between its numbers
        ),
        rows=tuple(
            Row((policy, *(rate_cell(ps.rates[name]) for name in names))) for policy, ps in result.policies.items()
        ),
    )
