"""`seqdiag check FILE.py`: diagnose the user's own model and sampler."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seqdiag.cli import (
    DebugOpt,
    ExportOpt,
    JsonOpt,
    ThreadsOpt,
    app,
    check_export,
    print_json,
    print_report,
    user_errors,
)


@app.command()
def check(
    file: Annotated[
        Path,
        typer.Argument(
            help="Your Python file: it defines model, vocab, sequence (or sequences), generate(model, prompt, n) "
            "and optionally forward(model, tokens). seqdiag imports it, so its code runs (as pytest runs tests).",
            metavar="FILE.py",
            show_default=False,
        ),
    ],
    prompt: Annotated[
        int,
        typer.Option("--prompt", min=1, help="How many leading symbols of each sequence are given to generate."),
    ] = 1,
    threads: ThreadsOpt = 1,
    json_: JsonOpt = False,
    export: ExportOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Check YOUR model and sampler: which inputs your generate() feeds, step by step, against teacher forcing and
    free-running on your own model, and the bug by name (state reset, zero inputs, window, fed targets, ...).

    This imports FILE.py and runs its code, as pytest does; run it only on code you trust. The file defines
    `model` (a trained torch.nn.Module), `vocab` (a string or list of strings; token id = index), `sequence` or
    `sequences` (what the model was trained on, prompt included), `generate(model, prompt, n)` (your sampler:
    prompt ids in, n ids out) and optionally `forward(model, tokens)` ((T,) ids -> (T, V) logits, teacher-forced;
    default: model(tokens[None])).

    Example: seqdiag check examples/char_lstm_state_reset.py
    """
    with user_errors(debug):
        check_export(export, json_)
        import torch

        from seqdiag.device import check_threads

        torch.set_num_threads(check_threads(1 if threads is None else threads))
        from seqdiag.check import check_file

        report = check_file(file, prompt)
        if json_:
            print_json(report.to_json())
            return
        from seqdiag.render.check import render_check

        print_report(render_check, report, export, f"seqdiag check {file}")
