"""seqdiag check on the user files in examples/: each bug is named with its finding id, a correct sampler on every
model style is sampler-matches; and a user's file that cannot be used is one clear error naming the culprit."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from seqdiag.check import check_file
from seqdiag.check.diagnose import IDS
from seqdiag.errors import SeqdiagError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# Every example file and the finding it must open with. The model modules (*_model.py) train once per process.
EXPECTED = {
    "char_lstm_ok.py": "sampler-matches",
    "char_lstm_state_reset.py": "sampler-state-reset",
    "char_lstm_feeds_targets.py": "sampler-feeds-targets",
    "char_lstm_off_by_one.py": "sampler-off-by-one",
    "word_gru_ok.py": "sampler-matches",
    "word_gru_start_every_step.py": "sampler-prediction-not-fed",
    "word_gru_temperature.py": "sampler-decoding",
    "onehot_ok.py": "sampler-matches",
    "onehot_zeros.py": "sampler-unseen-inputs",
    "transformer_ok.py": "sampler-matches",
    "transformer_window.py": "sampler-window",
}


def test_every_example_file_is_listed():
    files = {p.name for p in EXAMPLES.glob("*.py") if not p.name.endswith("_model.py")}
    assert files == set(EXPECTED)


def test_every_finding_id_of_the_protocol_has_an_example():
    named = set(EXPECTED.values())
    assert named == set(IDS) - {"sampler-unexplained"}


@pytest.fixture(scope="module")
def reports():
    cache: dict[str, object] = {}

    def get(name: str):
        if name not in cache:
            cache[name] = check_file(EXAMPLES / name)
        return cache[name]

    return get


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_is_diagnosed_with_its_finding(reports, name):
    report = reports(name)
    ids = [f.id for f in report.verdict.findings]
    assert ids[0] == EXPECTED[name], report.verdict.headline
    if EXPECTED[name] == "sampler-matches":
        assert ids == ["sampler-matches"]
    else:
        assert "sampler-matches" not in ids
        assert report.verdict.findings[0].help  # a concrete fix for the user's code


@pytest.mark.parametrize("name", [n for n, i in EXPECTED.items() if i == "sampler-matches"])
def test_a_correct_sampler_feeds_back_what_the_model_predicted(reports, name):
    """The intervention (the model's top symbol forced at step 0) is fed back at step 1 by a correct sampler."""
    iv = reports(name).sequences[0].intervention
    assert iv is not None and iv.took and iv.follows and iv.fed_next == iv.forced


def test_feeding_targets_is_caught_even_when_the_output_is_perfect(reports):
    seq = reports("char_lstm_feeds_targets.py").sequences[0]
    assert seq.correct("sampler") == len(seq.steps)  # it looks perfect
    assert seq.intervention is not None and not seq.intervention.follows
    assert seq.intervention.fed_next == seq.steps[0].target  # the true symbol, fed at step 1


def test_state_reset_evidence_is_measured(reports):
    report = reports("char_lstm_state_reset.py")
    finding = report.verdict.findings[0]
    assert finding.data["sees"] == 1 and finding.data["state"] == "no state"
    steps = report.sequences[0].steps
    assert steps[0].state == "fresh" and all(s.state == "fresh" and s.seen == 1 for s in steps[1:])
    assert any("given only the last 1 true token" in line for line in finding.evidence)


def test_zero_inputs_are_read_as_zero_vectors(reports):
    report = reports("onehot_zeros.py")
    steps = report.sequences[0].steps
    assert steps[0].sampler.input == "S" and all(s.sampler.input is None for s in steps[1:])
    assert report.verdict.findings[0].data["zero_vectors"] == len(steps) - 1


def test_window_length_is_found(reports):
    finding = reports("transformer_window.py").verdict.findings[0]
    assert finding.data["window"] == 4


def test_decoding_says_whether_sampling_explains_the_divergence(reports):
    finding = reports("word_gru_temperature.py").verdict.findings[0]
    assert finding.data["explains_divergence"] is True
    assert finding.data["steps"]


# --- a user's file that cannot be used: one line naming the culprit ---------------------------------------------

GOOD = """
import torch
from torch import nn

vocab = "ab"
sequence = "abab"


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.e = nn.Embedding(2, 2)

    def forward(self, x):
        return self.e(x)


model = M()


def generate(model, prompt, n):
    ids = list(prompt)
    for _ in range(n):
        ids.append(int(model(torch.tensor([ids]))[0, -1].argmax()))
    return ids[len(prompt):]
"""


def _user(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "user_model.py"
    path.write_text(textwrap.dedent(source))
    return path


def test_a_minimal_file_runs(tmp_path):
    report = check_file(_user(tmp_path, GOOD))
    assert report.verdict.findings and len(report.sequences[0].steps) == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('vocab = "ab"', "vocab = 3"), "vocab must be a string or a list of strings"),
        (('sequence = "abab"', 'sequence = "abcb"'), "sequence[2] = 'c' is not in vocab"),
        (('sequence = "abab"', "sequences = []"), "sequences must be a non-empty list"),
        (("model = M()", "model = 'M'"), "model must be a torch.nn.Module, not str"),
        (("def generate(", "def generat("), "defines no 'generate'"),
        (("import torch", "import torch\n1 / 0"), "failed to import: ZeroDivisionError: division by zero (line 3)"),
        (("    return ids[len(prompt):]", "    return ids"), "returned 4 token ids; expected 3"),
        (("    return ids[len(prompt):]", "    return 'ab'"), "generate returned str; expected a list of 3 token ids"),
        (("    return ids[len(prompt):]", "    return torch.zeros(1, 3)"), "shape (1, 3)"),
        (("    return ids[len(prompt):]", "    return [5, 0, 0]"), "token id 5, outside vocab (0..1)"),
        (("    ids = list(prompt)", "    ids = list(prompt)\n    raise ValueError('oops')"), "raised ValueError: oops"),
        (
            ("        return self.e(x)", "        return self.e(x[0])"),
            "model(tokens[None]) returned no (1, 3, 2) tensor",
        ),
        (("    def forward(self, x):", "    def forward(self, x, h):"), "define forward(model, tokens)"),
    ],
)
def test_bad_user_file_is_one_clear_error(tmp_path, change, message):
    old, new = change
    assert old in GOOD
    path = _user(tmp_path, GOOD.replace(old, new))
    with pytest.raises(SeqdiagError) as info:
        check_file(path)
    text = str(info.value)
    assert message in text and str(path) in text and "\n" not in text


