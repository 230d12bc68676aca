"""Regenerate the README's real `seqdiag compare` excerpt and its figures (never hand-edit them).

python docs/update_readme.py                  # all: the compare and glance excerpts, docs/figures/*.png
python docs/update_readme.py --only figures   # just the figures (seqdiag train + seqdiag plot on the default)
python docs/update_readme.py --only compare   # just the excerpts (compare's whole default output, its glance lines)
python docs/update_readme.py --only glance    # just the "Training at a glance" excerpt
python docs/update_readme.py --only depth     # the policy matrix, reliance and recovery excerpt (~1.5 min)
python docs/update_readme.py --only check     # seqdiag check on one of examples/ (the "Check your own sampler" excerpt)
python docs/update_readme.py --only procedures  # the table of procedures, from their registry (instant)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- compare-excerpt:start -->", "<!-- compare-excerpt:end -->"
GLANCE_START, GLANCE_END = "<!-- glance-excerpt:start -->", "<!-- glance-excerpt:end -->"
DEPTH_START, DEPTH_END = "<!-- depth-excerpt:start -->", "<!-- depth-excerpt:end -->"
DEPTH_COMMAND = ["compare", "--full", "--train", "teacher,zeros,scheduled"]
CHECK_START, CHECK_END = "<!-- check-excerpt:start -->", "<!-- check-excerpt:end -->"
CHECK_EXAMPLE = "examples/char_lstm_state_reset.py"
PROCEDURES_START, PROCEDURES_END = "<!-- procedures:start -->", "<!-- procedures:end -->"
STATE_WORDS = {"carried": "carried", "prefix": "none: re-runs the prefix", "fresh": "none: zero at every step"}
# Section titles of compare's output, in the order printed; a section runs to the next title.
TITLES = (
    "Per step",
    "Through training",
    "Training at a glance",
    "At a glance",
    "Policy matrix",
    "Hidden-state drift",
    "Input reliance",
    "Error recovery",
    "Counting",
    "Stochastic",
    "╭─ Findings",
    "╭─ Verdict",
)
VERDICT_FINDINGS = 2  # findings kept in the compare excerpt's verdict panel
KEEP_HEAD, KEEP_TAIL = 6, 4  # per-step rows kept at each end of the table
FIGURES = README.parent / "docs" / "figures"
README_FIGURES = ("p_target", "accuracy")  # the PNGs the README shows, from `seqdiag plot` on the default run


def trim_per_step(lines: list[str]) -> list[str]:
    """Keep the first and last rows of the per-step table; the middle repeats the pattern."""
    rows = [i for i, line in enumerate(lines) if re.match(r"^\s+\d+\s{2,}\S", line) and "→" in line]
    if len(rows) <= KEEP_HEAD + KEEP_TAIL:
        return lines
    cut_from, cut_to = rows[KEEP_HEAD], rows[-KEEP_TAIL]
    return [*lines[:cut_from], "  …", *lines[cut_to:]]


def split_sections(lines: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """(the lines before the first section, {title: the section's lines}), trailing blank lines dropped."""
    starts = [(i, t) for i, line in enumerate(lines) for t in TITLES if line.strip().startswith(t)]
    sections = {}
    for (i, title), (j, _) in zip(starts, [*starts[1:], (len(lines), "")], strict=True):
        block = lines[i:j]
        while block and not block[-1].strip():
            block.pop()
        sections[title] = block
    return lines[: starts[0][0]] if starts else lines, sections


def trim_verdict(panel: list[str], keep: int = VERDICT_FINDINGS) -> list[str]:
    """The verdict panel's headline, its first `keep` findings, then the fix line(s) and the border."""
    blank = [i for i, line in enumerate(panel) if line.strip("│ ") == ""]
    if len(blank) < keep + 2:
        return panel
    fix = next(i for i, line in enumerate(panel) if line.startswith("│ fix:"))
    return [*panel[: blank[keep] + 1], "│ …", *panel[fix:]]


def run_seqdiag(*args: str) -> list[str]:
    """The command's stdout at 120 columns, as a reader piping it would see it."""
    env = {**os.environ, "COLUMNS": "120"}
    command = [sys.executable, "-m", "seqdiag", *args]
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    return [line.rstrip() for line in out.splitlines()]


def update_depth() -> None:
    """The policy matrix, input reliance and error recovery of `compare --train teacher,zeros,scheduled`."""
    _, sections = split_sections(run_seqdiag(*DEPTH_COMMAND))
    body = ["$ seqdiag " + " ".join(DEPTH_COMMAND), "…"]
    for title in ("Policy matrix", "Input reliance", "Error recovery"):
        body += [*sections[title], ""]
    README.write_text(replace_block(README.read_text(), DEPTH_START, DEPTH_END, "\n".join(body).rstrip()))
    print(f"updated {README} (depth)")


def update_figures() -> None:
    """Train the default run, plot it, and keep the PNGs the README shows."""
    with tempfile.TemporaryDirectory() as tmp:
        run, figures = Path(tmp) / "default", Path(tmp) / "figures"
        subprocess.run([sys.executable, "-m", "seqdiag", "train", "--out", str(run)], check=True, capture_output=True)
        subprocess.run([sys.executable, "-m", "seqdiag", "plot", str(run), "--out", str(figures)], check=True)
        FIGURES.mkdir(parents=True, exist_ok=True)
        for name in README_FIGURES:
            shutil.copyfile(figures / f"{name}.png", FIGURES / f"{name}.png")
    print(f"updated {', '.join(f'{FIGURES / n}.png' for n in README_FIGURES)}")


def glance_lines(lines: list[str]) -> list[str]:
    """The "Training at a glance" block of compare's output: its title line through its caption."""
    start = next((i for i, line in enumerate(lines) if line.startswith("Training at a glance")), None)
    if start is None:
        raise SystemExit("seqdiag compare printed no 'Training at a glance' block")
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("one column per checkpoint"))
    return lines[start : end + 1]


def replace_block(text: str, start: str, end: str, body: str) -> str:
    block = f"{start}\n```text\n{body}\n```\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{README}: markers {start} / {end} not found")
    return pattern.sub(lambda _: block, text)


