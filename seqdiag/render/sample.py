"""`seqdiag sample`: one procedure, every step."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.text import Text

from seqdiag import procedures
from seqdiag.render.common import (
    fitted_table,
    header,
    input_cell,
    marked_output,
    prediction_cell,
)
from seqdiag.sparkline import sparkline

if TYPE_CHECKING:
    from seqdiag.report import SampleReport
    from seqdiag.sampling import Trace


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
    if procedures.get(report.mode).decoding == "argmax":  # never sampled: what it feeds is not its prediction
        sampled = [p.name for p in procedures.REGISTRY.values() if p.decoding == "configured"]
        decoding = f"argmax; --temperature applies to {', '.join(sampled[:-1])} and {sampled[-1]}"
    elif report.decoding.temperature == 0:
        decoding = "argmax"
    else:
        decoding = f"temperature {report.decoding.temperature:g}, top-k {report.decoding.top_k or 'all'}"
    console.print(
        Text.assemble(("generated  ", "bold"), marked_output(trace.output, trace.targets), f"   ({decoding})")
    )
    console.print(Text.assemble(("target     ", "bold"), trace.targets))
    console.print(Text.assemble(("p(target)  ", "bold"), p_target_strip(trace)))
    wrong = "".join("·" if s.t < trace.prompt else " " if s.correct else "✗" for s in trace.steps).rstrip()
    if wrong:  # the wrong steps marked without relying on colour
        console.print(Text.assemble(("wrong      ", "bold"), (wrong, "red")))
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
            input_cell(s.input),
            prediction_cell(trace, s.t),
            s.target,
            f"{s.p_predicted:.3f}",
            f"{s.p_target:.3f}",
            f"{s.entropy:.3f}",
            f"{norm:.2f}",
        )
    console.print(table)
    end = {True: "emitted", False: "missed", None: "never reached"}[trace.end_symbol]
    divergence = "none" if trace.first_divergence is None else f"step {trace.first_divergence}"
    given = f" (after the {trace.prompt} given: ·)" if trace.prompt else ""
    console.print(
        f"right {trace.correct_count}/{trace.judged}{given} · first divergence {divergence} · end symbol {end}"
    )
    if report.sequences > 1:
        console.print(
            f"sequence 0 of {report.sequences} shown; seqdiag compare shows every sequence (--show N for another)"
        )