def test_user_forward_of_the_wrong_shape_is_named(tmp_path):
    path = _user(tmp_path, GOOD + "\n\ndef forward(model, tokens):\n    return model(tokens[None])\n")
    with pytest.raises(SeqdiagError, match=r"forward\(model, tokens\) returned \(1, 3, 2\) for 3 tokens"):
        check_file(path)


def test_prompt_longer_than_the_sequence_allows(tmp_path):
    with pytest.raises(SeqdiagError, match="--prompt 3 needs at least 5"):
        check_file(_user(tmp_path, GOOD), prompt=3)


def test_missing_file(tmp_path):
    with pytest.raises(SeqdiagError, match="no such file"):
        check_file(tmp_path / "nope.py")


# --- the recurrent state, read from the nn.LSTM's own arguments ----------------------------------------------------

CHAR_LSTM_USER = """
import sys
sys.path.insert(0, {examples!r})
import torch
from char_lstm_model import text, trained, vocab

model = trained()
sequence = text


def generate(model, prompt, n):
    logits, h0 = model(torch.tensor([prompt]))
    out = [int(logits[0, -1].argmax())]
    for _ in range(n - 1):
        logits, h = model(torch.tensor([[out[-1]]]), {state})
        out.append(int(logits[0, -1].argmax()))
    return out
"""


@pytest.mark.parametrize(
    ("state", "kind", "how"),
    [
        ("h0", "stale", "the state returned by model call 1 (the one on the prompt)"),
        ("(torch.zeros(1, 1, 48), torch.zeros(1, 1, 48))", "fresh", "a zero state"),
        ("(h0[0] + 1, h0[1])", "other", "a state the model did not return"),
    ],
)
def test_a_state_that_is_not_the_previous_calls_is_named(tmp_path, state, kind, how):
    path = _user(tmp_path, CHAR_LSTM_USER.format(examples=str(EXAMPLES), state=state))
    report = check_file(path)
    finding = report.verdict.findings[0]
    assert finding.id == "sampler-state-reset"
    assert finding.data["kind"] == kind and finding.data["state"] == how
    steps = report.sequences[0].steps
    assert steps[1].state == ("carried" if kind == "stale" else kind)  # h0 is the previous state at step 1
    assert all(s.state == kind for s in steps[2:])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_longer_prompt_gives_the_same_diagnosis(name):
    """--prompt 4: the sampler gets four symbols (per-token warm-up calls, or one call over the prompt)."""
    report = check_file(EXAMPLES / name, prompt=4)
    assert report.verdict.findings[0].id == EXPECTED[name], report.verdict.headline
    assert report.sequences[0].prompt == report.sequences[0].prompt[:4] and len(report.sequences[0].prompt) == 4


def test_every_finding_has_an_explanation_and_a_fix():
    from seqdiag.check.diagnose import EXPLANATIONS

    for finding_id, (long, fix) in EXPLANATIONS.items():
        assert finding_id.startswith("sampler-") and len(long) > 80 and fix, finding_id
