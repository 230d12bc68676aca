"""Hidden-state drift and the linear probe: identical states are indistinguishable, separated ones are not."""

import torch

from seqdiag import procedures
from seqdiag.drift import hidden_drift_report, linear_probe
from seqdiag.policy import Rollout
from seqdiag.sampling import run_procedure


def _rollout(hidden: torch.Tensor) -> Rollout:
    b, t, h = hidden.shape
    zeros = torch.zeros(1, b, t, 3)
    return Rollout(zeros, zeros, hidden[None], torch.zeros(1, b, t, dtype=torch.long))


def test_probe_is_at_chance_on_identical_states_and_perfect_on_separated_ones():
    g = torch.Generator().manual_seed(0)
    ref = torch.randn(30, 4, generator=g)
    same = ref[None].clone()
    shifted = (ref + torch.tensor([10.0, 0, 0, 0]))[None]
    accuracies = linear_probe([ref, ref], [same, shifted])
    assert accuracies[0] == 0.5
    assert accuracies[1] == 1.0


def test_drift_report_finds_where_a_trajectory_leaves_the_band():
    teacher = torch.zeros(1, 6, 2)
    away = torch.zeros(1, 6, 2)
    away[0, 3:, 0] = torch.tensor([0.1, 0.5, 1.0])
    report = hidden_drift_report(
        {"teacher": _rollout(teacher), "free": _rollout(teacher.clone()), "zeros": _rollout(away)}, tolerance=0.25
    )
    free, zeros = report.get("free"), report.get("zeros")
    assert free.left_at is None and free.max_distance == 0.0 and free.probe_accuracy == 0.5
    assert zeros.left_at == 4 and zeros.max_at == 5 and zeros.max_distance == 1.0
    assert "6 teacher-forced states" in report.probe


def test_drift_on_the_trained_tiny_model(trained_tiny):
    model, seq = trained_tiny.model, trained_tiny.sequence
    rollouts = {m: run_procedure(model, seq, m) for m in procedures.NAMES}
    report = hidden_drift_report(rollouts)
    assert report.get("free").left_at is None  # free-running feeds what teacher forcing feeds
    assert report.get("free").probe_accuracy == 0.5
    assert report.get("zeros").left_at is not None
    # The probe saw the zeros procedure's own states: one per step it ran (8 pattern symbols, one rollout).
    assert report.get("zeros").probe_states == 8
    assert report.teacher_states == 9


def test_drift_table_has_a_row_per_procedure_and_json_of_every_field():
    teacher = torch.zeros(1, 6, 2)
    away = torch.zeros(1, 6, 2)
    away[0, 3:, 0] = torch.tensor([0.1, 0.5, 1.0])
    report = hidden_drift_report({"teacher": _rollout(teacher), "zeros": _rollout(away)}, tolerance=0.25)
    spec = report.table()
    assert [c.header for c in spec.columns] == ["procedure", "leaves band", "max", "probe", "distance per step"]
    (row,) = spec.plain()
    assert row[:3] == ["zeros", "step 4", "1.00 @5"]
    assert len(row[4]) == 6  # one bar per step
    assert "band = 0.25" in (spec.caption or "")
    assert report.to_json()["procedures"][0]["left_at"] == 4
