"""`compare` as one core call: train (or load) a model, and with it the policy matrix and the tested fixes, run
every sampling procedure side by side, and return the report.

`CompareOptions` says what to compare; `check_compare` refuses options that cannot work before anything is
trained (and before torch is imported, for a config); `compare` runs it all, telling a `Session`'s observer what
it does, and returns the `seqdiag.report.CompareReport` that `seqdiag.render.compare` draws and `to_json` writes.
Without Typer or Rich:

    from seqdiag.comparison import CompareOptions, compare
    from seqdiag.config import load_config
    from seqdiag.session import Session

    report = compare(CompareOptions(config=load_config("period3"), policies=("teacher", "zeros")), Session())
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from seqdiag.config import TRAIN_POLICIES, Config
from seqdiag.errors import SeqdiagError
from seqdiag.session import ENGINES, TRAINED_NOW, Session
from seqdiag.task import shortest_sequence

if TYPE_CHECKING:
    from seqdiag.fixes import Summary
    from seqdiag.report import CompareReport
    from seqdiag.train import TrainResult


@dataclass(frozen=True)
class CompareOptions:
    """What `compare` trains or loads, and which measurements it adds to the report."""

    config: Config | None = None
    """Train this config now (give `config` or `run`)."""
    run: Path | None = None
    """Or load this run directory, trained before."""
    sample_overrides: tuple[str, ...] = ()
    """With `run`: decoding chosen anew, as `sample.key=value` (a config already holds its own)."""
    policies: tuple[str, ...] = ()
    """Train one model per training policy, same seed and config, and build the policy matrix; the first is
    the model reported in full (with a config: its train.policy is set to the first)."""
    rollouts: int = 1
    """Sample free-running this many times in one batch (above 1 needs a temperature)."""
    inject: tuple[int, ...] | None = None
    """Steps at which a wrong symbol is forced into free-running; None: the defaults that fit the sequence."""
    out: Path | None = None
    """Also save the trained run here (locked and checked writable before training)."""
    force: bool = False
    """With `out`: replace an existing run directory."""
    test_fixes: bool = False
    """Retrain with each config change a finding proposes, and measure it."""
    show: int | None = None
    """With several sequences: the one to detail (default: the one that goes wrong first)."""
    engine: str = "auto"
    """What computes the trainings: "auto", "torch" or "numba" (a loaded run's matrix: the engine it records)."""

    def __post_init__(self) -> None:
        if (self.config is None) == (self.run is None):
            raise ValueError("CompareOptions: give a config to train or a run to load, not both")
        if self.run is not None and self.policies:
            raise SeqdiagError("--train trains every policy from a config; drop --run or drop --train")
        bad = [p for p in self.policies if p not in TRAIN_POLICIES]
        if bad:
            raise SeqdiagError(f"unknown training policy {bad[0]!r}; valid: {', '.join(TRAIN_POLICIES)}")
        if self.engine not in ENGINES:
            raise SeqdiagError(f"--engine {self.engine!r}: must be one of {', '.join(ENGINES)}")


def check_compare(options: CompareOptions) -> None:
    """Refuse what cannot work, before any training: injection steps past a config's sequence, several rollouts
    under argmax, an `out` that cannot be written. A loaded run's are checked once it is loaded.

    Raises:
        SeqdiagError: naming the option and the value.
    """
    if options.config is not None:
        check_injection_steps(options.inject, shortest_sequence(options.config.sequence))
        refuse_argmax_rollouts(options.rollouts, options.config.sample.temperature)
    if options.out is not None:
        from seqdiag.rundir import check_target

        check_target(options.out, options.force)


def compare(options: CompareOptions, session: Session) -> CompareReport:
    """Train (or load) the model, the other policies' models and the fixes' retrainings, and build the report.

    Raises:
        SeqdiagError: bad options (see `check_compare`), or a run that cannot be loaded.
        RunFailure: a training that failed numerically, or a run that could not be saved (saved elsewhere).
    """
    from seqdiag.policy import Decoding
    from seqdiag.report import build_compare

    check_compare(options)
    policies = options.policies
    config = options.config
    if config is not None and policies and config.train.policy != policies[0]:
        from seqdiag.matrix import policy_config

        config = policy_config(config, policies[0])
    label = f"training {policies[0]} (1/{len(policies)})" if len(policies) > 1 else "training"
    with contextlib.ExitStack() as stack:
        if options.out is not None:  # locked and checked writable before training, so the training is not lost
            from seqdiag.rundir import save_locked, writing

            for note in stack.enter_context(writing(options.out, options.force)):
                session.observer.note(note)
        result, source = session.obtain(options.run, config, options.engine, options.sample_overrides, label)
        inject_at = check_injection_steps(options.inject, shortest_sequence(result.config.sequence))
        refuse_argmax_rollouts(options.rollouts, result.config.sample.temperature)
        if options.out is not None:
            save_locked(result, options.out, options.force)
    decoding = Decoding(result.config.sample.temperature, result.config.sample.top_k)
    matrix = None
    if policies:
        matrix = _policy_matrix(result, policies, inject_at, session)
    report = build_compare(
        result, source, decoding, rollouts_n=options.rollouts, inject_at=inject_at, matrix=matrix, show=options.show
    )
    if options.test_fixes:
        from seqdiag.fixes import measure_fixes

        def measure(fixed: Config, changes: list[str]) -> Summary:
            # Resolved and trained exactly as a plain `compare --set ...` would: same engine choice, same threads.
            sampled = Decoding(fixed.sample.temperature, fixed.sample.top_k)
            trained_fix = session.train(
                fixed, session.engine(options.engine, fixed), label=f"testing {' '.join(changes)}"
            )
            return build_compare(trained_fix, TRAINED_NOW, sampled, inject_at=inject_at).summary()

        report = measure_fixes(report, measure)
    return report


def _policy_matrix(result: TrainResult, policies: Sequence[str], inject_at: list[int], session: Session):
    """The other policies' models, trained on the first's engine, and every model sampled every way."""
    from seqdiag.matrix import build_matrix, policy_config

    results = {policies[0]: result}
    engine = session.engine(result.engine, result.config)  # the first policy's, said once
    for i, policy in enumerate(policies[1:], start=2):
        label = f"training {policy} ({i}/{len(policies)})"
        results[policy] = session.train(policy_config(result.config, policy), engine, label=label)
    return build_matrix(results, inject_at)


def check_injection_steps(steps: Sequence[int] | None, length: int) -> list[int]:
    """The steps to force a wrong symbol at: `steps`, each checked against the sequence, or the defaults that fit.

    Raises:
        SeqdiagError: a step below 1 or past the sequence's last step.
    """
    if steps is None:
        from seqdiag.recovery import DEFAULT_INJECT_AT

        return [k for k in DEFAULT_INJECT_AT if k < length] or [max(1, length - 1)]
    chosen = sorted(set(steps))
    text = ",".join(str(k) for k in chosen)
    if not chosen or chosen[0] < 1:
        raise SeqdiagError(f"--inject {text!r}: steps start at 1 (step 0 is fed the start symbol)")
    past = [k for k in chosen if k > length - 1]
    if past:
        raise SeqdiagError(
            f"--inject {text!r}: step {past[0]} is past the last pattern step {length - 1} (sequence.length = {length})"
        )
    return chosen


def refuse_argmax_rollouts(rollouts: int, temperature: float) -> None:
    """Several rollouts under argmax would be one output repeated: refuse rather than report a spread of one.

    Raises:
        SeqdiagError: rollouts above 1 at temperature 0.
    """
    if rollouts > 1 and temperature == 0:
        raise SeqdiagError(
            f"--rollouts {rollouts} at temperature 0: argmax gives the same output every time; "
            "add --temperature T (e.g. 1) or drop --rollouts"
        )
