"""`seqdiag compare`: the header, the per-step table, the history through training, the verdict panel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from seqdiag.render.common import (
    SEVERITY_STYLE,
    ZERO_INPUT,
    fitted_table,
    header,
    input_cell,
    marked_output,
    prediction_cell,
)
from seqdiag.render.depth import depth_tables
from seqdiag.sparkline import history_glance, sparkline

if TYPE_CHECKING:
    from seqdiag.diagnosis import Finding, Verdict
    from seqdiag.report import CompareReport
    from seqdiag.sampling import Trace


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
                        (f"{input_cell(step.input)}→", "dim"),
                        prediction_cell(trace, t),
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
        row += [marked_output(snap.outputs[m], targets, HISTORY_WIDTH) for m in shown_modes]
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
    return verdict_box(report.verdict)


def verdict_box(verdict: Verdict) -> Panel:
    """The verdict's sentence, its findings as compiler diagnostics, and the fix (compare and check alike)."""
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
