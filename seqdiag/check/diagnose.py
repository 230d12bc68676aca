"""Naming the sampler's bug: each step's context is compared with what free-running feeds, and the findings say
which difference it is, with the steps, what was fed, and a `help:` line for the user's code.

A step's context (what the model had seen when it produced the step's token) is one of:
- own:    the prompt followed by the sampler's own previous outputs (or their argmax): what free-running feeds;
- true:   the prompt followed by the true sequence, where that differs from its own outputs (teacher forcing);
- window: a proper suffix of its own context: a truncated window, or one token with a fresh state;
- other:  anything else (zero vectors, the start symbol again, a stale token or state).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import torch

from seqdiag.check.explanations import EXPLANATIONS
from seqdiag.check.record import FRESH, OTHER, OTHER_STATE, STALE, UNKNOWN, ZERO
from seqdiag.check.reference import Reference
from seqdiag.check.report import CheckStep, Intervention, ProcedureStep, SequenceCheck
from seqdiag.check.sampler import SamplerRun
from seqdiag.findings import Finding, Verdict
from seqdiag.findings.base import fmt_steps as _fmt_steps

IDS = tuple(EXPLANATIONS)


def symbol(item: int, vocab: list[str]) -> str | None:
    """How an input position reads: its symbol, None for a zero vector, '<vector>' or '<?>' otherwise."""
    if item == ZERO:
        return None
    if item == OTHER:
        return "<vector>"
    if item == UNKNOWN or not 0 <= item < len(vocab):
        return "<?>"
    return vocab[item]


def quoted(item: int | str | None, vocab: list[str]) -> str:
    s = symbol(item, vocab) if isinstance(item, int) else item
    return "a zero vector" if s is None else repr(s)


def _p(logits: torch.Tensor, target: int) -> float:
    return float(torch.softmax(logits.float(), dim=-1)[target])


@dataclass(frozen=True)
class SequenceEvidence:
    """One sequence's measurements, in ids, for the classification."""

    sequence: list[int]
    prompt: int
    teacher: Reference
    free: Reference  # n + 1 steps, to spot an output shifted by one
    run: SamplerRun
    forced: SamplerRun | None
    forced_at: tuple[int, int] | None  # (step, forced token)
    window: Reference | None  # teacher-forced with the sampler's window, when it truncates
    training_inputs: set[int]


def context_kind(ev: SequenceEvidence, i: int) -> str:
    ctx = ev.run.rows[i].context
    prompt = ev.sequence[: ev.prompt]
    g = ev.run.returned
    a = [int(r.logits.argmax()) for r in ev.run.rows]
    owns = (prompt + g[:i], prompt + a[:i])
    if any(ctx == own for own in owns):
        return "own"
    if ctx == ev.sequence[: ev.prompt + i]:
        return "true"
    if 0 < len(ctx) < len(owns[0]) and any(ctx == own[-len(ctx) :] for own in owns):
        return "window"
    return "other"


def build_sequence_check(ev: SequenceEvidence, index: int, vocab: list[str]) -> SequenceCheck:
    n = len(ev.sequence) - ev.prompt
    steps = []
    for i in range(n):
        target = ev.sequence[ev.prompt + i]
        row = ev.run.rows[i]
        returned = ev.run.returned[i]

        def proc(fed: int, predicted: int, logits: torch.Tensor, target: int = target) -> ProcedureStep:
            return ProcedureStep(symbol(fed, vocab), vocab[predicted], _p(logits, target), predicted == target)

        steps.append(
            CheckStep(
                t=i,
                target=vocab[target],
                teacher=proc(ev.teacher.inputs[i], ev.teacher.predicted[i], ev.teacher.logits[i]),
                free=proc(ev.free.inputs[i], ev.free.predicted[i], ev.free.logits[i]),
                sampler=proc(row.context[-1] if row.context else UNKNOWN, returned, row.logits),
                sampler_argmax=vocab[int(row.logits.argmax())],
                state=row.state,
                seen=len(row.context),
                context_kind=context_kind(ev, i),
            )
        )
    intervention = None
    if ev.forced is not None and ev.forced_at is not None:
        j, z = ev.forced_at
        intervention = Intervention(
            step=j,
            was=vocab[int(ev.run.rows[j].logits.argmax())],
            forced=vocab[z],
            took=ev.forced.returned[j] == z,
            fed_next=symbol(ev.forced.rows[j + 1].context[-1], vocab),
            fed_next_before=symbol(ev.run.rows[j + 1].context[-1], vocab),
            follows=ev.forced.rows[j + 1].context[-1] == z,
        )
    prompt = [vocab[t] for t in ev.sequence[: ev.prompt]]
    return SequenceCheck(index, prompt, steps, intervention)


