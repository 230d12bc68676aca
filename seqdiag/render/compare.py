"""`seqdiag compare`: the header, the per-step table, the history through training, the verdict panel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from seqdiag import history, procedures
from seqdiag.render.common import (
    SEVERITY_STYLE,
    ZERO_INPUT,
    Hanging,
    fitted_table,
    header,
    input_cell,
    prediction_cell,
    procedure_words,
)
from seqdiag.render.depth import depth_tables
from seqdiag.render.table import FittedTable, draw
from seqdiag.sparkline import MAX_CELLS, history_glance, sparkline

if TYPE_CHECKING:
    from seqdiag.findings import Finding, Verdict
    from seqdiag.report import CompareReport
    from seqdiag.sampling import Trace


def _step_cell(trace: Trace, t: int) -> Text:
    """One procedure at one step: the input fed, the prediction (✓/✗), p(target), and `<` at its first divergence."""
    if t >= len(trace.steps):
        return Text("  — no output", style="dim")
    step = trace.steps[t]
    marker = " <" if t == trace.first_divergence else ""  # visible in plain text and exports too
    return Text.assemble(
        (f"{input_cell(step.input)}→", "dim"), prediction_cell(trace, t), f" {step.p_target:.2f}", (marker, "bold red")
    )


def same_columns(traces: dict[str, Trace]) -> list[list[str]]:
    """The procedures grouped where their per-step cells are identical at every step, in order of first appearance."""
    columns: dict[tuple[str, ...], list[str]] = {}
    for mode, trace in traces.items():
        key = tuple(_step_cell(trace, t).plain for t in range(len(trace.targets)))
        columns.setdefault(key, []).append(mode)
    return list(columns.values())


def repeated_runs(keys: list[tuple[str, ...]], max_period: int = 8) -> list[tuple[int, int, int]]:
    """Where rows repeat the rows just before them: (start, end, period) with rows start..end-1 equal, row for row,
    to the `period` rows before start. Only runs of at least two whole periods are returned, left to right."""
    runs: list[tuple[int, int, int]] = []
    i = 0
    while i < len(keys):
        best: tuple[int, int, int] | None = None
        for period in range(1, max_period + 1):
            end = i + period
            while end < len(keys) and keys[end] == keys[end - period]:
                end += 1
            if end - (i + period) >= 2 * period and (best is None or end > best[1]):
                best = (i + period, end, period)
        if best is None:
            i += 1
            continue
        runs.append(best)
        i = best[1]
    return runs


def legend_lines(items: list[str], width: int) -> Text:
    """Legend items joined by ' · ', wrapped between items (never inside one) to fit `width`."""
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + 3 + len(item) <= width:
            lines[-1] += " · " + item
        else:
            lines.append(item)
    return Text("\n".join(lines), style="dim")


def per_step_table(
    traces: dict[str, Trace], collapse: bool = True, title: str = "Per position", width: int = 120
) -> Group:
    """Target, then per procedure one cell: the input fed, the prediction (right/wrong), p(target).

    Procedures whose cells are identical at every step share one column (headed `teacher = free`), and with
    `collapse` a run of rows that repeats the rows before it is shown as one line saying so.
    """
    groups = same_columns(traces)
    first = next(iter(traces.values()))
    rows: list[list[str | Text]] = []
    for t, target in enumerate(first.targets):
        rows.append([str(t), target, *[_step_cell(traces[group[0]], t) for group in groups]])
    keys = [tuple(c.plain if isinstance(c, Text) else c for c in row[1:]) for row in rows]
    runs = repeated_runs(keys) if collapse else []
    legend = [
        "t = position",
        "cell = input fed → prediction ✓/✗ p(target)",
        f"{ZERO_INPUT} = zero vector",
        "< = first wrong",
    ]
    if runs:
        legend.append("⋮ = repeats (--full)")
    if first.prompt:
        given = "t 0" if first.prompt == 1 else f"t 0–{first.prompt - 1}"
        legend.append(f"{given}: the prompt (given, not judged)")
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1), title=title)
    table.add_column("t", justify="right", style="dim", no_wrap=True)
    table.add_column("target", justify="center", no_wrap=True)
    for group in groups:
        table.add_column(" = ".join(group), justify="left", no_wrap=True)
    starts = {start: (end, period) for start, end, period in runs}
    t = 0
    while t < len(rows):
        if t in starts:
            end, period = starts[t]
            what = (
                f"t {t}–{end - 1} repeat t {t - period}–{t - 1}" if period > 1 else f"t {t}–{end - 1} repeat t {t - 1}"
            )
            table.add_row("⋮", "", Text(what, style="dim"), *[""] * (len(groups) - 1))
            t = end
            continue
        table.add_row(*rows[t])
        t += 1
    # The totals follow the last position directly, in bold (a section would cost a line of bare spaces).
    summary: list[str | Text] = ["", Text("right", style="bold")]
    summary += [Text(f"{traces[g[0]].correct_count}/{traces[g[0]].judged}", style="bold") for g in groups]
    table.add_row(*summary)
    return Group(table, legend_lines(legend, width))  # the legend on its own lines, not squeezed to the table's width


def sequences_table(report: CompareReport) -> FittedTable | None:
    """With several sequences: one row per sequence, each procedure's right/judged and first divergence, totals
    (the outcomes' own table)."""
    o = report.outcomes
    spec = o.table(report.shown) if o is not None else None
    return draw(spec) if spec is not None else None


def _per_step_title(report: CompareReport) -> str:
    if report.outcomes is None or len(report.outcomes.rows) < 2:
        return "Per position"
    return f"Per position: sequence {report.shown} ({report.outcomes.rows[report.shown].text!r})"


def history_table(report: CompareReport, max_rows: int = 16, width: int = 120) -> FittedTable:
    """Each procedure's output at the checkpoints where anything changed, plus change counts and right shares (the
    history's own table; with several sequences, the detailed one's piece of each output)."""
    return draw(
        history.history_table(
            report.history,
            report.history_stats,
            list(report.traces),
            report.traces["teacher"].targets,
            sequence=report.shown if report.several else None,
            max_rows=max_rows,
            width=width,
        )
    )


SHORT_EVIDENCE = 3  # evidence lines of an error in the default output; --full shows them all


def finding_text(finding: Finding, max_evidence: int | None = None, parts: list[Finding] | None = None) -> Group:
    """A finding as a compiler diagnostic: `severity[id]: title`, where, the evidence lines, the help line; a line
    that wraps continues under its own text (`Hanging`), never back at column 1.

    `parts` (findings restating its cause) become evidence lines of their own, always shown."""
    from seqdiag.fixes import describe_tested

    lines: list[RenderableType] = [
        Hanging(
            Text.assemble(
                (f"{finding.severity}[{finding.id}]", SEVERITY_STYLE[finding.severity]), (f": {finding.title}", "bold")
            ),
            2,
        ),
        Hanging(Text(f"  --> {finding.where}", style="blue"), 6),
    ]
    shown = finding.evidence if max_evidence is None else finding.evidence[:max_evidence]
    for line in shown:
        lines.append(Hanging(Text.assemble(("   = ", "blue"), line), 5))
    for part in parts or []:
        lines.append(
            Hanging(Text.assemble(("   = ", "blue"), (f"[{part.id}] ", SEVERITY_STYLE[part.severity]), part.title), 5)
        )
    if len(shown) < len(finding.evidence):
        lines.append(Text(f"   … {len(finding.evidence) - len(shown)} more (--full)", style="dim"))
    if finding.help:
        lines.append(Hanging(Text.assemble(("  help: ", "bold green"), finding.help), 8))
    if finding.tested is not None:
        lines.append(Hanging(Text.assemble(("  tested: ", "bold green"), describe_tested(finding.tested)), 10))
    lines.append(Text(""))  # a blank line after each finding
    return Group(*lines)


def _cause_severity(verdict: Verdict, finding_id: str) -> str | None:
    return next((f.severity for f in verdict.findings if f.id == finding_id), None)


def finding_line(finding: Finding, same_help_as: str | None = None) -> Group:
    """A finding in one line (its help on a second): `severity[id]: title`, for the default output; a line that
    wraps continues under its own text.

    `same_help_as`: the id of a finding shown above with the same help, which is then not repeated."""
    title = Text()
    title.append(f"{finding.severity}[{finding.id}]", style=SEVERITY_STYLE[finding.severity])
    title.append(f": {finding.title}")
    lines: list[RenderableType] = [Hanging(title, 2)]
    if finding.help and finding.severity != "note":
        help_ = finding.help if same_help_as is None else f"as for {same_help_as}"
        lines.append(Hanging(Text.assemble(("  help: ", "bold green"), help_), 8))
    if finding.tested is not None:
        from seqdiag.fixes import describe_tested

        lines.append(Hanging(Text.assemble(("  tested: ", "bold green"), describe_tested(finding.tested)), 10))
    return Group(*lines)


def verdict_panel(report: CompareReport, full: bool = True) -> Panel:
    """compare's findings and fix; its verdict sentence is printed once, above the tables, not repeated here."""
    return verdict_box(report.verdict, full=full, headline=False, notes_by_id=True)


def notes_line(notes: list[Finding]) -> Text:
    """The notes of the default output by id alone: what they measured is in --full, what each means in
    `seqdiag explain ID`."""
    text = Text()
    text.append("notes", style=SEVERITY_STYLE["note"])
    text.append(": " + ", ".join(f.id for f in notes))
    text.append(" (in --full; seqdiag explain ID)", style="dim")
    return text


def verdict_box(verdict: Verdict, full: bool = True, headline: bool = True, notes_by_id: bool = False) -> Panel:
    """The verdict's sentence (with `headline`), its findings as compiler diagnostics, and the fix (compare and
    check alike).

    In full, every finding with all its evidence; otherwise errors with their first evidence lines, and every
    other finding as its title (and help) alone, a help already shown not repeated; with `notes_by_id`, the
    notes as one line of ids. A finding that restates a cause (`part_of`) is an evidence line of that cause
    where the cause shows its evidence; otherwise its own line.
    """
    parts: list[RenderableType] = [Text(verdict.headline, style="bold"), Text("")] if headline else []
    helps: dict[str, str] = {}  # help text -> the id of the first finding that showed it
    notes: list[Finding] = []
    for finding in verdict.findings:
        if finding.part_of is not None and (full or _cause_severity(verdict, finding.part_of) == "error"):
            continue
        children = [f for f in verdict.findings if f.part_of == finding.id]
        if full:
            parts.append(finding_text(finding, parts=children))
        elif finding.severity == "error":
            parts.append(finding_text(finding, SHORT_EVIDENCE, children))
        elif finding.severity == "note" and notes_by_id:
            notes.append(finding)
        else:
            same = helps.get(finding.help) if finding.help and finding.tested is None else None
            parts.append(finding_line(finding, same_help_as=same))
        if finding.help:
            helps.setdefault(finding.help, finding.id)
    if notes:
        parts.append(Hanging(notes_line(notes), 7))
    if not full:
        parts.append(Text(""))
    parts.append(Hanging(Text.assemble(("fix: ", "bold green"), verdict.fix), 5))
    title = "Verdict" if headline else "Findings"
    return Panel(Group(*parts), title=title, title_align="left", border_style="bold")


def procedures_legend(modes: list[str]) -> Table:
    """What each column is, in the user's terms."""
    table = Table(box=None, pad_edge=False, show_header=False, padding=(0, 1, 0, 0))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for mode in modes:
        table.add_row(mode, procedure_words(mode))
    return table


def _right_strip(shares: list[float]) -> Text:
    """A "right at checkpoint" strip: █ green where the pattern was right, ▁ red where wrong, yellow blocks mixed."""
    text = Text()
    for share, block in zip(shares, sparkline(shares, low=0.0, high=1.0), strict=True):
        text.append(block, style="green" if share == 1 else "red" if share == 0 else "yellow")
    return text


def history_glance_table(report: CompareReport, width: int = 120) -> Group | None:
    """The history at a glance: the loss as a sparkline over the checkpoints, and per procedure a strip of the
    checkpoints at which it got the pattern right, in the same columns (procedures with the same strip share a row)."""
    modes = [m for m in report.traces if m in procedures.COLUMNS]
    outcomes = report.outcomes
    targets = outcomes.targets if outcomes is not None else report.traces["teacher"].targets
    prompt = outcomes.prompt if outcomes is not None else 0
    label = max(len(" = ".join(modes)), 4)  # the widest label, should all procedures share a row
    cells = max(10, width - label - len("right at 100/100, reverted 10×") - 4)  # the strips fit beside their labels
    glance = history_glance(report.history, report.losses, modes, targets, cells=min(cells, MAX_CELLS), prompt=prompt)
    if glance is None:
        return None
    per_cell = "" if glance.checkpoints_per_cell == 1 else f", up to {glance.checkpoints_per_cell} per column"
    legend = legend_lines(
        [
            f"a column per checkpoint{per_cell}, training steps {glance.first_step}–{glance.last_step}",
            "█ = pattern right, ▁ = wrong",
            "reverted = right→wrong",
            "loss: log scale",
        ],
        width,
    )
    table = fitted_table(
        box=None, pad_edge=False, show_header=False, title="Training at a glance", title_justify="left"
    )
    table.add_column(justify="right", style="bold", no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(style="dim")
    table.add_row("loss", glance.loss, f"{glance.loss_first:.4f} → {glance.loss_last:.4f}")
    rows: dict[tuple, list[str]] = {}
    for mode, shares in glance.right.items():
        stats = report.history_stats[mode]
        summary = f"right at {stats.right}/{stats.checkpoints}, reverted {stats.reverts}×"
        rows.setdefault((tuple(shares), summary), []).append(mode)
    for (shares, summary), names in rows.items():
        table.add_row(" = ".join(names), _right_strip(list(shares)), summary)
    return Group(table, legend)  # the legend as its own line: a caption would wrap at the strips' width


def render_compare(console: Console, report: CompareReport, full: bool = False) -> None:
    """The answer first (the verdict sentence, once), what each procedure is, the per-step table, training at a
    glance, then the ranked findings and the fix. `full` adds the history table, the depth tables and every
    evidence line."""
    console.print(header("compare", report.config, report.run))
    console.print(Text.assemble(("\nverdict: ", "bold"), (report.verdict.headline, "bold"), "\n"))
    console.print(procedures_legend(list(report.traces)))
    console.print()
    sections: list[RenderableType | None] = [
        sequences_table(report),
        per_step_table(report.traces, collapse=not full, title=_per_step_title(report), width=console.width),
        history_glance_table(report, console.width),
    ]
    if full:
        sections += [history_table(report, width=console.width), *depth_tables(report)]
    for section in sections:
        if section is not None:
            console.print(section)
            console.print()
    console.print(verdict_panel(report, full))
    if not full:
        console.print(
            Text("more: seqdiag compare --full (history, depth tables, every finding's evidence)", style="dim")
        )
