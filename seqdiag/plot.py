"""Figures of a run (or a sweep) as PNG and SVG files, for issue threads, notebooks and papers.

matplotlib is an optional extra (`pip install -e '.[plot]'`), imported only when a figure is drawn.
Figures are drawn on matplotlib's Agg canvas directly, never through pyplot, so plotting needs no display
and leaves a notebook's pyplot state alone. Every file is written atomically.

From a run directory:

- loss:      the training loss at every step (log scale), with the history's checkpoints marked;
- accuracy:  each procedure's share of targets right at every checkpoint;
- p_target:  p(target) at every step of each procedure, for the final model (wrong steps marked);
- hidden:    the hidden state, unit by step, of each procedure (one heatmap per procedure);
- drift:     per step, the distance of each procedure's hidden state to the teacher-forced one.

From a sweep's JSON (`seqdiag sweep --json`): per procedure and training policy, the share of seeds with the
pattern right at the end, with its 95% interval.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from seqdiag import procedures
from seqdiag.errors import SeqdiagError
from seqdiag.history import Snapshot

INSTALL_HINT = "pip install matplotlib (from a checkout: pip install -e '.[plot]')"
FORMATS = ("png", "svg")
_PALETTE = ("#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
_MARKERS = ("o", "s", "^", "x", "D", "v", "P", "*")
# One colour and line per procedure, the same in every figure, in registry order; a consistency check
# (refeed) is dashed, drawn over the procedure it must equal.
MODE_STYLE = {
    p.name: {
        "color": _PALETTE[i % len(_PALETTE)],
        "linestyle": "--" if p.same_as else "-",
        "marker": _MARKERS[i % len(_MARKERS)],
    }
    for i, p in enumerate(procedures.REGISTRY.values())
}


def legend_label(mode: str) -> str:
    """A procedure in a legend: its name and its label from the registry ("zeros (zero inputs)")."""
    return f"{mode} ({procedures.REGISTRY[mode].label})" if mode in procedures.REGISTRY else mode


# Wider lines first, so a procedure that coincides with an earlier one still shows under it.
LINE_WIDTH = {name: max(1.2, 6.0 - 2.2 * i) for i, name in enumerate(procedures.NAMES)}
DPI = 120


class PlotUnavailable(SeqdiagError):
    """matplotlib is not installed."""


@dataclass(frozen=True)
class ProcedureCurve:
    """What the final model does under one procedure, step by step."""

    mode: str
    p_target: list[float]
    correct: list[bool]
    hidden: list[list[float]]  # (steps, hidden units)
    drift: list[float]  # distance to the teacher-forced hidden state per step


@dataclass(frozen=True)
class RunCurves:
    """Everything the run figures draw, read from a run (no model inside)."""

    title: str
    losses: list[float]  # loss before each update, index = step
    history: list[Snapshot]
    procedures: dict[str, ProcedureCurve]
    targets: str
    drift_tolerance: float
    train_policy: str = "teacher"  # what training fed, so the loss says what it measures


@dataclass(frozen=True)
class FigureFile:
    name: str
    title: str
    paths: list[str]


@dataclass(frozen=True)
class PlotResult:
    source: str
    kind: str  # "run" or "sweep"
    out: str
    figures: list[FigureFile] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        from seqdiag.schema import SCHEMA_VERSION

        return {
            "schema_version": SCHEMA_VERSION,
            "command": "plot",
            "source": self.source,
            "kind": self.kind,
            "out": self.out,
            "figures": [{"name": f.name, "title": f.title, "paths": f.paths} for f in self.figures],
        }


def require_matplotlib() -> None:
    """Raises PlotUnavailable, with the install command, when matplotlib cannot be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlotUnavailable(f"seqdiag plot draws with matplotlib, which is not installed: {INSTALL_HINT}") from None


def run_curves(result: Any, title: str) -> RunCurves:
    """Run every procedure (argmax) on a trained run's first model and collect what the figures draw."""
    from seqdiag.probes import DRIFT_TOLERANCE, hidden_drift
    from seqdiag.sampling import sample_all

    traces = sample_all(result.model, result.sequence, seed=result.config.seed)
    teacher_hidden = [s.hidden for s in traces["teacher"].steps]
    procedures = {
        mode: ProcedureCurve(
            mode=mode,
            p_target=[s.p_target for s in trace.steps],
            correct=[s.correct for s in trace.steps],
            hidden=[s.hidden for s in trace.steps],
            drift=hidden_drift(teacher_hidden, [s.hidden for s in trace.steps]).distances,
        )
        for mode, trace in traces.items()
    }
    return RunCurves(
        title=title,
        losses=list(result.losses[0]),
        history=list(result.history),
        procedures=procedures,
        targets=result.sequence.target_text(),
        drift_tolerance=DRIFT_TOLERANCE,
        train_policy=result.config.train.policy,
    )


