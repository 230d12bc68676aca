"""Reports: what `compare` and `sample` found, as dataclasses, and their JSON form (no Rich here)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from seqdiag import __version__, procedures
from seqdiag.config import Config
from seqdiag.drift import DriftReport, hidden_drift_report
from seqdiag.errors import SeqdiagError
from seqdiag.findings import Evidence, Verdict, diagnose
from seqdiag.history import HistoryStats, Snapshot, history_stats
from seqdiag.matrix import PolicyMatrix
from seqdiag.outcomes import Outcomes, outcomes
from seqdiag.policy import Decoding, unroll
from seqdiag.probes import InputNovelty, InputReliance, input_novelty, input_reliance_over, reliance_table
from seqdiag.recovery import (
    DEFAULT_INJECT_AT,
    Recovery,
    every_sequence_json,
    inject_and_recover,
    recover_every_sequence,
    recovery_table,
    recovery_totals_table,
)
from seqdiag.rollouts import RolloutStats, rollout_stats
from seqdiag.sampling import Trace, run_procedure, trace_of
from seqdiag.schema import SCHEMA_VERSION
from seqdiag.stability import Stability, stability
from seqdiag.table import TableSpec
from seqdiag.train import TrainResult, training_policy


@dataclass(frozen=True)
class RunInfo:
    """Where a report's model came from."""

    seed: int
    steps_done: int
    interrupted: bool
    source: str  # "trained now" or the run directory
    stopped: str | None = None  # the numerical fault that stopped training early, if one did
    planned_steps: int | None = None  # train.steps of the run's config
    engine: str = "torch"  # what trained the model and took its history's snapshots (seqdiag.engine)
    torch_version: str = torch.__version__
    seqdiag_version: str = __version__


@dataclass(frozen=True)
class CompareReport:
    config: Config
    run: RunInfo
    traces: dict[str, Trace]
    history: list[Snapshot]
    history_stats: dict[str, HistoryStats]
    losses: list[float]
    novelty: dict[str, InputNovelty]
    reliance: InputReliance
    verdict: Verdict
    drift: DriftReport | None = None
    recovery: Recovery | None = None
    stability: Stability | None = None
    rollouts: RolloutStats | None = None  # only with --rollouts N > 1
    matrix: PolicyMatrix | None = None  # only with --train
    trained: Trace | None = None  # the model run on what training fed, when that is not teacher forcing
    outcomes: Outcomes | None = None  # every procedure on every sequence of the task
    shown: int = 0  # the sequence the traces and depth measurements are of
    recoveries: list[Recovery] | None = None  # with several sequences: error recovery on each, in task order

    def to_json(self) -> dict[str, Any]:
        return {
            **self._core_json(),
            **depth_json(self),
        }

    def _core_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "command": "compare",
            "config": self.config.to_dict(),
            "seed": self.run.seed,
            "run": dataclasses.asdict(self.run),
            "headline": self.verdict.headline,
            "fix": self.verdict.fix,
            "modes": {mode: trace_json(trace) for mode, trace in self.traces.items()},
            "history": [
                {"step": s.step, "loss": s.loss, "outputs": s.outputs, "accuracy": s.accuracy} for s in self.history
            ],
            "history_stats": {m: dataclasses.asdict(s) for m, s in self.history_stats.items()},
            "novelty": {m: dataclasses.asdict(n) for m, n in self.novelty.items()},
            "findings": [dataclasses.asdict(f) for f in self.verdict.findings],
            "summary": self.summary(),
        }

    @property
    def several(self) -> bool:
        """Whether the task has several sequences (the per-step traces are then of one of them, `shown`)."""
        return self.outcomes is not None and len(self.outcomes.rows) > 1

    def summary(self) -> dict[str, Any]:
        """The run in four numbers: right per procedure, targets, late loss spikes, lost teacher-forced steps.

        `compare --test-fixes` reports a fix as this summary before and after it; a plain `compare --json` with
        the same overrides reports the same object.
        """
        return summary_of(self.traces, self.stability, self.outcomes)


