"""--export: what the terminal showed, saved as SVG, HTML or text, whole or not at all."""

import xml.etree.ElementTree as ElementTree

import pytest

from seqdiag.atomic import write_atomic, write_text_atomic
from seqdiag.cli import app


def _set(overrides):
    return [arg for o in overrides for arg in ("--set", o)]


@pytest.mark.parametrize("suffix", [".svg", ".html", ".txt"])
def test_compare_export_writes_the_terminal_output(runner, tiny_overrides, tmp_path, suffix):
    path = tmp_path / f"compare{suffix}"
    result = runner.invoke(app, ["compare", "--export", str(path), *_set(tiny_overrides)])
    assert result.exit_code == 0, result.output
    assert path.stat().st_size > 0
    text = path.read_text(encoding="utf-8")
    assert "Findings" in text and "Per position" in result.stdout
    if suffix == ".svg":
        assert ElementTree.fromstring(text).tag.endswith("svg")
    if suffix == ".txt":
        # the text export is exactly what stdout showed: the verdict's headline and the fix, word for word
        assert text == result.stdout
        assert "fix:" in text and "Training" in text
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


def test_sample_export_text_matches_stdout(runner, tiny_overrides, tmp_path):
    path = tmp_path / "nested" / "free.txt"
    result = runner.invoke(app, ["sample", "--mode", "zeros", "--export", str(path), *_set(tiny_overrides)])
    assert result.exit_code == 0, result.output
    assert path.read_text(encoding="utf-8") == result.stdout
    assert "zeros: per step" in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("command", ["compare", "sample"])
def test_unknown_export_suffix_is_one_line_exit_2(runner, command, tmp_path):
    result = runner.invoke(app, [command, "--export", str(tmp_path / "out.png")])
    assert result.exit_code == 2
    assert "out.png" in result.output and ".svg, .html, .txt" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out.png").exists()


def test_export_and_json_are_exclusive(runner, tmp_path):
    result = runner.invoke(app, ["compare", "--json", "--export", str(tmp_path / "a.svg")])
    assert result.exit_code == 2 and "--json" in result.output


def test_write_atomic_leaves_the_old_file_on_failure(tmp_path):
    path = tmp_path / "figure.svg"
    write_text_atomic(path, "old")

    def broken(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic(path, broken)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["figure.svg"]


def test_export_under_a_file_fails_before_training(runner, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = runner.invoke(app, ["compare", "--export", str(blocker / "out.svg")])
    assert result.exit_code == 2 and "is a file, not a folder" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_sweep_export_text_matches_stdout(runner, tiny_overrides, tmp_path):
    path = tmp_path / "sweep.txt"
    result = runner.invoke(app, ["sweep", "--seeds", "2", "--export", str(path), *_set(tiny_overrides)])
    assert result.exit_code == 0, result.output
    assert path.read_text(encoding="utf-8") == result.stdout and "teacher" in result.stdout
