"""Rendering of `seqdiag check`: the header, the verdict's sentence, a per-step table per sequence, the findings."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from seqdiag.check.report import CheckReport, CheckStep, ProcedureStep, SequenceCheck
from seqdiag.render.common import ZERO_INPUT
from seqdiag.render.compare import verdict_box
from seqdiag.render.table import FittedTable
from seqdiag.table import Column

MAX_ROWS = 40  # a longer sequence shows its first rows, the rows around the first divergences and its last rows
STATE_WORDS = {
    "carried": "carried",
    "fresh": "fresh state",
    "stale": "stale state",
    "stateless": "",
    "other": "other state",
}


VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥"}  # whitespace symbols, drawn so a cell never looks empty


def _show(symbol: str) -> str:
    return VISIBLE.get(symbol, symbol)


def _cell(step: ProcedureStep, first: bool, not_argmax: bool = False) -> Text:
    fed = ZERO_INPUT if step.input is None else _show(step.input)
    mark = "✓" if step.correct else "✗"
    return Text.assemble(
        (f"{fed}→", "dim"),
        (f"{_show(step.predicted)}{mark}", "green" if step.correct else "red"),
        ("*" if not_argmax else "", "bold yellow"),
        f" {step.p_target:.2f}",
        (" <" if first else "", "bold red"),
    )


def _saw(step: CheckStep) -> Text:
    state = STATE_WORDS.get(step.state, step.state)
    style = "red" if step.t > 0 and step.context_kind not in ("own",) else "dim"
    text = f"{step.seen} {step.context_kind}" + (f" · {state}" if state else "")
    return Text(text, style=style)


def _shown_rows(check: SequenceCheck) -> list[int | None]:
    """Row indices to show, None where rows are left out."""
    n = len(check.steps)
    if n <= MAX_ROWS:
        return list(range(n))
    keep = set(range(12)) | set(range(n - 5, n))
    for procedure in ("teacher", "free", "sampler"):
        d = check.first_divergence(procedure)
        if d is not None:
            keep |= set(range(max(0, d - 3), min(n, d + 4)))
    rows: list[int | None] = []
    for t in range(n):
        if t in keep:
            rows.append(t)
        elif rows and rows[-1] is not None:
            rows.append(None)
    return rows


def check_step_table(check: SequenceCheck, many: bool) -> FittedTable:
    """Target, then teacher-forced, free-running and the user's generate: input fed → output ✓/✗ p(target).

    The position, the target and the three procedures' cells are kept whole at any width; what the model saw,
    free text, is cut with … where the console is narrow."""
    title = "Per position" + (f" · sequence {check.index + 1}" if many else "")
    prompt = "".join(check.prompt) if all(len(s) == 1 for s in check.prompt) else " ".join(check.prompt)
    prompt = prompt if len(prompt) <= 40 else prompt[:39] + "…"
    columns = (
        Column("t", justify="right", style="muted"),
        Column("target", justify="center", keep=True),
        *(Column(name, keep=True) for name in ("teacher-forced", "free-running", "your generate")),
        Column("model saw", no_wrap=True),
    )
    rows: list[tuple[list[Text], str, bool]] = []
    firsts = {p: check.first_divergence(p) for p in ("teacher", "free", "sampler")}
    for t in _shown_rows(check):
        if t is None:
            rows.append(([Text("…"), *(Text() for _ in columns[1:])], "dim", False))
            continue
        s = check.steps[t]
        cells = [
            Text(str(t)),
            Text(_show(s.target)),
            _cell(s.teacher, firsts["teacher"] == t),
            _cell(s.free, firsts["free"] == t),
            _cell(s.sampler, firsts["sampler"] == t, s.sampler.predicted != s.sampler_argmax),
            _saw(s),
        ]
        rows.append((cells, "", False))
    n = len(check.steps)
    totals = [Text(f"{check.correct(p)}/{n}", style="bold") for p in ("teacher", "free", "sampler")]
    rows.append(([Text(), Text("right", style="bold"), *totals, Text()], "", True))
    return FittedTable(
        columns,
        rows,
        title=f"{title} (prompt {prompt!r})",
        caption=f"cell = input fed → output ✓/✗ p(target) · {ZERO_INPUT} = zero vector · ␣ = space · "
        "* = not the argmax · "
        "< = first divergence · model saw = positions it had read when it produced the step: own (prompt + its "
        "own outputs), true (the data), window (only the last ones), other",
    )


def render_check(console: Console, report: CheckReport) -> None:
    kind = "recurrent" if report.recurrent else "stateless"
    console.print(
        Text.assemble(
            ("seqdiag check", "bold"),
            f"  {report.path} · torch {report.torch_version} · seqdiag {report.seqdiag_version} · ",
            f"prompt {report.prompt} · {len(report.vocab)} symbols · {kind} model · "
            f"generate made {report.calls} model calls",
        )
    )
    console.print(Text.assemble(("\nverdict: ", "bold"), (report.verdict.headline, "bold"), "\n"))
    many = len(report.sequences) > 1
    for check in report.sequences:
        console.print(check_step_table(check, many))
        console.print()
    console.print(verdict_box(report.verdict, headline=False))  # the sentence is printed once, on top