def summary_of(traces: dict[str, Trace], stability: Stability | None, over: Outcomes | None = None) -> dict[str, Any]:
    """With several sequences, right and targets are summed over all of them (judged targets: a prompt's are not)."""
    if over is not None and len(over.rows) > 1:
        right = {name: over.total(name)[0] for name in over.procedures}
        targets = over.total(over.procedures[0])[1]
    else:
        right = {mode: trace.correct_count for mode, trace in traces.items()}
        targets = traces["teacher"].judged
    return {
        "right": right,
        "targets": targets,
        "late_spikes": len(stability.spikes) if stability is not None else 0,
        "teacher_flips": len(stability.teacher_flips) if stability is not None else 0,
    }


def depth_json(report: CompareReport) -> dict[str, Any]:
    """The sections beyond the per-step traces: drift, reliance, recovery, stability, rollouts, matrix (each
    measurement's own JSON). With several sequences, a section measured on one of them says which (`sequence`)."""
    data: dict[str, Any] = {"reliance": report.reliance.to_json()}
    if report.outcomes is not None:
        data.update(outcomes_json(report.outcomes, report.shown))
    for key, measured in (
        ("drift", report.drift),
        ("recovery", report.recovery),
        ("stability", report.stability),
        ("rollouts", report.rollouts),
    ):
        if measured is not None:
            data[key] = measured.to_json()
            if report.several:
                data[key]["sequence"] = report.shown
    if report.recoveries is not None:
        data["recovery_sequences"] = every_sequence_json(report.recoveries)
    if report.matrix is not None:
        data.update(report.matrix.to_json())
        if report.several:
            data["matrix_sequence"] = 0  # the policy matrix samples each model on the task's first sequence
    return data


def depth_tables(report: CompareReport) -> list[TableSpec]:
    """The depth sections' tables, in reading order, each drawn by its measurement; the reliance table is always
    there. With a policy matrix, reliance and recovery have one row per trained model. With several sequences, a
    table measured on one of them says which in its title."""
    own = f"trained {report.config.train.policy}"
    rows = report.matrix.rows if report.matrix is not None else []
    tables = [
        _of_shown(report, report.matrix.table(), 0) if report.matrix is not None else None,
        _of_shown(report, report.drift.table()) if report.drift is not None else None,
        reliance_table([(f"trained {r.train}", r.reliance) for r in rows] or [(own, report.reliance)]),
        _recovery_table(report, own),
        _counting_table(report),
        _of_shown(report, report.rollouts.table()) if report.rollouts is not None else None,
    ]
    return [t for t in tables if t is not None]


def _recovery_table(report: CompareReport, own: str) -> TableSpec | None:
    """Error recovery: with several sequences, counted over every sequence; else the one sequence's."""
    rows = report.matrix.rows if report.matrix is not None else []
    if report.recoveries is not None:
        models = [(f"trained {r.train}", r.recoveries or []) for r in rows] or [(own, report.recoveries)]
        steps = sorted({i.step for _, recoveries in models for r in recoveries for i in r.injections})
        return recovery_totals_table(models, steps)
    if report.recovery is None:
        return None
    return recovery_table([(f"trained {r.train}", r.recovery) for r in rows] or [(own, report.recovery)])


def _of_shown(report: CompareReport, spec: TableSpec | None, index: int | None = None) -> TableSpec | None:
    """A table measured on one sequence (`index`, default the detailed one), its title saying which when there are
    several."""
    if spec is None or not report.several or report.outcomes is None:
        return spec
    index = report.shown if index is None else index
    return dataclasses.replace(spec, title=f"{spec.title} · sequence {index} ({report.outcomes.rows[index].text!r})")


def _counting_table(report: CompareReport) -> TableSpec | None:
    """Counting: where the end symbol comes out is of the detailed sequence; the history columns are of every one."""
    if report.stability is None:
        return None
    spec = report.stability.table()
    if not report.several or report.outcomes is None:
        return spec
    text = report.outcomes.rows[report.shown].text
    return dataclasses.replace(
        spec,
        caption=f"{spec.caption} · end symbol predicted at: sequence {report.shown} ({text!r}); right from, stable "
        f"from: all {len(report.outcomes.rows)} sequences at once",
    )


