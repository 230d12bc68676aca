"""The depth sections of `compare`: policy matrix, hidden-state drift, input reliance, error recovery, counting and
stability, stochastic rollouts. Each is drawn only when its measurement is in the report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.table import Table
from rich.text import Text

from seqdiag.render.common import (
    cell_mark,
    fitted_table,
    steps_after,
)
from seqdiag.sparkline import sparkline

if TYPE_CHECKING:
    from seqdiag.report import CompareReport


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
            text.append_text(cell_mark(c.end_symbol))
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
            text.append_text(steps_after(injection.continues_after))
            text.append(", back ")
            text.append_text(steps_after(injection.resyncs_after))
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
