"""Training: feed the training input policy, minimise cross-entropy, snapshot every procedure on the way.

The trainer works on a stack of N models (one per seed) with one optimizer; each model's loss is its own
mean cross-entropy and the stack minimises their sum, so every model's gradients and (element-wise)
optimizer updates are exactly those it would get alone.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from seqdiag import judgement, procedures
from seqdiag.config import Config, TrainConfig
from seqdiag.errors import RunFailure
from seqdiag.history import Snapshot
from seqdiag.model import SequenceModel, build_model
from seqdiag.policy import Decoding, InputPolicy, scheduled_epsilon, unroll
from seqdiag.sampling import run_procedure, run_procedure_on_set
from seqdiag.sequence import PAD, SequenceSet, ToySequence


def set_seed(seed: int) -> None:
    """The one place global random state is seeded; models and samplers also use their own generators."""
    random.seed(seed)
    torch.manual_seed(seed)


@dataclass
class TrainResult:
    """A trained stack and what happened on the way; single runs have one model."""

    config: Config
    sequence: ToySequence  # the first sequence (the only one unless the task has several)
    model: SequenceModel
    seeds: list[int]
    histories: list[list[Snapshot]]  # per model, in step order
    losses: list[list[float]]  # per model, one loss per step taken
    steps_done: int
    seconds: float
    interrupted: bool = False
    optimizer_state: dict = field(default_factory=dict)
    # What a resumed run needs besides weights and optimizer: "coins" (scheduled sampling's generator) and
    # "torch" (the global generator), each a uint8 state tensor taken where training stopped.
    generator_states: dict[str, torch.Tensor] = field(default_factory=dict)
    stopped: str | None = None  # why training stopped early on a numerical fault; the weights are the last good ones
    sequences: SequenceSet | None = None  # every sequence of the task (built from the config when not given)

    def __post_init__(self) -> None:
        if self.sequences is None:
            self.sequences = SequenceSet.from_config(self.config)

    @property
    def task(self) -> SequenceSet:
        assert self.sequences is not None
        return self.sequences

    # How it ran, where that can change the numbers: "threads" (torch's intra-op threads, whose reductions
    # round differently) and "engine" ("torch" or "numba", seqdiag.engine: what computed the training steps and
    # the snapshots). Saved in summary.json's `runtime`; a resume uses the recorded values.
    runtime: dict[str, Any] = field(default_factory=dict)
    # What seqdiag did or found while loading it that the user should hear (e.g. an interrupted replace finished).
    notes: list[str] = field(default_factory=list)

    @property
    def engine(self) -> str:
        """What trained it: "torch" or "numba" (runs from before engines were recorded: torch)."""
        return str(self.runtime.get("engine", "torch"))

    @property
    def history(self) -> list[Snapshot]:
        """The first model's history (the only one for a single run)."""
        return self.histories[0]


def make_optimizer(params, train: TrainConfig) -> torch.optim.Optimizer:
    if train.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=train.lr, alpha=train.rho, eps=train.eps)
    if train.optimizer == "adam":
        return torch.optim.Adam(params, lr=train.lr, eps=train.eps)
    return torch.optim.SGD(params, lr=train.lr)


def training_policy(train: TrainConfig, step: int) -> InputPolicy:
    """The input policy fed at a training step; only `scheduled` changes with the step."""
    if train.policy == "scheduled":
        eps = scheduled_epsilon(train.schedule, train.schedule_k, train.schedule_min, step)
        return InputPolicy("scheduled", eps)
    return InputPolicy(train.policy)