def outcomes_json(o: Outcomes, shown: int) -> dict[str, Any]:
    """The task, one row per sequence (each procedure's right/judged and first divergence), and the totals."""
    return {
        "task": {
            "source": o.source,
            "marker": o.marker,
            "prompt": o.prompt,
            "sequences": len(o.rows),
            "shown": shown,
            "goes_wrong_first": o.goes_wrong_first,
        },
        "sequences": [
            {"index": r.index, "text": r.text, "procedures": {n: dataclasses.asdict(x) for n, x in r.outcomes.items()}}
            for r in o.rows
        ],
        "totals": {
            n: {"right": o.total(n)[0], "judged": o.total(n)[1], "sequences_all_right": o.all_right(n)}
            for n in o.procedures
        },
    }


def trace_json(trace: Trace, with_hidden: bool = False) -> dict[str, Any]:
    steps = []
    for s in trace.steps:
        step: dict[str, Any] = {
            "t": s.t,
            "input": s.input,
            "predicted": s.predicted,
            "target": s.target,
            "correct": s.correct,
            "p_target": s.p_target,
            "p_predicted": s.p_predicted,
            "entropy": s.entropy,
        }
        if with_hidden:
            step["hidden"] = s.hidden
        steps.append(step)
    return {
        "output": trace.output,
        "targets": trace.targets,
        "steps": steps,
        "accuracy": trace.accuracy,
        "pattern_accuracy": trace.pattern_accuracy,
        "end_symbol": trace.end_symbol,
        "first_divergence": trace.first_divergence,
    }


