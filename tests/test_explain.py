"""`seqdiag explain ID`: every finding id a rule can emit has a long explanation, reachable from the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from test_schema import _validate

from seqdiag import explain
from seqdiag.check.explanations import EXPLANATIONS as CHECK_EXPLANATIONS
from seqdiag.cli import app
from seqdiag.findings import explanation, finding_ids
from seqdiag.findings.base import RULES


def test_every_id_has_an_explanation_that_opens_with_it():
    assert len(finding_ids()) == len(set(finding_ids())) >= 18
    for finding_id in finding_ids():
        text = explanation(finding_id)
        assert text is not None and text.startswith(f"{finding_id} (") and len(text.split()) > 25, finding_id


def test_each_rule_lives_in_its_own_findings_module():
    assert all(spec.module.startswith("seqdiag.findings.") for spec in RULES)


@pytest.mark.parametrize("finding_id", ["late-instability", "zeros-unseen-inputs", "fragile-steps"])
def test_explain_prints_it(runner, finding_id):
    result = runner.invoke(app, ["explain", finding_id])
    assert result.exit_code == 0 and result.stdout.strip() == explanation(finding_id).strip()


def test_late_instability_explanation_refutes_the_eps_mechanism():
    text = explanation("late-instability")
    assert "lr/√(1−ρ)" in text and "eps only ever" in text


def test_an_unknown_id_is_one_line_on_stderr_and_exit_2(runner):
    result = runner.invoke(app, ["explain", "no-such-thing"])
    assert result.exit_code == 2
    assert "no-such-thing" in result.stderr and "late-instability" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_explain_lists_ids_and_validates_as_json(runner):
    result = runner.invoke(app, ["explain", "--json"])
    data = json.loads(result.stdout)
    assert data["ids"] == explain.finding_ids()
    assert set(finding_ids()) < set(data["ids"]) and set(CHECK_EXPLANATIONS) < set(data["ids"])
    _validate(data)
    _validate(json.loads(runner.invoke(app, ["explain", "counting", "--json"]).stdout))


def test_explain_does_not_import_torch():
    code = (
        "import sys; from seqdiag.cli import app; app(['explain', 'counting'], standalone_mode=False); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("False")


@pytest.mark.parametrize("finding_id", ["sampler-state-reset", "sampler-window", "sampler-matches"])
def test_explain_knows_the_check_findings(runner, finding_id):
    long, fix = CHECK_EXPLANATIONS[finding_id]
    result = runner.invoke(app, ["explain", finding_id])
    assert result.exit_code == 0
    assert long in result.stdout.replace("\n", " ") or long.split(".")[0] in result.stdout
    assert f"fix: {fix}" in result.stdout


def test_compare_and_check_ids_never_clash():
    assert not set(finding_ids()) & set(CHECK_EXPLANATIONS)


def test_explain_of_a_check_finding_does_not_import_torch():
    code = (
        "import sys; from seqdiag.cli import app; app(['explain', 'sampler-window'], standalone_mode=False); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("False")
