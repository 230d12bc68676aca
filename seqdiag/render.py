"""The rendering layer: every Rich table, panel and progress bar lives here, and nowhere else.

Results go to stdout; progress, warnings and errors to stderr, so `--json | jq` always works.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from seqdiag.config import Config, PresetSummary, describe
from seqdiag.diagnosis import Finding
from seqdiag.plot import PlotResult
from seqdiag.report import CompareReport, RunInfo, SampleReport
from seqdiag.sampling import Trace
from seqdiag.sparkline import groups, history_glance, sparkline

ZERO_INPUT = "∅"
SEVERITY_STYLE = {"error": "bold red", "warning": "bold yellow", "note": "bold cyan"}


MIN_FILE_WIDTH = 120  # when stdout is a file or a pipe, wide enough for the tables, not Rich's 80


def stdout_console(record: bool = False) -> Console:
    """The console results are printed on; `record=True` keeps what it printed for `save_recording`."""
    console = Console(highlight=False, record=record)
    if not console.is_terminal:
        console = Console(highlight=False, width=max(MIN_FILE_WIDTH, console.width), record=record)
    return console


def save_recording(console: Console, path: Path, title: str = "seqdiag") -> Path:
    """Write what a recording console printed to `path`, as SVG, HTML or plain text by its suffix, atomically.

    The export is the terminal output itself (same width, same colours), ready to paste into an issue.
    """
    from seqdiag.atomic import write_text_atomic

    suffix = path.suffix.lower()
    if suffix == ".svg":
        content = console.export_svg(title=title, clear=False)
    elif suffix == ".html":
        content = console.export_html(clear=False)
    elif suffix == ".txt":
        content = console.export_text(clear=False)
    else:
        raise ValueError(f"{path}: unknown export format {suffix!r}")
    return write_text_atomic(path, content)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


CAPTION_WIDTH = 100  # a caption wraps at no less than this, whatever the table's own width


def fitted_table(*, title: str | None = None, caption: str | None = None, **kwargs: Any) -> Table:
    """A Table at least as wide as its title, and wide enough that a long caption folds into a few lines
    rather than a narrow column of words."""
    widest = max(len(title or "") + 2, min(len(caption or ""), CAPTION_WIDTH))
    return Table(title=title, caption=caption, min_width=widest, **kwargs)


def error(console: Console, message: str) -> None:
    console.print(Text("error: ", style="bold red") + Text(message))


def header(command: str, config: Config, run: RunInfo) -> Group:
    title = Text.assemble(
        (f"seqdiag {command}", "bold"),
        f"  seed {run.seed} · engine {run.engine} · torch {run.torch_version} · seqdiag {run.seqdiag_version} · ",
        f"{run.source}, {run.steps_done} steps",
        (" (interrupted)" if run.interrupted else "", "yellow"),
    )
    return Group(title, Text(describe(config), style="dim"))


def _input_cell(symbol: str | None) -> str:
    return ZERO_INPUT if symbol is None else symbol


def _prediction_cell(trace: Trace, t: int) -> Text:
    if t >= len(trace.steps):
        return Text("—", style="dim")
    step = trace.steps[t]
    mark = "✓" if step.correct else "✗"
    text = Text(f"{step.predicted}{mark}", style="green" if step.correct else "red")
    if t == trace.first_divergence:
        text.stylize("reverse")
    return text


def per_step_table(traces: dict[str, Trace]) -> Table:
    """Target, then per procedure one cell: the input fed, the prediction (right/wrong), p(target)."""
    table = fitted_table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 1),
        title="Per step",
        caption=f"cell = input fed → prediction ✓/✗ p(target) · {ZERO_INPUT} = zero vector · < = first divergence",
    )
    table.add_column("t", justify="right", style="dim")
    table.add_column("target", justify="center")
    for mode in traces:
        table.add_column(mode, justify="left", no_wrap=True)
    first = next(iter(traces.values()))
    for t, target in enumerate(first.targets):
        cells: list[str | Text] = [str(t), target]
        for trace in traces.values():
            if t < len(trace.steps):
                step = trace.steps[t]
                marker = " <" if t == trace.first_divergence else ""  # visible in plain text and exports too
                cells.append(
                    Text.assemble(
                        (f"{_input_cell(step.input)}→", "dim"),
                        _prediction_cell(trace, t),
                        f" {step.p_target:.2f}",
                        (marker, "bold red"),
                    )
                )
            else:
                cells.append(Text("  — no step", style="dim"))
        table.add_row(*cells)
    table.add_section()
    summary: list[str | Text] = ["", Text("right", style="bold")]
    summary += [Text(f"{trace.correct_count}/{len(trace.targets)}", style="bold") for trace in traces.values()]
    table.add_row(*summary)
    return table


def _marked_output(output: str, targets: str, limit: int | None = None) -> Text:
    """The output, each symbol green if right and red if wrong; longer than `limit`, cut to fit it with …"""
    cut = limit is not None and len(output) > limit
    text = Text()
    for got, want in list(zip(output, targets, strict=False))[: limit - 1 if cut and limit else None]:
        text.append(got, style="green" if got == want else "bold red")
    if cut:
        text.append("…", style="dim")
    return text


HISTORY_WIDTH = 31  # characters of each output the history table shows: three such columns fit in 120


def history_table(report: CompareReport, max_rows: int = 16) -> Table:
    """Each procedure's output at the checkpoints where anything changed, plus change counts and right shares."""
    history = report.history
    targets = report.traces["teacher"].targets
    keep = (
        [0] + [i for i in range(1, len(history)) if history[i].outputs != history[i - 1].outputs] + [len(history) - 1]
    )
    keep = sorted(set(keep))
    if len(keep) > max_rows:  # keep the first, the last, and evenly spread changes between
        inner = keep[1:-1]
        stride = len(inner) / (max_rows - 2)
        keep = [keep[0], *[inner[int(i * stride)] for i in range(max_rows - 2)], keep[-1]]
    shown_modes = [m for m in report.traces if m != "refeed"]
    refeed_note = ""
    if "refeed" in report.traces:
        same = sum(s.outputs["refeed"] == s.outputs["free"] for s in history)
        refeed_note = f" · refeed = free at {same}/{len(history)} checkpoints"
    table = fitted_table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title="Through training",
        caption=f"{len(history)} checkpoints, shown where an output changed"
        + (f" ({len(keep)} rows)" if len(keep) < len(history) else "")
        + f" · red = wrong symbol{refeed_note}"
        + (f" · outputs cut to {HISTORY_WIDTH - 1} symbols (whole in --json)" if len(targets) > HISTORY_WIDTH else ""),
    )
    table.add_column("step", justify="right", no_wrap=True)
    table.add_column("loss", justify="right", no_wrap=True)
    for mode in shown_modes:
        table.add_column(mode, no_wrap=True)
    for i in keep:
        snap = history[i]
        row: list[str | Text] = [str(snap.step), f"{snap.loss:.4f}"]
        row += [_marked_output(snap.outputs[m], targets, HISTORY_WIDTH) for m in shown_modes]
        table.add_row(*row)
    table.add_section()
    for label, value in (
        ("changes", lambda s: f"{s.changes}×"),
        ("right", lambda s: f"pattern at {s.right}/{s.checkpoints}, reverted {s.reverts}×"),
    ):
        table.add_row(label, "", *[value(report.history_stats[m]) for m in shown_modes], style="bold")
    return table