def _wrong_from(check: SequenceCheck, steps: list[int]) -> int:
    """Wrong sampler steps from the first listed step on: what a cause that starts there accounts for."""
    if not steps:
        return 0
    return sum(not s.sampler.correct for s in check.steps if s.t >= steps[0])


def _counts(check: SequenceCheck) -> str:
    n = len(check.steps)
    return (
        f"the sampler gets {check.correct('sampler')}/{n} targets; free-running {check.correct('free')}/{n}; "
        f"teacher-forced {check.correct('teacher')}/{n}"
    )


def _where(check: SequenceCheck, steps: list[int], many: bool) -> str:
    seq = f"sequence {check.index + 1}, " if many else ""
    return f"generate, {seq}step{'s' if len(steps) != 1 else ''} {_fmt_steps(steps)}"


def _intervention_line(iv: Intervention | None) -> str | None:
    if iv is None or not iv.took:
        return None
    fed = "a zero vector" if iv.fed_next is None else repr(iv.fed_next)
    before = "a zero vector" if iv.fed_next_before is None else repr(iv.fed_next_before)
    return (
        f"made to output {iv.forced!r} at step {iv.step} (the model's top symbol forced; it was {iv.was!r}), "
        f"it fed {fed} at step {iv.step + 1}" + (f" (as without the change: {before})" if fed == before else "")
    )