def procedure_table() -> str:
    """The README's table of procedures, from their registry (`seqdiag/procedures/`)."""
    from seqdiag import procedures

    rows = ["| procedure | what it is | state between steps | decoding |", "|---|---|---|---|"]
    for p in procedures.REGISTRY.values():
        decoding = "argmax, or `--temperature`/`--top-k`" if p.decoding == "configured" else "argmax"
        rows.append(f"| `{p.name}` | {p.description} | {STATE_WORDS[p.state]} | {decoding} |")
    return "\n".join(rows)


def update_procedures() -> None:
    pattern = re.compile(re.escape(PROCEDURES_START) + r".*?" + re.escape(PROCEDURES_END), re.S)
    text = README.read_text()
    if not pattern.search(text):
        raise SystemExit(f"{README}: markers {PROCEDURES_START} / {PROCEDURES_END} not found")
    block = f"{PROCEDURES_START}\n{procedure_table()}\n{PROCEDURES_END}"
    README.write_text(pattern.sub(lambda _: block, text))
    print(f"updated {README} (procedures)")


def update_compare(parts: tuple[str, ...] = ("compare", "glance")) -> None:
    lines = run_seqdiag("compare")
    text = README.read_text()
    if "compare" in parts:  # the default output fits a screen: shown whole
        text = replace_block(text, START, END, "\n".join(lines))
    if "glance" in parts:
        text = replace_block(text, GLANCE_START, GLANCE_END, "\n".join(glance_lines(lines)))
    README.write_text(text)
    print(f"updated {README} ({', '.join(parts)})")


def update_check() -> None:
    """The whole output of `seqdiag check` on one example, run from the repository root (paths as a user types)."""
    command = [sys.executable, "-m", "seqdiag", "check", CHECK_EXAMPLE]
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=README.parent).stdout
    lines = [line.rstrip() for line in out.splitlines()]
    body = "\n".join([f"$ seqdiag check {CHECK_EXAMPLE}", *lines])
    README.write_text(replace_block(README.read_text(), CHECK_START, CHECK_END, body))
    print(f"updated {README} (check)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--only",
        choices=("compare", "glance", "figures", "depth", "check", "procedures"),
        help="regenerate just one part",
    )
    only = parser.parse_args().only
    if only in (None, "procedures"):
        update_procedures()
    if only in (None, "compare"):
        update_compare()
    if only == "glance":
        update_compare(("glance",))
    if only in (None, "depth"):
        update_depth()
    if only in (None, "figures"):
        update_figures()
    if only in (None, "check"):
        update_check()


if __name__ == "__main__":
    main()