def finding_text(finding: Finding) -> Text:
    text = Text()
    text.append(f"{finding.severity}[{finding.id}]", style=SEVERITY_STYLE[finding.severity])
    text.append(f": {finding.title}\n", style="bold")
    text.append(f"  --> {finding.where}\n", style="blue")
    for line in finding.evidence:
        text.append("   = ", style="blue")
        text.append(line + "\n")
    if finding.help:
        text.append("  help: ", style="bold green")
        text.append(finding.help + "\n")
    return text


def verdict_panel(report: CompareReport) -> Panel:
    verdict = report.verdict
    parts: list[Text] = [Text(verdict.headline, style="bold"), Text("")]
    parts += [finding_text(f) for f in verdict.findings]
    parts.append(Text.assemble(("fix: ", "bold green"), verdict.fix))
    return Panel(Group(*parts), title="Verdict", title_align="left", border_style="bold")


def _right_strip(shares: list[float]) -> Text:
    """A "right at checkpoint" strip: █ green where the pattern was right, ▁ red where wrong, yellow blocks mixed."""
    text = Text()
    for share, block in zip(shares, sparkline(shares, low=0.0, high=1.0), strict=True):
        text.append(block, style="green" if share == 1 else "red" if share == 0 else "yellow")
    return text


def history_glance_table(report: CompareReport) -> Group | None:
    """The history at a glance: the loss as a sparkline over the checkpoints, and per procedure a strip of the
    checkpoints at which it got the pattern right, in the same columns."""
    modes = [m for m in report.traces if m != "refeed"]
    glance = history_glance(report.history, report.losses, modes, report.traces["teacher"].targets)
    if glance is None:
        return None
    per_cell = "" if glance.checkpoints_per_cell == 1 else f", up to {glance.checkpoints_per_cell} per column"
    legend = Text(
        f"one column per checkpoint{per_cell}, steps {glance.first_step}–{glance.last_step} · "
        "█ = pattern right, ▁ = wrong",
        style="dim",
    )
    table = fitted_table(box=None, pad_edge=False, show_header=False, title="At a glance", title_justify="left")
    table.add_column(justify="right", style="bold")
    table.add_column(no_wrap=True)
    table.add_column(style="dim")
    table.add_row("loss", glance.loss, f"{glance.loss_first:.4f} → {glance.loss_last:.4f} (mean per column, log scale)")
    for mode, shares in glance.right.items():
        stats = report.history_stats[mode]
        summary = f"right at {stats.right}/{stats.checkpoints}, reverted {stats.reverts}×"
        table.add_row(mode, _right_strip(shares), summary)
    return Group(table, legend)  # the legend as its own line: a caption would wrap at the strips' width