def classify(ev: SequenceEvidence, check: SequenceCheck, vocab: list[str], many: bool) -> list[Finding]:
    """The findings for one sequence, causes first (a later kind is skipped on the steps an earlier one covers)."""
    n = len(check.steps)
    g = ev.run.returned
    free = ev.free.predicted
    rows = ev.run.rows
    fed = [r.context[-1] if r.context else UNKNOWN for r in rows]
    kinds = [s.context_kind for s in check.steps]
    iv = check.intervention
    where = lambda steps: _where(check, steps, many)  # noqa: E731
    findings: list[Finding] = []
    covered: set[int] = set()
    free_correct = check.correct("free")

    # 1. Inputs training never fed.
    def own_pick(i: int) -> bool:  # an id the sampler itself produced at the step before (free-running would too)
        return i > 0 and fed[i] in (g[i - 1], int(rows[i - 1].logits.argmax()))

    unseen = [
        i
        for i in range(n)
        if fed[i] in (ZERO, OTHER) or (fed[i] >= 0 and fed[i] not in ev.training_inputs and not own_pick(i))
    ]
    if unseen:
        zeros = sum(fed[i] == ZERO for i in unseen)
        others = sum(fed[i] == OTHER for i in unseen)
        ids = sorted({fed[i] for i in unseen if fed[i] >= 0})
        parts = [f"{zeros} are zero vectors"] * bool(zeros) + [f"{others} are vectors that are not one-hot"] * bool(
            others
        )
        parts += [f"{sum(fed[i] == t for i in unseen)} are {vocab[t]!r}, never an input in training" for t in ids]
        trained = ", ".join(repr(vocab[t]) for t in sorted(ev.training_inputs))
        evidence = [
            f"of its {n} inputs, {'; '.join(parts)} (steps {_fmt_steps(unseen)})",
            f"training fed only {trained}",
            _counts(check),
        ]
        if g == free[:n]:
            evidence.append(
                "its output equals free-running here by chance: these inputs were never trained, so it "
                "can drift as training goes on"
            )
        if zeros or others:
            help_ = (
                "feed the previous prediction as the input training used (a one-hot vector: "
                "`x = torch.zeros(1, 1, len(vocab)); x[0, 0, next_id] = 1`) and carry the state"
            )
        else:
            help_ = "feed only symbols the model was trained on as inputs: its own previous prediction"
        findings.append(
            Finding(
                id="sampler-unseen-inputs",
                severity="error",
                title="the sampler feeds inputs the model never saw in training " + f"({len(unseen)}/{n} steps)",
                where=where(unseen),
                evidence=evidence,
                help=help_ + f" (free-running, which does, gets {free_correct}/{n} here)",
                explains=_wrong_from(check, unseen),
                data={"steps": unseen, "zero_vectors": zeros, "other_vectors": others, "unseen_ids": ids},
            )
        )
        covered |= set(unseen)

    # 2. The returned tokens are free-running's shifted by one step.
    if not findings and n >= 3 and g != free[:n]:
        right = g[1:] == free[: n - 1]
        left = g == free[1 : n + 1]
        if right or left:
            returns_fed = g == fed[:n]
            if right:
                how = "returns the input it fed at each step" if returns_fed else "repeats its first prediction"
                evidence = [f"step t returns free-running's step t - 1 for t = 1–{n - 1}"]
                help_ = (
                    "return the prediction made at each step, not the input fed: append `next_id` right after "
                    "computing it from the logits, then feed it"
                )
            else:
                how = "drops its first prediction"
                evidence = [f"step t returns free-running's step t + 1 for t = 0–{n - 1}"]
                help_ = "keep the prediction made from the prompt: it is the first generated token"
            returned_text, free_text = "".join(vocab[t] for t in g), "".join(vocab[t] for t in free[:n])
            evidence += [f"returned {returned_text!r}; free-running {free_text!r}", _counts(check)]
            findings.append(
                Finding(
                    id="sampler-off-by-one",
                    severity="error",
                    title=f"the sampler's output is free-running's shifted by one step: it {how}",
                    where=where(list(range(n))),
                    evidence=evidence,
                    help=help_ + f" (free-running gets {free_correct}/{n})",
                    explains=_wrong_from(check, [0]),
                    data={"shift": 1 if right else -1, "returns_inputs_fed": returns_fed},
                )
            )
            covered |= set(range(n))

    # 3. Teacher forcing at sampling time.
    rest = [i for i in range(1, n) if i not in covered]
    true_ctx = [i for i in rest if ev.run.rows[i].context == ev.sequence[: ev.prompt + i]]
    ignores_forcing = (
        iv is not None and iv.took and not iv.follows and iv.fed_next == vocab[ev.sequence[ev.prompt + iv.step]]
    )
    if rest and len(true_ctx) == len(rest) and (any(k == "true" for k in kinds) or ignores_forcing):
        evidence = [f"at steps {_fmt_steps(rest)} it fed the true sequence, not its own outputs"]
        line = _intervention_line(iv)
        if line:
            evidence.append(line + " — the true symbol")
        evidence.append(_counts(check))
        findings.append(
            Finding(
                id="sampler-feeds-targets",
                severity="error",
                title="the sampler feeds the true sequence instead of its own predictions: "
                "it is teacher forcing, and measures nothing about sampling",
                where=where(rest),
                evidence=evidence,
                help="feed back the token generate just produced (`x = next_id`), not the sequence's next symbol "
                f"(free-running, which does, gets {free_correct}/{n}; teacher-forced {check.correct('teacher')}/{n})",
                explains=max(1, n - free_correct),
                data={"steps": rest},
            )
        )
        covered |= set(rest)

    # 4. Something other than its previous prediction is fed.
    rest = [i for i in range(1, n) if i not in covered]
    not_fed = [i for i in rest if fed[i] not in (g[i - 1], int(rows[i - 1].logits.argmax()))]
    if not not_fed and iv is not None and iv.took and not iv.follows and iv.step + 1 in rest:
        not_fed = [iv.step + 1]
    if not_fed:
        what = Counter(quoted(fed[i], vocab) for i in not_fed).most_common(1)[0][0]
        evidence = [
            f"at {len(not_fed)} of its {n} steps it fed something other than its previous output (most often {what})",
            "e.g. step "
            + ", step ".join(
                f"{i}: fed {quoted(fed[i], vocab)} after returning {vocab[g[i - 1]]!r}" for i in not_fed[:3]
            ),
        ]
        line = _intervention_line(iv)
        if line and not iv.follows:  # type: ignore[union-attr]
            evidence.append(line)
        evidence.append(_counts(check))
        findings.append(
            Finding(
                id="sampler-prediction-not-fed",
                severity="error",
                title=f"the sampler does not feed its previous prediction back ({len(not_fed)}/{n} steps)",
                where=where(not_fed),
                evidence=evidence,
                help="feed the token just predicted as the next input: `next_id = int(logits[..., -1, :].argmax())`, "
                f"then `x = torch.tensor([[next_id]])` (free-running, which does, gets {free_correct}/{n})",
                explains=_wrong_from(check, not_fed),
                data={"steps": not_fed, "most_fed": what},
            )
        )
        covered |= set(not_fed)

    # 5. A fresh (or foreign) state, or a truncated window: the model sees less than the whole prefix.
    rest = [i for i in range(1, n) if i not in covered]
    evaluations = ev.run.recording.evaluations
    reset = [
        i
        for i in rest
        if ev.run.recurrent
        and (
            rows[i].state in (STALE, OTHER_STATE)
            or rows[i].state == FRESH
            and kinds[i] == "window"
            and len(evaluations[rows[i].evaluation].items) == 1
        )
    ]
    window = [i for i in rest if kinds[i] == "window" and i not in reset]
    sees = Counter(len(rows[i].context) for i in window or reset).most_common(1)
    w = sees[0][0] if sees else 0
    wref = ev.window
    harmless = (
        g == free[:n]
        and wref is not None
        and sum(p == t for p, t in zip(wref.predicted, ev.sequence[ev.prompt :], strict=True))
        >= check.correct("teacher")
    )
    measured = (
        f"given only the last {w} true token{'s' if w != 1 else ''}, the model predicts "
        f"{sum(p == t for p, t in zip(wref.predicted, ev.sequence[ev.prompt :], strict=True))}/{n} targets "
        f"(the whole prefix, teacher-forced: {check.correct('teacher')}/{n})"
        if wref is not None
        else None
    )
    if reset and not harmless:
        kind = Counter(rows[i].state for i in reset).most_common(1)[0][0]
        first = next(i for i in reset if rows[i].state == kind)
        sees_text = f"the model sees {w} token{'s' if w != 1 else ''} instead of the whole prefix"
        if kind == FRESH:
            how = rows[first].fresh_how
            title = f"the sampler resets the recurrent state: {how} goes in at {len(reset)}/{n} steps"
            fed_state = f"the recurrent state going in is {how}"
        elif kind == STALE:
            source = rows[first].stale_source
            call = evaluations[source].call + 1 if source is not None else 0
            on_prompt = source is not None and source == rows[0].evaluation
            how = f"the state returned by model call {call}" + (" (the one on the prompt)" if on_prompt else "")
            title = (
                f"the sampler passes a stale recurrent state: {how}, not the previous call's ({len(reset)}/{n} steps)"
            )
            fed_state = f"the recurrent state going in is {how}, not the one the previous call returned"
        else:
            how = "a state the model did not return"
            title = f"the sampler passes a recurrent state the model never returned ({len(reset)}/{n} steps)"
            fed_state = "the recurrent state going in is neither fresh nor one the model returned"
        evidence = [f"at steps {_fmt_steps(reset)} {fed_state}, so {sees_text}"]
        if measured:
            evidence.append(measured)
        evidence.append(_counts(check))
        findings.append(
            Finding(
                id="sampler-state-reset",
                severity="error",
                title=title,
                where=where(reset),
                evidence=evidence,
                help="pass the state returned by the previous call into the next one: `out, state = model(x, state)`, "
                "starting from the state after the prompt"
                + (", not one kept from an earlier call" if kind != FRESH else "")
                + f" (free-running, which keeps the whole prefix, gets {free_correct}/{n})",
                explains=_wrong_from(check, reset),
                data={"steps": reset, "sees": w, "state": how, "kind": kind},
            )
        )
        covered |= set(reset)
    elif window and not harmless:
        evidence = [
            f"at steps {_fmt_steps(window)} it re-feeds only the last {w} tokens"
            + (" with a fresh state" if ev.run.recurrent else " (the model keeps no state)")
        ]
        if measured:
            evidence.append(measured)
        evidence.append(_counts(check))
        findings.append(
            Finding(
                id="sampler-window",
                severity="error",
                title=f"the sampler feeds a window of {w} tokens, shorter than the context the targets need",
                where=where(window),
                evidence=evidence,
                help="feed the whole prefix each step (`model(torch.tensor([prompt + generated]))`)"
                + (", or carry the state between calls" if ev.run.recurrent else "")
                + f"; free-running, which does, gets {free_correct}/{n}",
                explains=_wrong_from(check, window),
                data={"steps": window, "window": w},
            )
        )
        covered |= set(window)

    # 6. Sampling instead of the argmax.
    picks = [i for i in range(n) if g[i] != int(rows[i].logits.argmax())]
    if picks and not any(f.id == "sampler-off-by-one" for f in findings):
        d = check.first_divergence("sampler")
        fd = next((i for i in range(n) if g[i] != free[i]), None)
        alone = fd is not None and fd in picks and all(kinds[i] == "own" for i in range(fd + 1)) and not findings
        evidence = [
            f"{len(picks)} of its {n} picks are not the argmax of the logits they came from "
            f"(steps {_fmt_steps(picks)})",
        ]
        if fd is None:
            evidence.append("its output still equals free-running (argmax) at every step")
        elif alone:
            evidence.append(
                f"it first departs from free-running at step {fd}, a sampled pick ({vocab[g[fd]]!r} where the "
                f"argmax was {vocab[int(rows[fd].logits.argmax())]!r}) with everything fed before it right: "
                "sampling alone explains the divergence"
            )
        else:
            evidence.append(f"it departs from free-running at step {fd}; sampling does not explain that alone")
        evidence.append(_counts(check))
        findings.append(
            Finding(
                id="sampler-decoding",
                severity="warning",
                title=f"the sampler samples rather than taking the argmax ({len(picks)}/{n} picks differ)",
                where=where(picks),
                evidence=evidence,
                help="to check the model, take the argmax: `next_id = int(logits[..., -1, :].argmax())` "
                f"(free-running, which does, gets {free_correct}/{n}); sample only once that is right",
                explains=_wrong_from(check, [fd]) if alone and fd is not None else 0,
                data={"steps": picks, "explains_divergence": alone, "first_wrong": d},
            )
        )

    if findings:
        return findings
    # 7. Nothing wrong in the sampler.
    if g == free[:n] and all(k == "own" or k == "window" for k in kinds):
        carried = ev.run.recurrent and all(r.state != FRESH for r in rows[1:])
        evidence = [
            "it feeds its own previous output at every step"
            + (", carrying the state" if carried else " and re-reads enough of the prefix"),
            f"its output equals free-running (argmax) at all {n} steps",
        ]
        line = _intervention_line(iv)
        if line:
            evidence.append(line + ", its own output: it feeds back what the model predicts")
        teacher_wrong = [s.t for s in check.steps if not s.teacher.correct]
        if teacher_wrong:
            evidence.append(
                f"what is wrong is training: teacher-forced gets {check.correct('teacher')}/{n}, wrong at steps "
                f"{_fmt_steps(teacher_wrong)}"
            )
        else:
            evidence.append(f"teacher-forced gets {n}/{n}: training converged on this sequence")
        if window and measured:
            evidence.append(f"it re-feeds only the last {w} tokens, which is enough here: {measured}")
        return [
            Finding(
                id="sampler-matches",
                severity="note",
                title=f"the sampler is right: it feeds what free-running feeds and matches it at all {n} steps",
                where=where(list(range(n))),
                evidence=evidence,
                help=None if not teacher_wrong else "train longer or better; the sampler is not the problem",
                explains=0,
                data={"teacher_correct": check.correct("teacher")},
            )
        ]
    fd = next((i for i in range(n) if g[i] != free[i]), 0)
    return [
        Finding(
            id="sampler-unexplained",
            severity="warning",
            title=f"the sampler departs from free-running at step {fd} and seqdiag cannot tell why",
            where=where([fd]),
            evidence=[
                f"at step {fd} it saw {len(rows[fd].context)} positions and returned {vocab[g[fd]]!r}; "
                f"free-running predicted {vocab[free[fd]]!r}",
                _counts(check),
            ],
            help="compare the inputs and state your generate passes at that step with forward on the same prefix",
            explains=_wrong_from(check, [fd]),
            data={"step": fd},
        )
    ]


