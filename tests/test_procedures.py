"""The registry of sampling procedures: one definition each, and everything that lists them derives from it."""

import json

import pytest

from seqdiag import procedures
from seqdiag.schema import load_schema


def test_the_four_historical_procedures_are_registered_in_order():
    assert procedures.NAMES[:4] == ("teacher", "free", "zeros", "refeed")
    assert "refeed" not in procedures.COLUMNS  # a consistency check of free, not a column of its own
    assert procedures.get("refeed").same_as == "free"


def test_every_procedure_is_complete_and_consistent():
    for p in procedures.REGISTRY.values():
        assert p.policy in ("teacher", "free", "zeros"), p.name
        assert p.state in ("carried", "prefix", "fresh"), p.name
        assert p.label and p.description and len(p.description) <= 120, p.name
        assert p.same_as is None or p.same_as in procedures.COLUMNS, p.name
        # A procedure whose inputs never depend on its predictions has nothing for a temperature to change.
        if p.policy != "free":
            assert p.decoding == "argmax", p.name


def test_steps_follow_reaches_end():
    assert procedures.get("teacher").steps(31) == 31
    assert procedures.get("zeros").steps(31) == 30  # the 2015 maxlen: no step for the end symbol


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown procedure 'beam'; valid: teacher, free, zeros, refeed"):
        procedures.get("beam")


def test_the_diagonal_of_the_policy_matrix_comes_from_the_registry():
    from seqdiag.matrix import diagonal_procedure

    assert [diagonal_procedure(p) for p in ("teacher", "free", "zeros", "scheduled")] == [
        "teacher",
        "free",
        "zeros",
        "free",
    ]


def test_the_json_schema_names_exactly_the_registered_procedures():
    enum = load_schema()["$defs"]["procedure_name"]["enum"]
    assert enum == list(procedures.NAMES)
    jsonschema = pytest.importorskip("jsonschema")
    name = {"$defs": load_schema()["$defs"], "$ref": "#/$defs/procedure_name"}
    for known in procedures.NAMES:
        jsonschema.validate(known, name)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("beam", name)


def test_the_schema_file_keeps_no_copy_of_the_registry():
    """The registry is the one list of procedures: the shipped file must not hold a second one to go stale."""
    from importlib import resources

    raw = json.loads(resources.files("seqdiag.schema").joinpath("seqdiag.schema.json").read_text())
    assert "enum" not in raw["$defs"]["procedure_name"]


def test_python_m_seqdiag_schema_prints_the_complete_schema():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "seqdiag.schema"], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == load_schema()


def test_the_registry_imports_no_torch():
    """The CLI lists the choices before importing torch (which takes seconds)."""
    import subprocess
    import sys

    code = "import sys, seqdiag.procedures; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_the_app_help_names_every_procedure_from_the_registry():
    from seqdiag.cli import app

    for p in procedures.REGISTRY.values():
        assert f"{p.name} ({p.label})" in (app.info.help or "")


def test_plot_legends_carry_each_procedures_label():
    from seqdiag.plot import legend_label

    assert [legend_label(n) for n in procedures.NAMES] == [f"{n} ({procedures.get(n).label})" for n in procedures.NAMES]
    assert legend_label("not-a-procedure") == "not-a-procedure"