def render_compare(console: Console, report: CompareReport) -> None:
    console.print(header("compare", report.config, report.run))
    # The answer first: the verdict's one sentence, then the evidence, then the ranked findings.
    console.print(Text.assemble(("\nverdict: ", "bold"), (report.verdict.headline, "bold"), " (findings at the end)\n"))
    sections = [per_step_table(report.traces), history_table(report), history_glance_table(report)]
    for section in [*sections, *depth_tables(report)]:
        if section is not None:
            console.print(section)
            console.print()
    console.print(verdict_panel(report))


def p_target_strip(trace: Trace) -> Text:
    """p(target) per step as blocks from ▁ (0) to █ (1), under the generated symbols; red where the step is wrong."""
    text = Text()
    blocks = sparkline([s.p_target for s in trace.steps], low=0.0, high=1.0)
    for step, block in zip(trace.steps, blocks, strict=True):
        text.append(block, style="green" if step.correct else "red")
    return text


def render_sample(console: Console, report: SampleReport) -> None:
    trace = report.trace
    console.print(header(f"sample --mode {report.mode}", report.config, report.run))
    if report.mode in ("teacher", "zeros"):  # their inputs do not depend on the predictions: never sampled
        decoding = "argmax; --temperature applies to free and refeed"
    elif report.decoding.temperature == 0:
        decoding = "argmax"
    else:
        decoding = f"temperature {report.decoding.temperature:g}, top-k {report.decoding.top_k or 'all'}"
    console.print(
        Text.assemble(("generated  ", "bold"), _marked_output(trace.output, trace.targets), f"   ({decoding})")
    )
    console.print(Text.assemble(("target     ", "bold"), trace.targets))
    console.print(Text.assemble(("p(target)  ", "bold"), p_target_strip(trace)))
    table = fitted_table(box=box.SIMPLE_HEAD, pad_edge=False, title=f"{report.mode}: per step")
    for name, justify in (
        ("t", "right"),
        ("input", "center"),
        ("predicted", "center"),
        ("target", "center"),
        ("p(pred)", "right"),
        ("p(target)", "right"),
        ("entropy", "right"),
        ("|h|", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for s in trace.steps:
        norm = sum(v * v for v in s.hidden) ** 0.5
        table.add_row(
            str(s.t),
            _input_cell(s.input),
            _prediction_cell(trace, s.t),
            s.target,
            f"{s.p_predicted:.3f}",
            f"{s.p_target:.3f}",
            f"{s.entropy:.3f}",
            f"{norm:.2f}",
        )
    console.print(table)
    end = {True: "emitted", False: "missed", None: "never reached"}[trace.end_symbol]
    divergence = "none" if trace.first_divergence is None else f"step {trace.first_divergence}"
    console.print(
        f"right {trace.correct_count}/{len(trace.targets)} · first divergence {divergence} · end symbol {end}"
    )


def render_plot(console: Console, result: PlotResult) -> None:
    """The figures `seqdiag plot` wrote, one line each."""
    console.print(Text.assemble(("seqdiag plot", "bold"), f"  {result.kind} {result.source} → {result.out}"))
    table = fitted_table(box=None, pad_edge=False, show_header=False, padding=(0, 2, 0, 0))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    table.add_column(no_wrap=True)
    for figure in result.figures:
        table.add_row(figure.name, figure.title, ", ".join(Path(p).name for p in figure.paths))
    console.print(table)


def loss_line(losses: list[float], cells: int = 60) -> Text:
    """The training loss as one line: a log-scale sparkline of the mean loss per stretch of steps, first → last."""
    parts = groups(len(losses), cells)
    means = [sum(losses[i] for i in part) / len(part) for part in parts]
    return Text.assemble(
        ("loss ", "bold"),
        sparkline(means, log=True),
        (f"  per step {losses[0]:.4f} → {losses[-1]:.4f} (log scale)", "dim"),
    )


def render_trained(
    console: Console,
    config: Config,
    run: RunInfo,
    outputs: dict[str, str],
    loss: float,
    out: Path,
    seconds: float,
    losses: list[float] | None = None,
) -> None:
    console.print(header("train", config, run))
    table = fitted_table(box=box.SIMPLE_HEAD, pad_edge=False, title=f"After {run.steps_done} steps (loss {loss:.4f})")
    table.add_column("procedure")
    table.add_column("output", no_wrap=True)
    targets = None
    for mode, output in outputs.items():
        targets = targets or output
        table.add_row(mode, output)
    console.print(table)
    if losses:
        console.print(loss_line(losses))
    console.print(f"run saved to [bold]{out}[/] in {seconds:.1f} s · next: seqdiag compare --run {out}")


def render_presets(console: Console, presets: list[PresetSummary]) -> None:
    table = fitted_table(box=box.SIMPLE_HEAD, pad_edge=False, title="Presets (seqdiag compare --config NAME)")
    for name in ("name", "task", "model", "training", "what it shows"):
        table.add_column(name, overflow="fold")
    for p in presets:
        c = p.config
        table.add_row(
            Text(p.name, style="bold"),
            f"{c.sequence.pattern!r} to {c.sequence.length} symbols",
            f"{c.model.cell} ({c.model.gate})",
            f"{c.train.optimizer} lr {c.train.lr:g}, {c.train.steps} steps",
            p.description,
        )
    console.print(table)


@contextmanager
def training_progress(console: Console, total: int, enabled: bool = True) -> Iterator:
    """A progress bar fed by the trainer's on_step callback; yields that callback."""
    from seqdiag.train import TrainProgress

    progress = Progress(
        TextColumn("[bold]training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TextColumn("free [green]{task.fields[free]}[/]  zeros [yellow]{task.fields[zeros]}[/]"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not enabled,
    )
    task = progress.add_task("train", total=total, loss="—", free="", zeros="")

    def on_step(p: TrainProgress) -> None:
        if p.step % 10 and p.step != p.total:
            return
        fields: dict[str, Any] = {"loss": f"{p.loss:.4f}"}
        if p.snapshot is not None:
            fields |= {"free": p.snapshot.outputs.get("free", ""), "zeros": p.snapshot.outputs.get("zeros", "")}
        progress.update(task, completed=p.step, **fields)

    with progress:
        yield on_step


# The depth sections of `compare`: policy matrix, hidden-state drift, input reliance, error recovery,
# counting and stability, stochastic rollouts. Each is drawn only when its measurement is in the report.


def _steps_after(value: int | None) -> Text:
    return Text("never", style="red") if value is None else Text(f"after {value}", style="green")


def _cell_mark(ok: bool | None) -> Text:
    return {True: Text("✓", style="green"), False: Text("✗", style="red"), None: Text("—", style="dim")}[ok]


def matrix_table(report: CompareReport) -> Table | None:
    m = report.matrix
    if m is None:
        return None
    table = fitted_table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title="Policy matrix: rows = what training fed, columns = what sampling feeds",
        caption="cell = right/targets · end symbol ✓/✗ (— never reached) · first divergence · * (bold) = diagonal "
        "(sampled as trained; scheduled ends feeding predictions, so its diagonal is free)",
    )
    table.add_column("train", style="bold")
    for sample in m.samples:
        table.add_column(sample, no_wrap=True)
    table.add_column("final loss", justify="right")
    for policy in m.policies:
        eps = m.row(policy).final_epsilon
        cells: list[str | Text] = [policy if eps is None else f"{policy} (ε→{eps:.2f})"]
        for sample in m.samples:
            c = m.cell(policy, sample)
            text = Text(f"{c.correct}/{c.targets}", style="green" if c.pattern_right else "red")
            text.append(" end ")
            text.append_text(_cell_mark(c.end_symbol))
            text.append(f" · {'none' if c.first_divergence is None else f'@{c.first_divergence}'}", style="dim")
            if c.diagonal:
                text.stylize("bold")
                text.append(" *", style="bold")  # visible in plain text and exports too
            cells.append(text)
        cells.append(f"{m.row(policy).final_loss:.4f}")
        table.add_row(*cells)
    return table


def drift_table(report: CompareReport) -> Table | None:
    d = report.drift
    if d is None:
        return None
    top = max((p.max_distance for p in d.procedures), default=0.0)
    table = fitted_table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title="Hidden-state drift from the teacher-forced trajectory",
        caption=f"distance = L2 per step (bars scaled to {top:.2f}) · band = {d.tolerance:g} · probe = held-out "
        f"accuracy of a linear classifier (50% = indistinguishable), trained on {d.probe}",
    )
    for name, justify in (("procedure", "left"), ("leaves band", "right"), ("max", "right"), ("probe", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.add_column("distance per step", no_wrap=True)
    for p in d.procedures:
        table.add_row(
            p.mode,
            Text("stays", style="green") if p.left_at is None else Text(f"step {p.left_at}", style="red"),
            f"{p.max_distance:.2f} @{p.max_at}",
            Text(f"{p.probe_accuracy:.0%}", style="red" if p.probe_accuracy >= 0.75 else ""),
            sparkline(p.distances, low=0.0, high=top if top > 0 else 1.0),
        )
    return table


def _reliance_cells(r) -> list[str]:
    return [
        f"{r.changed_by_other_symbol}/{r.other_symbol_trials} ({r.other_symbol_share:.0%})",
        f"{r.changed_by_zero_input}/{r.steps} ({r.zero_input_share:.0%})",
        f"{r.changed_by_state_reset}/{r.steps} ({r.state_reset_share:.0%})",
    ]


def reliance_table(report: CompareReport) -> Table:
    table = fitted_table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title="Input reliance: teacher-forced predictions changed by an ablation",
        caption="other symbol / zero vector: the input replaced, state kept · state reset: true input, fresh state "
        "· high input shares = a lookup on the input; a high state share = carried by the state",
    )
    table.add_column("model")
    for name in ("other symbol", "zero vector", "state reset"):
        table.add_column(name, justify="right")
    if report.matrix is None:
        table.add_row(f"trained {report.config.train.policy}", *_reliance_cells(report.reliance))
    else:
        for row in report.matrix.rows:
            table.add_row(f"trained {row.train}", *_reliance_cells(row.reliance))
    return table


def recovery_table(report: CompareReport) -> Table | None:
    rec = report.recovery
    if rec is None or not rec.injections:
        return None
    rows = [(f"trained {r.train}", r.recovery) for r in report.matrix.rows] if report.matrix else []
    if not rows:
        rows = [(f"trained {report.config.train.policy}", rec)]
    table = fitted_table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title="Error recovery: a wrong symbol forced into free-running",
        caption="cont. = back on the pattern continued from the injected symbol · back = back on the original "
        "targets · after r = r wrong predictions first (0 = at once) · never = not back for good by the pattern's end",
    )
    table.add_column("model", no_wrap=True)
    table.add_column("no injection", no_wrap=True)
    for injection in rec.injections:
        table.add_column(f"step {injection.step}: {injection.fed!r} for {injection.replaced!r}", no_wrap=True)
    for label, recovery in rows:
        cells: list[str | Text] = [label]
        first = recovery.baseline_first_divergence
        cells.append(Text("all right", style="green") if first is None else Text(f"off at {first}", style="red"))
        for injection in recovery.injections:
            text = Text("cont. ")
            text.append_text(_steps_after(injection.continues_after))
            text.append(", back ")
            text.append_text(_steps_after(injection.resyncs_after))
            cells.append(text)
        table.add_row(*cells)
    return table


def counting_table(report: CompareReport) -> Table | None:
    st = report.stability
    if st is None:
        return None
    spikes = st.largest_spikes(3)
    caption = (
        f"end symbol due at step {st.target_step} · loss spikes after near-convergence: {len(st.spikes)}"
        + (" (largest at " + ", ".join(f"{x.step}: {x.ratio:.1f}×" for x in spikes) + ")" if spikes else "")
        + f" · teacher-forced flips after first right: {len(st.teacher_flips)}"
    )
    table = fitted_table(
        box=box.SIMPLE_HEAD, pad_edge=False, title="Counting: the end symbol apart from the pattern", caption=caption
    )
    for name in (
        "procedure",
        "end symbol predicted at",
        "pattern right from",
        "stable from",
        "end symbol right from",
        "stable from ",
    ):
        table.add_column(name, justify="left" if name == "procedure" else "right")
    curves = {c.mode: c for c in st.curves}
    for mode, step in st.end_step.items():
        c = curves.get(mode)
        never = "never"
        cells = [
            mode,
            never if step is None else f"step {step}",
            never if c is None or c.pattern_first_right is None else str(c.pattern_first_right),
            never if c is None or c.pattern_stable_from is None else str(c.pattern_stable_from),
            never if c is None or c.end_first_right is None else str(c.end_first_right),
            never if c is None or c.end_stable_from is None else str(c.end_stable_from),
        ]
        if c is None:
            cells[2:] = ["—"] * 4
        table.add_row(*cells)
    return table


def rollouts_table(report: CompareReport) -> Table | None:
    r = report.rollouts
    if r is None:
        return None
    table = fitted_table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title=f"{r.rollouts} {r.mode} rollouts at temperature {r.temperature:g}, top-k {r.top_k or 'all'}",
        caption=f"{r.all_right}/{r.rollouts} all right · pattern right {r.pattern_right} · end symbol right "
        f"{r.end_symbol_right} · {r.distinct_outputs} distinct outputs · accuracy mean {r.accuracy_mean:.2f}, "
        f"quartiles {' / '.join(f'{q:.2f}' for q in r.accuracy_quartiles)}",
    )
    table.add_column("first divergence at steps")
    table.add_column("rollouts", justify="right")
    table.add_column("", no_wrap=True)
    top = max((count for _, _, count in r.divergence_histogram), default=0)
    for lo, hi, count in r.divergence_histogram:
        table.add_row(f"{lo}–{hi}", str(count), "█" * round(30 * count / top) if top else "")
    table.add_row("never", str(r.all_right), "")
    return table