def _new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure, out: Path, name: str, formats: Sequence[str]) -> list[str]:
    from seqdiag.atomic import write_atomic

    paths = []
    for fmt in formats:
        path = out / f"{name}.{fmt}"
        try:
            write_atomic(path, partial(_savefig, figure, fmt))
        except OSError as exc:
            raise SeqdiagError(f"{path}: cannot write the figure ({exc.strerror or exc})") from None
        paths.append(str(path))
    return paths


def _savefig(figure: Any, fmt: str, path: Path) -> None:
    """Save with no date and fixed SVG ids, so the same run gives byte-identical files (diffable in docs/)."""
    import matplotlib

    with matplotlib.rc_context({"svg.hashsalt": "seqdiag"}):
        figure.savefig(path, format=fmt, dpi=DPI, metadata={"Date": None} if fmt in ("svg", "pdf") else None)


def _make_folder(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SeqdiagError(f"--out {str(out)!r}: cannot create the folder ({exc.strerror or exc})") from None


def _legend(ax, **kwargs) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False, **kwargs)


def _running_mean(values: Sequence[float], window: int) -> list[float]:
    """Mean of the last `window` values at each index (fewer at the start)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


MAX_LABELLED_STEPS = 40  # beyond this, step axes show numbers instead of one target symbol per tick


def _step_axis(ax, targets: str) -> None:
    """Label the step axis with the target symbols when they fit, with step numbers otherwise."""
    if len(targets) <= MAX_LABELLED_STEPS:
        ax.set_xlabel("step t (target symbol below)")
        ax.set_xticks(range(len(targets)))
        ax.set_xticklabels(list(targets), fontsize=7)
    else:
        ax.set_xlabel("step t")


def _missing_steps(proc: ProcedureCurve, curves: RunCurves) -> str:
    """ " · no step at t=30" when a procedure stops before the last target (the zeros sampler), else ""."""
    done, total = len(proc.p_target), len(curves.targets)
    if done >= total:
        return ""
    return f" · no step at t={done}" if done == total - 1 else f" · no steps at t={done}–{total - 1}"


def loss_figure(curves: RunCurves):
    figure = _new_figure(8, 4)
    ax = figure.add_subplot()
    steps = list(range(len(curves.losses)))
    ax.plot(steps, curves.losses, color="#bbbbbb", linewidth=0.8, label="loss at each step")
    window = max(1, len(curves.losses) // 100)
    if window > 1:
        ax.plot(
            steps,
            _running_mean(curves.losses, window),
            color="#222222",
            linewidth=1.4,
            label=f"running mean over {window} steps",
        )
    snaps = [s for s in curves.history if s.loss > 0]
    ax.plot(
        [s.step for s in snaps],
        [s.loss for s in snaps],
        linestyle="none",
        marker="o",
        markersize=4,
        color="#ff7f0e",
        label=f"checkpoint ({len(curves.history)} snapshots in the history)",
    )
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("cross-entropy (log scale)")
    ax.set_title(f"Training loss, fed by the {curves.train_policy} policy — {curves.title}")
    ax.grid(True, which="major", alpha=0.3)
    _legend(ax, loc="upper right")
    return figure


def accuracy_figure(curves: RunCurves):
    figure = _new_figure(8, 4)
    ax = figure.add_subplot()
    steps = [s.step for s in curves.history]
    for mode in curves.procedures:
        style = dict(MODE_STYLE.get(mode, {}), marker=None)
        values = [s.accuracy.get(mode, float("nan")) for s in curves.history]
        ax.plot(
            steps,
            values,
            label=legend_label(mode),
            linewidth=LINE_WIDTH.get(mode, 1.2),
            drawstyle="steps-post",
            alpha=0.45 if mode == "teacher" else 0.9,
            **style,
        )
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("training step (checkpoint)")
    ax.set_ylabel(f"share of the {len(curves.targets)} targets right")
    ax.set_title(f"Each procedure through training — {curves.title}")
    ax.grid(True, alpha=0.3)
    _legend(ax, loc="lower right", title="overlapping lines are drawn\nwide under narrow", title_fontsize=8)
    return figure


def p_target_figure(curves: RunCurves):
    modes = list(curves.procedures)
    figure = _new_figure(9, 1.6 * len(modes) + 0.8)
    axes = figure.subplots(len(modes), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
    for ax, mode in zip(axes, modes, strict=True):
        proc = curves.procedures[mode]
        style = MODE_STYLE.get(mode, {})
        t = list(range(len(proc.p_target)))
        ax.bar(t, proc.p_target, color=style.get("color", "#444444"), width=0.8, label="p(target)")
        wrong = [i for i, ok in enumerate(proc.correct) if not ok]
        if wrong:
            ax.plot(wrong, [1.08] * len(wrong), linestyle="none", marker="v", color="black", label="wrong prediction")
        ax.set_ylim(0, 1.18)
        ax.set_yticks([0, 0.5, 1])
        right = sum(proc.correct)
        ax.set_ylabel(mode, rotation=0, ha="right", va="center", fontweight="bold")
        ax.set_title(f"{right}/{len(curves.targets)} right{_missing_steps(proc, curves)}", loc="right", fontsize=9)
        ax.grid(True, axis="y", alpha=0.3)
    _step_axis(axes[-1], curves.targets)
    handles, labels = [], []
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels and label != "p(target)":
                handles.append(h)
                labels.append(label)
    if handles:
        figure.legend(handles, labels, loc="outside upper right", frameon=False)
    figure.suptitle(f"p(target) at each step, final model — {curves.title}")
    return figure


def hidden_figure(curves: RunCurves):
    modes = list(curves.procedures)
    units = len(next(iter(curves.procedures.values())).hidden[0])
    figure = _new_figure(9, min(0.12 * units + 0.7, 2.6) * len(modes) + 0.8)
    axes = figure.subplots(len(modes), 1, sharex=True, squeeze=False)[:, 0]
    image = None
    steps = len(curves.targets)
    for ax, mode in zip(axes, modes, strict=True):
        proc = curves.procedures[mode]
        matrix = [list(col) for col in zip(*proc.hidden, strict=True)]  # (units, steps)
        image = ax.imshow(
            matrix,
            aspect="auto",
            cmap="RdBu_r",
            vmin=-1,
            vmax=1,
            interpolation="nearest",
            extent=(-0.5, len(proc.hidden) - 0.5, units - 0.5, -0.5),
        )
        ax.set_xlim(-0.5, steps - 0.5)
        ax.set_ylabel(f"{mode}\nunit", fontweight="bold")
        ax.set_yticks([0, units - 1])
        if len(proc.hidden) < steps:
            ax.set_title(_missing_steps(proc, curves).lstrip(" ·"), loc="right", fontsize=8)
    _step_axis(axes[-1], curves.targets)
    if image is not None:
        figure.colorbar(image, ax=list(axes), label="hidden unit value", shrink=0.8)
    figure.suptitle(f"Hidden state per procedure, final model — {curves.title}")
    return figure


def drift_figure(curves: RunCurves):
    figure = _new_figure(8, 4)
    ax = figure.add_subplot()
    for mode, proc in curves.procedures.items():
        if mode == "teacher":
            continue
        style = MODE_STYLE.get(mode, {})
        ax.plot(range(len(proc.drift)), proc.drift, label=legend_label(mode), markersize=4, linewidth=1.2, **style)
    ax.axhline(
        curves.drift_tolerance,
        color="#888888",
        linestyle=":",
        label=f"band {curves.drift_tolerance:g} (beyond it: off the trajectory)",
    )
    ax.set_xlabel("step t")
    ax.set_ylabel("L2 distance to teacher-forced hidden state")
    ax.set_title(f"Hidden-state drift from the teacher-forced trajectory — {curves.title}")
    top = max((max(p.drift, default=0.0) for p in curves.procedures.values()), default=0.0)
    top = max(top, curves.drift_tolerance)
    ax.set_ylim(-0.04 * top, 1.08 * top)  # a procedure that never leaves stays visible on the zero line
    ax.grid(True, alpha=0.3)
    _legend(ax, loc="best")
    return figure


RUN_FIGURES: dict[str, tuple[str, Callable[[RunCurves], Any]]] = {
    "loss": ("training loss with checkpoints", loss_figure),
    "accuracy": ("each procedure's accuracy through training", accuracy_figure),
    "p_target": ("p(target) per step per procedure", p_target_figure),
    "hidden": ("hidden state heatmap per procedure", hidden_figure),
    "drift": ("hidden-state distance to teacher-forced per step", drift_figure),
}


def plot_run(curves: RunCurves, out: Path, source: str, formats: Sequence[str] = FORMATS) -> PlotResult:
    """Write the run figures into `out` (created); one file per figure and format."""
    require_matplotlib()
    _make_folder(out)
    figures = []
    for name, (title, draw) in RUN_FIGURES.items():
        figures.append(FigureFile(name, title, _save(draw(curves), out, name, formats)))
    return PlotResult(source, "run", str(out), figures)


def read_sweep(path: Path) -> dict[str, Any]:
    """A sweep's JSON output (`seqdiag sweep --json > sweep.json`, with or without --grid).

    Raises:
        SeqdiagError: the file is unreadable or not a sweep result.
    """
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SeqdiagError(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(data, dict) or data.get("command") not in ("sweep", "sweep-grid"):
        found = (
            f"command {data['command']!r}"
            if isinstance(data, dict) and "command" in data
            else "no 'command' key"
            if isinstance(data, dict)
            else f"a JSON {type(data).__name__}"
        )
        raise SeqdiagError(f"{path}: expected the JSON of `seqdiag sweep --json`, found {found}")
    return data


def sweep_rates(data: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """training policy -> procedure -> rates (right_at_end, seeds, share, ci95), from a sweep's JSON.

    Raises:
        SeqdiagError: a policy or procedure lacks the documented keys.
    """
    policies = data.get("policies") or {data.get("policy", "?"): {"rates": data.get("rates", {})}}
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for policy, sweep in policies.items():
        rates = sweep.get("rates") if isinstance(sweep, dict) else None
        if not isinstance(rates, dict) or not rates:
            raise SeqdiagError(f"sweep JSON: training policy {policy!r} has no rates")
        for mode, rate in rates.items():
            if not isinstance(rate, dict) or not {"right_at_end", "seeds", "share", "ci95"} <= set(rate):
                raise SeqdiagError(f"sweep JSON: rates of {mode!r} under {policy!r} lack right_at_end/seeds/share/ci95")
        out[str(policy)] = rates
    return out


def sweep_figure(rates: dict[str, dict[str, dict[str, Any]]], title: str):
    """Share of seeds with the pattern right at the end, per procedure, one point per training policy, with
    its 95% interval."""
    policies = list(rates)
    modes = list(dict.fromkeys(m for r in rates.values() for m in r))
    figure = _new_figure(max(6.0, 1.6 * len(modes) + 2.5), 4.2)
    ax = figure.add_subplot()
    width = 0.7 / len(policies)
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
    for i, policy in enumerate(policies):
        xs, ys, lo, hi, labels = [], [], [], [], []
        for j, mode in enumerate(modes):
            rate = rates[policy].get(mode)
            if rate is None:
                continue
            xs.append(j + (i - (len(policies) - 1) / 2) * width)
            ys.append(rate["share"])
            lo.append(rate["share"] - rate["ci95"][0])
            hi.append(rate["ci95"][1] - rate["share"])
            labels.append(f"{rate['right_at_end']}/{rate['seeds']}")
        ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o", capsize=4, color=colors[i % len(colors)], label=policy)
        for x, y, label in zip(xs, ys, labels, strict=True):
            ax.annotate(label, (x, y), textcoords="offset points", xytext=(6, -3), fontsize=7)
    ax.set_xticks(range(len(modes)))
    ax.set_xticklabels(modes)
    ax.set_xlim(-0.6, len(modes) - 0.4)
    ax.set_ylim(-0.05, 1.08)
    ax.set_xlabel("sampling procedure")
    ax.set_ylabel("share of seeds right at the end")
    ax.set_title(f"Pattern right at the end of training, 95% Wilson intervals — {title}")
    ax.grid(True, axis="y", alpha=0.3)
    _legend(ax, loc="center left", bbox_to_anchor=(1.0, 0.5), title="training policy")
    return figure


def plot_sweep(data: dict[str, Any], out: Path, source: str, formats: Sequence[str] = FORMATS) -> PlotResult:
    """Write a sweep's rates-with-intervals figure into `out` (created)."""
    require_matplotlib()
    seeds = data.get("seeds")
    title = f"{seeds} seeds" if seeds is not None else Path(source).stem
    if data.get("command") == "sweep-grid":  # one figure per grid cell, named by its position and values
        cells = data.get("cells")
        if not isinstance(cells, list) or not cells:
            raise SeqdiagError(f"{source}: a grid sweep without cells")
        parts = [
            (f"rates_cell{i}", ", ".join(f"{k}={v}" for k, v in (cell.get("values") or {}).items()), cell)
            for i, cell in enumerate(cells)
        ]
    else:
        parts = [("rates", "", data)]
    _make_folder(out)
    figures = []
    for name, values, sweep in parts:
        label = f"{title}\n{values}" if values else title
        paths = _save(sweep_figure(sweep_rates(sweep), label), out, name, formats)
        figures.append(
            FigureFile(name, "rates with 95% intervals per policy" + (f" ({values})" if values else ""), paths)
        )
    return PlotResult(source, "sweep", str(out), figures)