def verdict(checks: list[SequenceCheck], per_sequence: list[list[Finding]]) -> Verdict:
    """One finding per id (the first sequence that shows it), ranked by the wrong steps each explains."""
    merged: dict[str, Finding] = {}
    shown: Counter[str] = Counter()
    for findings in per_sequence:
        for f in findings:
            shown[f.id] += 1
            merged.setdefault(f.id, f)
    findings = list(merged.values())
    if "sampler-matches" in merged and len(merged) > 1:
        findings = [f for f in findings if f.id != "sampler-matches"]
    findings.sort(key=lambda f: (f.severity != "error", -f.explains))
    if len(checks) > 1:
        findings = [
            Finding(**{**f.__dict__, "evidence": [*f.evidence, f"in {shown[f.id]} of {len(checks)} sequences"]})
            for f in findings
        ]
    top = findings[0]
    first = checks[0]
    n = len(first.steps)
    if top.id == "sampler-matches":
        headline = (
            f"The sampler is right: it matches free-running ({first.correct('sampler')}/{n}); "
            + (
                "training converged"
                if first.correct("teacher") == n
                else f"what is wrong is training (teacher-forced {first.correct('teacher')}/{n})"
            )
            + "."
        )
        fix = "nothing to fix in the sampler" if first.correct("teacher") == n else "train the model further"
    else:
        title = top.title[0].upper() + top.title[1:]
        headline = (
            f"{title} [{top.id}]. It gets {first.correct('sampler')}/{n} where free-running gets "
            f"{first.correct('free')}/{n} (teacher-forced {first.correct('teacher')}/{n})."
        )
        fix = f"{EXPLANATIONS[top.id][1]} (free-running, which does, gets {first.correct('free')}/{n})"
    return Verdict(headline=headline, fix=fix, findings=findings)