def depth_tables(report: CompareReport) -> list[Table]:
    """The depth sections, in reading order; the reliance table is always there."""
    tables = [
        matrix_table(report),
        drift_table(report),
        reliance_table(report),
        recovery_table(report),
        counting_table(report),
        rollouts_table(report),
    ]
    return [t for t in tables if t is not None]


# `seqdiag sweep`: outcome rates over many seeds, per training policy, and grids of them.


def _interval_bar(share: float, lo: float, hi: float, width: int = 20) -> Text:
    """The 95% interval as a line on [0, 1] with the observed share as a dot: ··──●───·····."""
    cells = ["·"] * width
    for i in range(width):
        if lo <= (i + 0.5) / width <= hi:
            cells[i] = "─"
    cells[min(width - 1, int(share * width))] = "●"
    style = "green" if lo >= 0.5 else "red" if hi <= 0.5 else "yellow"
    return Text("".join(cells), style=style)


def _rate_cell(rate) -> Text:
    """right/seeds share [interval in percent], compact enough for four procedures side by side."""
    lo, hi = rate.ci95
    return Text(f"{rate.right_at_end}/{rate.seeds} {rate.share:.0%} [{lo * 100:.0f}–{hi * 100:.0f}]")


def _divergence_cell(distribution: dict, top: int = 4) -> str:
    ranked = sorted(distribution.items(), key=lambda kv: -kv[1])
    parts = [f"{'never' if step is None else f'@{step}'}×{count}" for step, count in ranked[:top]]
    return " ".join(parts) + (" …" if len(ranked) > top else "")


