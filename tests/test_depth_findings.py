"""The depth findings on hand-built measurements whose answer is known."""

import dataclasses
import re

import pytest
from test_diagnosis import _evidence

from seqdiag.findings import diagnose
from seqdiag.matrix import MatrixCell, PolicyMatrix, PolicyRow
from seqdiag.probes import InputReliance
from seqdiag.recovery import Injection, Recovery
from seqdiag.stability import LearningCurve, LossSpike, Stability


def _cell(train, sample, correct, end=True):
    return MatrixCell(
        train, sample, correct / 5, correct, 5, min(1.0, correct / 4), end, None if correct == 5 else 1, ""
    )


def _matrix():
    cells = [
        _cell("teacher", "teacher", 5),
        _cell("teacher", "free", 5),
        _cell("teacher", "zeros", 2, None),
        _cell("zeros", "teacher", 3),
        _cell("zeros", "free", 3),
        _cell("zeros", "zeros", 4, None),
    ]
    reliance = InputReliance(4, 4, 8, 0, 0)
    rec = Recovery("0101S", None, [Injection(2, "1", "0", "010", 0, None, False)])
    rows = [PolicyRow("teacher", 0.1, 40, None, rec, reliance), PolicyRow("zeros", 0.1, 40, None, rec, reliance)]
    return PolicyMatrix(["teacher", "zeros"], ["teacher", "free", "zeros"], cells, rows)


def _stability(spikes=(), flips=()):
    return Stability(
        end_step={"teacher": 4, "free": 4, "zeros": None},
        target_step=4,
        curves=[LearningCurve("teacher", 5, 10, 10, 30, 40, 2)],
        near_converged_at=5,
        spikes=[LossSpike(s, 0.2, 0.1) for s in spikes],
        spike_steps=len(spikes),
        teacher_flips=list(flips),
        optimizer="rmsprop",
        lr=1e-3,
        eps=1e-6,
        denominator_median=1e-8,
        below_eps_share=0.6,
    )


def _findings(**depth):
    return {f.id: f for f in diagnose(dataclasses.replace(_evidence("0000"), **depth)).findings}


def test_matrix_finding_counts_diagonal_and_names_failing_cells():
    f = _findings(matrix=_matrix())["policy-matrix"]
    assert f.data["diagonal"] == 2 and f.data["diagonal_right"] == 2  # teacher→teacher 5/5, zeros→zeros 4/4 pattern
    assert f.data["off_diagonal_wrong"] == ["teacher→zeros", "zeros→teacher", "zeros→free"]
    assert "diagonal pattern right in 2/2 cells, off the diagonal 1/4" in f.title
    assert "feeds lifts it to 4/5 from 2/5 (teacher)" in f.title  # the zeros sampler, trained on zeros
    assert f.evidence[0] == "the teacher sampler: 5/5 trained teacher vs 3/5 trained zeros"
    assert f.severity == "warning"


def test_instability_names_the_spike_steps_and_the_optimizer():
    f = _findings(stability=_stability(spikes=(120, 300), flips=(40,)))["late-instability"]
    assert f.data["spikes"] == [120, 300] and f.data["teacher_flips"] == [40]
    assert "train.lr=0.0003" in f.help and f.proposes == ["train.lr=0.0003"]
    assert not any(re.search(r"\beps\b", line) for line in [f.help, *f.evidence])  # no optimizer mechanism claimed
    assert any("had right at the checkpoint before at 1 checkpoint: training step 40" in line for line in f.evidence)
    assert "1 checkpoint lost a right teacher-forced position (1 end symbol)" in f.title  # the pattern stayed right


def test_no_spikes_no_flips_no_instability_finding():
    found = _findings(stability=_stability())
    assert "late-instability" not in found
    assert found["counting"].data["lag"] == 30  # end symbol settled at 40, the pattern at 10


def test_recovery_finding_compares_training_policies():
    f = _findings(recovery=_matrix().rows[0].recovery, matrix=_matrix())["error-recovery"]
    assert f.data == {"continued": 1, "resynced": 0, "injections": 1}
    assert any(line.startswith("trained zeros: continues 1/1") for line in f.evidence)


@pytest.mark.slow
def test_the_2015_default_run_shows_late_spikes_and_teacher_flips():
    """The default (5000 RMSprop steps, eps 1e-6): spikes after near-convergence and teacher-forced flips late."""
    from seqdiag.config import load_config
    from seqdiag.report import build_compare
    from seqdiag.train import train

    report = build_compare(train(load_config()), "test")
    st = report.stability
    assert st.spikes and max(s.step for s in st.spikes) > 4000
    assert st.teacher_flips and min(st.teacher_flips) > 4000
    assert st.below_eps_share > 0.5
    assert "late-instability" in {f.id for f in report.verdict.findings}