def per_model_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(N, B, T, V) logits, (T,) or (B, T) targets -> (N,) mean cross-entropy of each model.

    Targets equal to PAD (the steps after a shorter sequence's end) are left out of the mean.
    """
    n, b, t, v = logits.shape
    expanded = targets.expand(n, b, t)
    losses = F.cross_entropy(logits.reshape(-1, v), expanded.reshape(-1), reduction="none", ignore_index=PAD)
    if not bool((targets == PAD).any()):
        return losses.view(n, -1).mean(1)
    valid = (expanded != PAD).reshape(n, -1).sum(1)
    return losses.view(n, -1).sum(1) / valid


@torch.no_grad()
def take_snapshots(
    model: SequenceModel,
    sequences: SequenceSet,
    step: int,
    losses: torch.Tensor,
    modes: Sequence[str] = procedures.NAMES,
) -> list[Snapshot]:
    """Run every procedure (argmax) on every sequence and model of the stack; one Snapshot per model.

    With several sequences a snapshot's output is each sequence's output joined as `seqdiag.judgement` reads it;
    its accuracy is the share of every sequence's judged targets that is right.
    """
    symbols = sequences.vocabulary.symbols
    targets = sequences.batch_targets().to(model.embed_weight.device)  # (B, T)
    lengths = [s.steps for s in sequences.sequences]
    prompt = sequences.prompt
    judged = sum(length - prompt for length in lengths)
    outputs: dict[str, list[str]] = {}
    accuracy: dict[str, list[float]] = {}
    for mode in modes:
        spec = procedures.get(mode)
        predicted = run_procedure_on_set(model, sequences, mode).predicted  # (N, B, T')
        hits = predicted == targets[:, : predicted.shape[2]]
        hits[:, :, :prompt] = False
        rows = predicted.tolist()
        outputs[mode] = [
            judgement.join(
                "".join(symbols[i] for i in row[: spec.steps(length)])
                for row, length in zip(per_model, lengths, strict=True)
            )
            for per_model in rows
        ]
        accuracy[mode] = (hits.sum((1, 2)).double() / judged).tolist()
    loss_values = losses.tolist()
    return [
        Snapshot(
            step=step,
            loss=loss_values[i],
            outputs={m: outputs[m][i] for m in modes},
            accuracy={m: accuracy[m][i] for m in modes},
        )
        for i in range(model.n_models)
    ]


def snapshots_from(
    predicted: dict[str, np.ndarray], sequence: ToySequence, step: int, loss_values: list[float]
) -> list[Snapshot]:
    """One Snapshot per model from each procedure's predicted symbols ((N, steps) rows) and each model's loss:
    a single sequence without a prompt, as `take_snapshots` reads it (the numba engine's snapshots).

    Vectorised for wide stacks (a sweep's thousand models)."""
    symbols = sequence.vocabulary.symbols
    targets = sequence.targets.numpy()
    outputs: dict[str, list[str]] = {}
    accuracy: dict[str, list[float]] = {}
    for mode, rows in predicted.items():
        rows = np.asarray(rows, dtype=np.int64)
        width = min(rows.shape[1], len(targets))
        accuracy[mode] = ((rows[:, :width] == targets[:width]).sum(1) / len(targets)).tolist()
        outputs[mode] = _spell(rows, symbols)
    return [
        Snapshot(
            step=step,
            loss=loss_values[i],
            outputs={m: outputs[m][i] for m in predicted},
            accuracy={m: accuracy[m][i] for m in predicted},
        )
        for i in range(len(loss_values))
    ]


def _spell(rows: np.ndarray, symbols: Sequence[str]) -> list[str]:
    """Each row of symbol indices (N, steps) as a string. Equal rows share one string object: the models of a
    sweep mostly agree, and comparing or judging (memoised) a shared string is then cheap."""
    if rows.shape[1] and all(len(symbol) == 1 for symbol in symbols):
        # One character per symbol: index a character table, and read each row of characters as one string.
        table = np.array(symbols, dtype="<U1")
        spelled = np.ascontiguousarray(table[rows]).view(f"<U{rows.shape[1]}").reshape(-1).tolist()
    else:
        spelled = ["".join(symbols[i] for i in row) for row in rows.tolist()]
    shared: dict[str, str] = {}
    return [shared.setdefault(text, text) for text in spelled]


@dataclass(frozen=True)
class TrainProgress:
    """Passed to the progress callback after every step."""

    step: int
    total: int
    loss: float
    snapshot: Snapshot | None  # the newest snapshot of the first model
    # The first model's losses of every step since the previous report, oldest first, where a report covers
    # several steps (the numba engine reports once per stretch between snapshots); empty when it covers one.
    recent: tuple[float, ...] = ()


def train(
    config: Config,
    *,
    seeds: Sequence[int] | None = None,
    device: str = "cpu",
    on_step: Callable[[TrainProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume_from: TrainResult | None = None,
    engine: str = "torch",
    threads: int = 1,
) -> TrainResult:
    """Train one model per seed (default: the config's seed) under the config's training policy.

    `engine` is "torch" (autograd and torch's optimizers; any cell, gate or device) or "numba" (the compiled
    kernel of `seqdiag.engine`, CPU, LSTM cells; `resolve_engine` says whether a config is covered); `threads`
    is how many threads the numba kernel splits the stack across. The numba engine asks `should_stop` and
    reports `on_step` once per stretch of steps between snapshots (a few milliseconds) rather than every step.

    `should_stop` is asked before every step; when it says yes, training stops there and the result is
    marked interrupted. `resume_from` (an interrupted result, e.g. from `load_run`) continues it: weights,
    optimizer state, generators, losses and history are picked up so that the finished run is bit-identical
    to one never interrupted.

    Raises:
        RunFailure: the loss or the weights became NaN or infinite; names the step and the likely cause.
            Its `partial` holds the last good state (the weights before the update that broke them), when
            there is one.
    """
    started = time.perf_counter()
    if resume_from is not None:
        seeds = list(resume_from.seeds)
    seeds = [config.seed] if seeds is None else list(seeds)
    set_seed(seeds[0])
    sequences = SequenceSet.from_config(config)
    sequence = sequences.sequences[0]
    model = build_model(len(sequences.vocabulary), config.model, seeds, device)
    if engine == "numba" and not kernel_covers(sequences):
        engine = "torch"  # several sequences or a prompt: the kernel trains one plain sequence
    # The numba engine never builds torch's optimizer: constructing one imports torch._dynamo (seconds).
    optimizer = make_optimizer(model.parameters(), config.train) if engine == "torch" else None
    # (N, B, T, V): B = the task's sequences, all trained as one batch, padded after the shorter ones' end.
    true_inputs = sequences.batch_inputs().to(device)[None].expand(len(seeds), -1, -1, -1)
    targets = sequences.batch_targets().to(device)  # (B, T)
    coins = torch.Generator().manual_seed(seeds[0])  # scheduled sampling's coin flips
    histories: list[list[Snapshot]] = [[] for _ in seeds]
    losses: list[list[float]] = [[] for _ in seeds]
    every, total = config.train.snapshot_every, config.train.steps
    latest: Snapshot | None = None
    interrupted = False
    step = 0
    if resume_from is not None:
        step = resume_from.steps_done
        started -= resume_from.seconds
        with torch.no_grad():
            for param, saved in zip(model.parameters(), resume_from.model.parameters(), strict=True):
                param.copy_(saved)
        if resume_from.optimizer_state and optimizer is not None:
            optimizer.load_state_dict(_with_param_groups(resume_from.optimizer_state, optimizer))
        if "coins" in resume_from.generator_states:
            coins.set_state(resume_from.generator_states["coins"])
        if "torch" in resume_from.generator_states:
            torch.set_rng_state(resume_from.generator_states["torch"])
        losses = [list(values) for values in resume_from.losses]
        # The snapshot taken where the run stopped is not on the schedule; the loop retakes it if it is.
        histories = [[s for s in history if s.step < step] for history in resume_from.histories]
        latest = histories[0][-1] if histories[0] else None
    params = list(model.parameters())
    last_good: list[torch.Tensor] | None = None  # the weights before the latest update, whose loss was finite
    fault: str | None = None

    def record(step: int, loss: torch.Tensor) -> Snapshot:
        for history, snap in zip(histories, take_snapshots(model, sequences, step, loss), strict=True):
            history.append(snap)
        return histories[0][-1]

    kernel = None
    if engine == "numba":
        from seqdiag.engine import KernelStack, pack

        hyper = config.train
        kernel = KernelStack(model, hyper.optimizer, hyper.lr, hyper.rho, hyper.eps, threads)
        if resume_from is not None and resume_from.optimizer_state:
            kernel.load_torch_optimizer_state(params, resume_from.optimizer_state)

        def record(step: int, loss: torch.Tensor) -> Snapshot:
            kernel.theta[:] = pack(params)
            for history, snap in zip(histories, _kernel_snapshots(kernel, sequence, step, loss.tolist()), strict=True):
                history.append(snap)
            return histories[0][-1]

        step, latest, interrupted, fault, last_good = _kernel_loop(
            kernel, params, config, sequence, coins, step, histories, losses, latest, on_step, should_stop
        )
        kernel.write_back(params)
    model.train()
    while kernel is None and step < total:
        if should_stop is not None and should_stop():
            interrupted = True
            break
        rollout = unroll(model, true_inputs, training_policy(config.train, step), Decoding(), generator=coins)
        loss = per_model_loss(rollout.logits, targets)  # (N,)
        if not bool(torch.isfinite(loss).all()):
            bad = next(v for v in loss.detach().tolist() if not math.isfinite(v))
            fault = f"loss became {bad} at step {step}"
            break
        detached = loss.detach()
        if step % every == 0:
            latest = record(step, detached)
        with torch.no_grad():
            if last_good is None:
                last_good = [p.detach().clone() for p in params]
            else:
                torch._foreach_copy_(last_good, [p.detach() for p in params])  # one call: this runs every step
        assert optimizer is not None
        optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()
        try:
            optimizer.step()
        except RuntimeError as exc:  # torch refuses an update too large for float32 (Adam's lr / bias correction)
            if "overflow" not in str(exc):
                raise
            fault = f"the optimizer's update overflowed float32 at step {step}"
        step += 1
        for i, value in enumerate(detached.tolist()):
            losses[i].append(value)
        if fault is not None:
            break
        # Non-finite weights show in the next step's loss (every weight enters it through dense products);
        # after the last step they are checked below.
        if on_step is not None:
            on_step(TrainProgress(step, total, losses[0][-1], latest))

    if fault is None and step > 0 and not all(bool(torch.isfinite(p).all()) for p in params):
        fault = f"weights became non-finite at step {step - 1}"
    generator_states = {"coins": coins.get_state(), "torch": torch.get_rng_state()}
    if fault is not None:
        message = f"{fault}: train.lr = {config.train.lr:g} is likely too large (try {config.train.lr / 10:g})"
        if last_good is None or step == 0:
            raise RunFailure(message)
        # Step back to the weights before the update that broke them: the last state whose loss was finite.
        with torch.no_grad():
            for param, kept in zip(params, last_good, strict=True):
                param.copy_(kept)
        step -= 1
        losses = [values[:step] for values in losses]
        histories = [[s for s in history if s.step <= step] for history in histories]

    with torch.no_grad():
        final_policy = training_policy(config.train, step)
        final_loss = per_model_loss(unroll(model, true_inputs, final_policy, generator=coins).logits, targets)
    if not histories[0] or histories[0][-1].step != step:
        latest = record(step, final_loss)
    if on_step is not None and fault is None:
        on_step(TrainProgress(step, total, float(final_loss[0]), latest))
    if kernel is not None:
        optimizer_state = kernel.torch_optimizer_state(params)
    else:
        assert optimizer is not None
        optimizer_state = optimizer.state_dict()
    result = TrainResult(
        config=config,
        sequence=sequence,
        sequences=sequences,
        model=model,
        seeds=seeds,
        histories=histories,
        losses=losses,
        steps_done=step,
        seconds=time.perf_counter() - started,
        interrupted=interrupted,
        optimizer_state=optimizer_state,
        generator_states=generator_states,
        stopped=fault,
        runtime={
            **(resume_from.runtime if resume_from is not None else {}),
            "threads": torch.get_num_threads(),
            "engine": engine,
        },
    )
    if fault is not None:
        raise RunFailure(message, partial=result)
    return result


def kernel_covers(sequences: SequenceSet) -> bool:
    """Whether the numba kernel trains this task: one sequence, no prompt."""
    return len(sequences.sequences) == 1 and not sequences.prompt


def _with_param_groups(state: dict, optimizer: torch.optim.Optimizer) -> dict:
    """A state_dict from the numba engine carries no param_groups; the config gives the same ones."""
    if "param_groups" in state:
        return state
    return {"state": state.get("state", {}), "param_groups": optimizer.state_dict()["param_groups"]}


def _kernel_snapshots(kernel, sequence: ToySequence, step: int, loss_values: list[float]) -> list[Snapshot]:
    """Every procedure (argmax) on every model, run by the numba kernel."""
    predicted = _kernel_rows(kernel, sequence)
    return snapshots_from(predicted, sequence, step, loss_values)


def _kernel_rows(kernel, sequence: ToySequence) -> dict[str, np.ndarray]:
    """Each procedure's predicted symbols ((N, steps)): by the kernel where it implements the procedure, else by
    torch on the stack's current weights (written back first)."""
    inputs = sequence.inputs.numpy()
    rows: dict[str, np.ndarray] = {}
    for mode in procedures.NAMES:
        procedure = procedures.get(mode)
        if kernel.runs(procedure):
            rows[mode] = kernel.run_procedure(procedure, inputs, procedure.steps(sequence.steps))
        else:
            kernel.write_back(kernel.params)
            rows[mode] = run_procedure(kernel.model, sequence, mode).predicted[:, 0].numpy()
    return rows


def _kernel_loop(kernel, kernel_params, config: Config, sequence: ToySequence, coins, step, histories, losses, latest,
                 on_step, should_stop):  # fmt: skip
    """The training loop on the numba engine: one kernel call per stretch of steps up to the next snapshot.

    Mirrors the torch loop: snapshots at every `snapshot_every` step (before that step's update, with its
    loss), scheduled sampling's coins drawn from the same generator in the same order (one (N,) draw per step
    and input after the first), and on a non-finite loss at step s the run stops there: the weights before the
    update that broke them (step s - 1) are returned as the last good ones. Returns
    (step, latest, interrupted, fault, last_good).
    """
    from seqdiag.engine import POLICY_CODES, unpack

    train_config = config.train
    every, total = train_config.snapshot_every, train_config.steps
    n, steps = kernel.n, sequence.steps
    inputs, targets = sequence.inputs.numpy(), sequence.targets.numpy()
    policy = POLICY_CODES[train_config.policy]
    first_step = step
    interrupted = False
    fault: str | None = None
    last_good = None
    while step < total:
        if should_stop is not None and should_stop():
            interrupted = True
            break
        end = min(total, (step // every + 1) * every)
        count = end - step
        predicted = None
        if step % every == 0:
            predicted = _kernel_rows(kernel, sequence)
        epsilons = [training_policy(train_config, s).epsilon for s in range(step, end)]
        drawn = None
        if train_config.policy == "scheduled":
            flips = torch.zeros(count, steps, n)
            flips[:, 1:] = torch.rand((count, steps - 1, n), generator=coins)  # the torch loop's draws, in order
            drawn = flips.numpy()
        saved = kernel.snapshot()
        taken, chunk = kernel.train(count, policy, epsilons, inputs, targets, drawn)
        if taken < count:
            bad = next(float(v) for v in chunk[taken] if not math.isfinite(float(v)))
            fault = f"loss became {bad} at step {step + taken}"
            # Other blocks of models ran past the fault: rerun every model from the stretch's start to it.
            kernel.restore(saved)
            kernel.train(taken, policy, epsilons[:taken], inputs, targets, None if drawn is None else drawn[:taken])
            if step + taken > first_step:
                last_good = unpack(kernel.prev, kernel_params)
        if predicted is not None and taken > 0:
            snaps = snapshots_from(predicted, sequence, step, chunk[0].tolist())
            for history, snap in zip(histories, snaps, strict=True):
                history.append(snap)
            latest = histories[0][-1]
        values = chunk[:taken].T.tolist()  # (N, taken)
        for i in range(n):
            losses[i].extend(values[i])
        step += taken
        if fault is not None:
            break
        if on_step is not None and taken > 0:
            on_step(TrainProgress(step, total, losses[0][-1], latest, tuple(values[0])))
    return step, latest, interrupted, fault, last_good