def sweep_rates_table(policy_sweep, n_seeds: int) -> Table:
    """One training policy's rates: a row per sampling procedure."""
    table = fitted_table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title=f"Trained with {policy_sweep.policy}: {n_seeds} seeds, {policy_sweep.steps} steps each",
        caption="right = pattern right at the last snapshot · interval = Wilson 95% · stays right = median first "
        "step from which it stays right · changes = mean output changes between snapshots, 2nd half",
    )
    table.add_column("procedure", style="bold")
    table.add_column("right", justify="right")
    table.add_column("share", justify="right")
    table.add_column("95% interval", justify="right")
    table.add_column("0 ─ 1", no_wrap=True)
    table.add_column("stays right", justify="right")
    table.add_column("changes", justify="right")
    table.add_column("first divergence of the pattern", overflow="fold")
    for name, rate in policy_sweep.rates.items():
        lo, hi = rate.ci95
        table.add_row(
            name,
            f"{rate.right_at_end}/{rate.seeds}",
            f"{rate.share:.0%}",
            f"{lo:.0%}–{hi:.0%}",
            _interval_bar(rate.share, lo, hi),
            _steps_after(rate.stable_from_median),
            f"{rate.changes_second_half:.1f}",
            _divergence_cell(rate.first_divergence),
        )
    return table


