"""The findings of the depth measurements: the policy matrix, error recovery and stochastic rollouts.

Each is absent when its measurement was not taken.
"""

from __future__ import annotations

from seqdiag.findings.base import Evidence, Finding, rule

MATRIX = """\
policy-matrix (note, or warning when a cell off the diagonal gets the pattern wrong)

With `compare --train a,b,...`, one model is trained per training policy (same seed and config) and sampled
with every procedure. The diagonal is sampling with what training fed (scheduled sampling ends feeding
predictions, so its diagonal is free-running). The title compares, for one sampling procedure, the models
trained on what it feeds with those trained otherwise, in right/targets measured in this run.
"""

RECOVERY = """\
error-recovery (note)

A wrong symbol is forced into free-running at a position; the finding counts the injections after which the
output continues the pattern from the injected symbol, and those after which it gets back on the original
targets, with how many wrong predictions first. It reports the counts only; which training policy recovers
how is in the per-model lines (`compare --train`).
"""

ROLLOUTS = """\
stochastic-rollouts (note, or warning when a rollout diverged)

With `--rollouts N --temperature T`, free-running is sampled N times in one batch; the finding counts the
rollouts that got every target right and gives the quartiles of the first divergence and of accuracy.
"""


def _cell_text(cell) -> str:
    divergence = "" if cell.first_divergence is None else f", first off at position {cell.first_divergence}"
    return f"{cell.correct}/{cell.targets}{divergence}"


@rule({"policy-matrix": MATRIX})
def matrix(ev: Evidence) -> Finding | None:
    m = ev.matrix
    if m is None:
        return None
    diagonal = [c for c in m.cells if c.diagonal]
    off = [c for c in m.cells if not c.diagonal]
    diag_ok = [c for c in diagonal if c.pattern_right]
    off_ok = [c for c in off if c.pattern_right]
    off_bad = [c for c in off if not c.pattern_right]
    evidence = [
        "diagonal (sampled as trained): " + "; ".join(f"{c.train}→{c.sample} {_cell_text(c)}" for c in diagonal),
        "off the diagonal, wrong pattern: "
        + ("; ".join(f"{c.train}→{c.sample} {_cell_text(c)}" for c in off_bad) if off_bad else "none"),
        "off the diagonal, right anyway: "
        + ("; ".join(f"{c.train}→{c.sample} {c.correct}/{c.targets}" for c in off_ok) if off_ok else "none"),
    ]
    columns = []
    for sample in m.samples:
        inside = [c for c in diagonal if c.sample == sample]
        outside = [c for c in off if c.sample == sample]
        if inside and outside:
            gain = min(c.correct for c in inside) - max(c.correct for c in outside)
            columns.append((gain, sample, inside, outside))
            evidence.insert(
                len(columns) - 1,
                f"the {sample} sampler: "
                + ", ".join(f"{c.correct}/{c.targets} trained {c.train}" for c in inside)
                + " vs "
                + ", ".join(f"{c.correct}/{c.targets} trained {c.train}" for c in outside),
            )
    summary = (
        f"diagonal pattern right in {len(diag_ok)}/{len(diagonal)} cells, off the diagonal {len(off_ok)}/{len(off)}"
    )
    if columns:
        gain, sample, inside, outside = max(columns, key=lambda c: (c[0], c[1] != "teacher"))  # generation first
        verb = "lifts" if gain > 0 else "does not lift" if gain == 0 else "lowers"
        title = (
            f"train as you sample: training on what the {sample} sampler feeds {verb} it to "
            + ", ".join(f"{c.correct}/{c.targets}" for c in inside)
            + " from "
            + ", ".join(f"{c.correct}/{c.targets} ({c.train})" for c in outside)
            + f"; {summary}"
        )
    else:
        title = f"train as you sample: {summary}"
    works = len(diag_ok) == len(diagonal)
    return Finding(
        id="policy-matrix",
        severity="note" if works and not off_bad else "warning",
        title=title,
        where=f"policy matrix, {len(m.policies)} training policies × {len(m.samples)} sampling procedures",
        evidence=evidence,
        data={
            "diagonal_right": len(diag_ok),
            "diagonal": len(diagonal),
            "off_diagonal_right": len(off_ok),
            "off_diagonal": len(off),
            "off_diagonal_wrong": [f"{c.train}→{c.sample}" for c in off_bad],
        },
    )


def _after(value: int | None) -> str:
    return "never" if value is None else f"after {value}"


@rule({"error-recovery": RECOVERY})
def recovery(ev: Evidence) -> Finding | None:
    rec = ev.recovery
    if rec is None or not rec.injections:
        return None
    n = len(rec.injections)
    evidence = [
        f"position {i.step}: fed {i.fed!r} for {i.replaced!r} → continues the pattern from it "
        f"{_after(i.continues_after)}, back on the targets {_after(i.resyncs_after)}; end symbol "
        f"{'right' if i.end_symbol else 'wrong'}"
        for i in rec.injections
    ]
    if rec.baseline_first_divergence is not None:
        evidence.append(f"without injection free-running is already off at position {rec.baseline_first_divergence}")
    if ev.matrix is not None:
        for row in ev.matrix.rows:
            r = row.recovery
            evidence.append(
                f"trained {row.train}: continues {r.continued}/{len(r.injections)} "
                f"({', '.join(_after(i.continues_after) for i in r.injections)}), back on the targets "
                f"{r.resynced}/{len(r.injections)} ({', '.join(_after(i.resyncs_after) for i in r.injections)})"
            )
    return Finding(
        id="error-recovery",
        severity="note",
        title=f"after a forced wrong symbol, free-running continues the pattern from it in {rec.continued}/{n} "
        f"injections and gets back on the targets in {rec.resynced}/{n}",
        where=f"free, injected at positions {', '.join(str(i.step) for i in rec.injections)}",
        evidence=evidence,
        data={"continued": rec.continued, "resynced": rec.resynced, "injections": n},
    )


@rule({"stochastic-rollouts": ROLLOUTS})
def rollouts(ev: Evidence) -> Finding | None:
    r = ev.rollouts
    if r is None:
        return None
    diverged = r.rollouts - r.all_right
    quartiles = (
        "first divergence quartiles " + " / ".join(f"{q:g}" for q in r.divergence_quartiles)
        if r.divergence_quartiles
        else "no rollout diverged"
    )
    return Finding(
        id="stochastic-rollouts",
        severity="warning" if diverged else "note",
        title=f"sampled at temperature {r.temperature:g}, {r.mode} gets every target right in "
        f"{r.all_right}/{r.rollouts} rollouts",
        where=f"{r.mode}, {r.rollouts} rollouts (top-k {r.top_k or 'all'})",
        evidence=[
            f"{quartiles} over the {diverged} that diverged",
            f"accuracy mean {r.accuracy_mean:.2f}, min {r.accuracy_min:.2f}, quartiles "
            + " / ".join(f"{q:.2f}" for q in r.accuracy_quartiles),
            f"pattern right in {r.pattern_right}/{r.rollouts}, end symbol right in {r.end_symbol_right}/{r.rollouts}; "
            f"{r.distinct_outputs} distinct outputs",
        ],
        help="sampled symbols are fed back, so one unlikely pick changes the rest; temperature 0 (argmax) gives "
        "the free-running column of the per-step table"
        if diverged
        else None,
        data={"all_right": r.all_right, "rollouts": r.rollouts, "divergence_quartiles": r.divergence_quartiles},
    )