def build_compare(
    result: TrainResult,
    source: str,
    decoding: Decoding = Decoding(),
    *,
    rollouts_n: int = 1,
    inject_at: tuple[int, ...] | list[int] = DEFAULT_INJECT_AT,
    matrix: PolicyMatrix | None = None,
    show: int | None = None,
) -> CompareReport:
    """Run every procedure on the trained model, probe it, and diagnose (model 0 of the stack).

    `rollouts_n` > 1 adds free-running sampled that many times (one batch); `inject_at` are the steps
    at which a wrong symbol is forced into free-running; `matrix` is the policy matrix, when trained.
    Every procedure runs on every sequence of the task (`outcomes`); the per-step traces and the depth
    measurements are of one sequence: `show` (an index), by default the one that goes wrong first.

    Raises:
        SeqdiagError: `show` is not the index of a sequence.
    """
    model, config = result.model, result.config
    task = result.task
    per_sequence = outcomes(model, task, decoding, seed=config.seed)
    if show is not None and not 0 <= show < len(task.sequences):
        raise SeqdiagError(
            f"--show {show}: the task has {len(task.sequences)} sequences (0 .. {len(task.sequences) - 1})"
        )
    shown = (per_sequence.goes_wrong_first or 0) if show is None else show
    sequence = task.sequences[shown]
    generator = torch.Generator().manual_seed(config.seed)
    rollouts = {m: run_procedure(model, sequence, m, decoding, generator=generator) for m in procedures.NAMES}
    traces = {m: trace_of(r, sequence, m) for m, r in rollouts.items()}
    # What training fed, under its own policy: exact for teacher and zeros; for free and scheduled, what the
    # final model feeds itself (plus the true symbols, which scheduled sampling also fed).
    train_fed = run_procedure(model, sequence, "teacher").inputs[0, 0]
    trained: Trace | None = None
    if config.train.policy != "teacher":
        with torch.no_grad():
            true_inputs = sequence.input_vectors()[None, None].to(model.embed_weight.device)
            policy = training_policy(config.train, result.steps_done)
            coins = torch.Generator().manual_seed(config.seed)
            as_trained = unroll(model, true_inputs, policy, generator=coins)
        trained = trace_of(as_trained, sequence, config.train.policy)
        fed = as_trained.inputs[0, 0]
        train_fed = torch.cat([train_fed, fed]) if config.train.policy == "scheduled" else fed
    novelty = {m: input_novelty(train_fed, r.inputs[0, 0]) for m, r in rollouts.items()}
    reliance = input_reliance_over(model, task.sequences)  # every sequence, counts summed
    symbols = sequence.vocabulary.symbols
    training_symbols = sorted(
        {None if float(v.abs().sum()) == 0 else symbols[int(v.argmax())] for v in train_fed.cpu()},
        key=lambda s: (s is None, s or ""),
    )
    drift_inputs = dict(rollouts)
    stochastic: RolloutStats | None = None
    if rollouts_n > 1:
        stochastic, batch = rollout_stats(model, sequence, decoding, rollouts_n, seed=config.seed)
        drift_inputs["free"] = batch  # the probe then sees every rollout's states
    drift = hidden_drift_report(drift_inputs, seed=config.seed)
    recovery = inject_and_recover(model, sequence, inject_at)
    recoveries = recover_every_sequence(model, task.sequences, inject_at) if len(task.sequences) > 1 else None
    targets = task.target_text()  # every sequence's, as the history holds them
    steady = stability(
        traces,
        result.history,
        result.losses[0],
        result.optimizer_state,
        config.train.optimizer,
        config.train.lr,
        config.train.eps,
        targets=targets,
        prompt=task.prompt,
    )
    # A run saved before a procedure was added has no history of it.
    recorded = [m for m in procedures.NAMES if not result.history or m in result.history[0].outputs]
    stats = {m: history_stats(result.history, m, targets, task.prompt) for m in recorded}
    evidence = Evidence(
        traces=traces,
        history=result.history,
        history_stats=stats,
        novelty=novelty,
        reliance=reliance,
        training_symbols=training_symbols,
        train_policy=config.train.policy,
        steps=result.steps_done,
        trained=trained,
        planned_steps=config.train.steps,
        interrupted=result.interrupted,
        stopped=result.stopped,
        optimizer=config.train.optimizer,
        lr=config.train.lr,
        drift=drift,
        recovery=recovery,
        stability=steady,
        rollouts=stochastic,
        matrix=matrix,
    )
    return CompareReport(
        config=config,
        run=RunInfo(
            config.seed,
            result.steps_done,
            result.interrupted,
            source,
            result.stopped,
            config.train.steps,
            result.engine,
        ),  # fmt: skip
        traces=traces,
        history=result.history,
        history_stats=stats,
        losses=result.losses[0],
        novelty=novelty,
        reliance=reliance,
        verdict=diagnose(evidence),
        drift=drift,
        recovery=recovery,
        stability=steady,
        rollouts=stochastic,
        matrix=matrix,
        trained=trained,
        outcomes=per_sequence,
        shown=shown,
        recoveries=recoveries,
    )


@dataclass(frozen=True)
class SampleReport:
    config: Config
    run: RunInfo
    mode: str
    decoding: Decoding
    trace: Trace
    sequences: int = 1  # the task's sequences; the trace is of the first

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "command": "sample",
            "config": self.config.to_dict(),
            "seed": self.run.seed,
            "run": dataclasses.asdict(self.run),
            "mode": self.mode,
            "temperature": self.decoding.temperature,
            "top_k": self.decoding.top_k,
            **trace_json(self.trace, with_hidden=True),
        }


def build_sample(result: TrainResult, source: str, mode: str, decoding: Decoding) -> SampleReport:
    generator = torch.Generator().manual_seed(result.config.seed)
    rollout = run_procedure(result.model, result.sequence, mode, decoding, generator=generator)
    trace = trace_of(rollout, result.sequence, mode)
    run = RunInfo(
        result.config.seed, result.steps_done, result.interrupted, source, result.stopped, result.config.train.steps,
        result.engine,
    )  # fmt: skip
    assert result.sequences is not None
    return SampleReport(result.config, run, mode, decoding, trace, len(result.sequences.sequences))