def sweep_matrix_table(result) -> Table:
    """Training policy x sampling procedure: the share right at the end, with its interval."""
    table = fitted_table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title="Rates: rows = what training fed, columns = sampling procedure",
        caption="cell = right/seeds share [Wilson 95% interval, %]",
    )
    table.add_column("train", style="bold")
    procedures = list(result.headline.rates)
    for name in procedures:
        table.add_column(name, justify="right", overflow="fold")
    for policy, policy_sweep in result.policies.items():
        table.add_row(policy, *(_rate_cell(policy_sweep.rates[name]) for name in procedures))
    return table


def _sweep_title(command: str, result) -> Group:
    import torch

    import seqdiag

    seeds = result.seeds
    title = Text.assemble(
        (f"seqdiag {command}", "bold"),
        f"  seeds {seeds[0]}..{seeds[-1]} ({len(seeds)}) · engine {result.engine} · torch {torch.__version__}"
        f" · seqdiag {seqdiag.__version__}"
        f" · {result.device} · {result.seconds:.1f} s",
    )
    return Group(title, Text(describe(result.config), style="dim"))


def render_sweep(console: Console, result) -> None:
    """A sweep: the rates table of each training policy, then (with several) the policy x procedure matrix."""
    console.print(_sweep_title("sweep", result))
    console.print(Text(f"targets {result.targets}", style="dim"))
    for policy_sweep in result.policies.values():
        console.print(sweep_rates_table(policy_sweep, len(result.seeds)))
    if len(result.policies) > 1:
        console.print(sweep_matrix_table(result))


def render_grid(console: Console, result) -> None:
    """A grid: one row per cell and training policy, the rate of every procedure with its interval."""
    first = result.cells[0][1]
    console.print(
        Text.assemble(
            ("seqdiag sweep --grid", "bold"),
            f"  {result.source} · {len(result.cells)} cells × {len(first.seeds)} seeds · {result.executor} executor"
            f" · {result.seconds:.1f} s",
        )
    )
    table = fitted_table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title="Rates per cell: right/seeds share [Wilson 95% interval, %]",
        caption="right = pattern right at the last snapshot",
    )
    for key in result.axes:
        table.add_column(key, style="bold", justify="right", min_width=len(key))
    table.add_column("train")
    procedures = list(first.rates)
    for name in procedures:
        table.add_column(name, justify="right", overflow="fold")
    for cell, sweep in result.cells:
        for policy, policy_sweep in sweep.policies.items():
            values = [str(cell.values.get(key, "")) for key in result.axes]
            table.add_row(*values, policy, *(_rate_cell(policy_sweep.rates[name]) for name in procedures))
    console.print(table)
