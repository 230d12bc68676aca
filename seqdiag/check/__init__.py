"""`seqdiag check FILE.py`: diagnose the user's own model and sampler.

The user's file is imported (its code runs, as pytest runs test files); `user` checks the protocol names,
`reference` runs teacher-forced and free-running through the user's forward, `record` hooks the model while the
user's `generate` runs, `sampler` lines its calls up with the tokens it returned, `diagnose` names the bug.
"""

from __future__ import annotations

import contextlib
import sys
from collections import Counter
from pathlib import Path

from seqdiag.check.report import CheckReport


def check_file(path: Path, prompt: int = 1) -> CheckReport:
    """Run every reference and the user's sampler on each sequence of the file at `path`, and diagnose it.

    Args:
        path: the user's Python file (see `seqdiag.check.user` for what it defines).
        prompt: how many leading symbols of each sequence are given to `generate`.
    """
    with contextlib.redirect_stdout(sys.stderr):  # the user's prints are not results: stdout stays for them
        return _check(path, prompt)


def _check(path: Path, prompt: int) -> CheckReport:
    import torch

    from seqdiag import __version__
    from seqdiag.check.diagnose import SequenceEvidence, build_sequence_check, classify, context_kind, verdict
    from seqdiag.check.reference import eval_mode, free_running, make_forward, teacher_forced, windowed
    from seqdiag.check.sampler import SamplerRun, run_generate
    from seqdiag.check.user import load_user_file
    from seqdiag.errors import SeqdiagError

    user = load_user_file(path)
    if prompt < 1:
        raise SeqdiagError(f"--prompt {prompt}: give at least 1 leading symbol")
    short = [i for i, s in enumerate(user.sequences) if len(s) < prompt + 2]
    if short:
        raise SeqdiagError(
            f"{path}: sequence{'s[' + str(short[0]) + ']' if len(user.sequences) > 1 else ''} has "
            f"{len(user.sequences[short[0]])} symbols; --prompt {prompt} needs at least {prompt + 2}"
        )
    forward = make_forward(user)
    training_inputs = {t for s in user.sequences for t in s[:-1]}
    restore = eval_mode(user.model)
    checks, per_sequence, calls, recurrent = [], [], 0, False
    try:
        with torch.no_grad():
            for index, sequence in enumerate(user.sequences):
                n = len(sequence) - prompt
                teacher = teacher_forced(forward, sequence, prompt)
                free = free_running(forward, sequence + [sequence[-1]], prompt, steps=n + 1)
                run = run_generate(user, sequence[:prompt], n)
                if index == 0:
                    calls, recurrent = run.recording.calls, run.recurrent
                forced: SamplerRun | None = None
                forced_at = None
                if n >= 2:
                    top = int(run.rows[0].logits.argmax())
                    choices = [t for t in sorted(training_inputs) if t not in (top, sequence[prompt])]
                    choices = choices or [t for t in range(len(user.vocab)) if t != top]
                    forced_at = (0, choices[0])
                    try:
                        forced = run_generate(
                            user, sequence[:prompt], n, intervene=(run.rows[0].call, run.rows[0].row, choices[0])
                        )
                    except SeqdiagError:
                        forced, forced_at = None, None
                ev = SequenceEvidence(sequence, prompt, teacher, free, run, forced, forced_at, None, training_inputs)
                truncated = [len(run.rows[i].context) for i in range(n) if context_kind(ev, i) == "window"]
                if truncated:
                    w = Counter(truncated).most_common(1)[0][0]
                    ev = SequenceEvidence(
                        sequence,
                        prompt,
                        teacher,
                        free,
                        run,
                        forced,
                        forced_at,
                        windowed(forward, sequence, prompt, w),
                        training_inputs,
                    )
                check = build_sequence_check(ev, index, user.vocab)
                checks.append(check)
                per_sequence.append(classify(ev, check, user.vocab, many=len(user.sequences) > 1))
    finally:
        restore()
    return CheckReport(
        path=str(path),
        prompt=prompt,
        vocab=user.vocab,
        recurrent=recurrent,
        calls=calls,
        sequences=checks,
        verdict=verdict(checks, per_sequence),
        torch_version=torch.__version__,
        seqdiag_version=__version__,
    )
