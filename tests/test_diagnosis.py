"""The verdict on a trained tiny model and on hand-built evidence whose answer is known."""

from seqdiag.findings import Evidence, diagnose
from seqdiag.history import Snapshot, history_stats
from seqdiag.probes import InputNovelty, InputReliance
from seqdiag.report import build_compare
from seqdiag.sampling import StepRecord, Trace

TARGETS = "0101S"


def _trace(mode: str, output: str, inputs: list[str | None], p_right: float = 0.9) -> Trace:
    steps = [
        StepRecord(
            t, inputs[t], p, TARGETS[t], p == TARGETS[t], 0.9, p_right if p == TARGETS[t] else 0.1, 0.3, [0.0, 0.0]
        )
        for t, p in enumerate(output)
    ]
    return Trace(mode, steps, TARGETS)


def _evidence(zeros_output: str, teacher_output: str = "0101S", outs=None, losses=None, **extra) -> Evidence:
    traces = {
        "teacher": _trace("teacher", teacher_output, ["S", "0", "1", "0", "1"]),
        "free": _trace("free", teacher_output, ["S", *teacher_output[:4]]),
        "zeros": _trace("zeros", zeros_output, ["S", None, None, None]),
        "refeed": _trace("refeed", teacher_output, ["S", *teacher_output[:4]]),
    }
    outs = outs or ["0000", "0101", "0000", "0101", zeros_output]
    losses = losses or [1.0 / (i + 1) for i in range(len(outs))]
    history = [
        Snapshot(
            step=i * 10,
            loss=losses[i],
            outputs={"teacher": "0101S", "free": "0101S", "zeros": z, "refeed": "0101S"},
            accuracy={},
        )
        for i, z in enumerate(outs)
    ]
    return Evidence(
        traces=traces,
        history=history,
        novelty={"zeros": InputNovelty(4, 3, 3, 1.0, [1, 2, 3])},
        reliance=InputReliance(
            steps=4, changed_by_other_symbol=4, other_symbol_trials=8, changed_by_zero_input=2, changed_by_state_reset=0
        ),
        training_symbols=["0", "1", "S"],
        train_policy="teacher",
        steps=10 * (len(outs) - 1),
        history_stats={m: history_stats(history, m, TARGETS) for m in traces},
        **extra,
    )


def test_zeros_failure_is_ranked_first_with_measured_numbers():
    verdict = diagnose(_evidence("0000"))
    assert verdict.findings[0].id == "zeros-unseen-inputs"
    top = verdict.findings[0]
    assert top.severity == "error"
    assert top.data["unseen"] == 3 and top.data["zero_vectors"] == 3
    assert any("3 of its 4 inputs are zero vectors" in line for line in top.evidence)
    assert verdict.headline.startswith(
        "Training converged (teacher-forced 5/5); free-running matches teacher-forced (5/5); the zeros sampler "
        "does not (2/5): it feeds inputs training never fed"
    )
    ids = {f.id for f in verdict.findings}
    assert {
        "training-converged",
        "free-matches-teacher",
        "zeros-drifts",
        "zeros-cannot-end",
        "output-follows-input",
    } <= ids


def test_drift_counts_changes_and_reverts():
    drift = next(f for f in diagnose(_evidence("0000")).findings if f.id == "zeros-drifts")
    assert drift.data["changes"] == 4  # 0000 -> 0101 -> 0000 -> 0101 -> 0000
    assert drift.data["reverts"] == 2
    assert drift.data["right"] == 2


def test_unconverged_training_outranks_everything():
    verdict = diagnose(_evidence("0000", teacher_output="0000S"))
    assert verdict.findings[0].id == "training-not-converged"
    assert verdict.headline.startswith("Training has not converged")


def test_one_late_teacher_error_is_nearly_converged_and_free_matches_up_to_it():
    verdict = diagnose(_evidence("0000", teacher_output="0001S"))
    nearly = next(f for f in verdict.findings if f.id == "training-nearly-converged")
    assert nearly.severity == "warning" and "wrong at position 1" in nearly.title
    assert nearly.explains == 3  # its error in teacher, and the same error carried into free and refeed
    explains = [f.explains for f in verdict.findings]
    assert explains == sorted(explains, reverse=True)
    assert "first error at position 1" in verdict.headline
    assert "matches teacher-forced up to its first error" in verdict.headline


def test_zeros_right_by_chance_is_a_warning_not_an_error():
    verdict = diagnose(_evidence("0101"))
    unseen = next(f for f in verdict.findings if f.id == "zeros-unseen-inputs")
    assert unseen.severity == "warning"
    assert "right on the pattern by chance" in verdict.headline


def test_verdict_on_trained_tiny_model(trained_tiny):
    report = build_compare(trained_tiny, "test")
    ids = [f.id for f in report.verdict.findings]
    assert "training-converged" in ids
    free = next(f for f in report.verdict.findings if f.id == "free-matches-teacher")
    assert free.data["refeed_equal"] is True
    assert free.data["equal_to_teacher_through"] == len(report.traces["teacher"].steps) - 1
    unseen = next(f for f in report.verdict.findings if f.id == "zeros-unseen-inputs")
    assert unseen.data["zero_vectors"] == trained_tiny.config.sequence.length - 1
    assert unseen.data["nearest_distance"] == 1.0
    cannot_end = next(f for f in report.verdict.findings if f.id == "zeros-cannot-end")
    assert cannot_end.explains == 1


def test_sampled_free_running_that_departs_early_is_not_said_to_match():
    ev = _evidence("0000")
    ev.traces["free"] = _trace("free", "0100S", ["S", "0", "1", "0", "0"])  # a sampled slip at step 3
    verdict = diagnose(ev)
    assert "free-running departs from teacher-forced at position 3" in verdict.headline
    differs = next(f for f in verdict.findings if f.id == "free-differs-from-teacher")
    assert any("differs from teacher-forced at position 3, before any" in line for line in differs.evidence)


def test_end_symbol_missing_is_converged_on_the_pattern_only():
    verdict = diagnose(_evidence("0000", teacher_output="01010"))
    assert verdict.headline.startswith("Training converged on the pattern, not on the end symbol")
