"""The findings `seqdiag check` can emit, each with its long explanation and its fix in one sentence.

Kept apart from `diagnose` (which needs torch) so that `seqdiag explain` answers without importing torch.
"""

from __future__ import annotations

# Every finding `seqdiag check` can emit: id -> (the long explanation, the fix in one sentence).
EXPLANATIONS: dict[str, tuple[str, str]] = {
    "sampler-matches": (
        "Your generate feeds the model what free-running feeds (the prompt, then each of its own predictions, with "
        "the state carried or the whole prefix re-read) and returns free-running's argmax at every step; seqdiag "
        "checks the feeding by forcing the model's top symbol at step 0 and seeing it fed back at step 1. The "
        "sampler is fine: whatever is wrong is training, and teacher-forced says what.",
        "nothing to fix in the sampler",
    ),
    "sampler-unseen-inputs": (
        "Your generate feeds inputs training never fed: zero or blank vectors (the 2015 Keras sampler fed a start "
        "symbol then zeros), vectors that are not one-hot, or an id never seen as an input. The model's response to "
        "them was never trained, so its output is arbitrary and can change as training goes on, even when it "
        "happens to match.",
        "feed the model its own previous prediction, encoded as training encoded its inputs",
    ),
    "sampler-state-reset": (
        "Your generate gives a recurrent module (nn.RNN/LSTM/GRU or a cell) a fresh state (None or zeros), a stale "
        "one (returned by an earlier call) or a foreign one after the first step, so the model loses what it "
        "carried and sees only the last token(s). seqdiag reads the state from the recurrent module's own hx "
        "argument and compares it with what that module returned.",
        "carry the state each call returns into the next call",
    ),
    "sampler-window": (
        "Your generate re-feeds only the last k tokens, without state, and k is shorter than the context the "
        "targets need: seqdiag measures it by predicting each target from the last k true tokens alone.",
        "feed the whole prefix each step (or carry the state)",
    ),
    "sampler-feeds-targets": (
        "Your generate feeds the true sequence instead of its own predictions: teacher forcing at sampling time. "
        "It looks right and measures nothing. seqdiag catches it even when the model is perfect by forcing the "
        "model's top symbol at step 0: a real sampler feeds the forced symbol at step 1, this one the data.",
        "feed back what generate produced, not the data",
    ),
    "sampler-prediction-not-fed": (
        "Your generate feeds something other than its previous prediction: the start symbol at every step (an "
        "encoder-decoder that 'just gives the first character repeatedly'), the prompt again, or a stale token.",
        "feed each prediction back as the next input",
    ),
    "sampler-off-by-one": (
        "Your generate's output is free-running's shifted by one step: it returns the inputs it fed (appending "
        "before predicting), repeats the first prediction, or drops it.",
        "return the prediction made at each step",
    ),
    "sampler-decoding": (
        "Your generate samples (temperature, top-k, multinomial) instead of taking the argmax. seqdiag counts the "
        "picks that are not the argmax of the logits they came from and says whether the first departure from "
        "free-running is such a pick with everything fed before it right, i.e. whether sampling alone explains it.",
        "take the argmax to check the model; sample once that is right",
    ),
    "sampler-unexplained": (
        "Your generate departs from free-running, and none of the other findings accounts for it: seqdiag shows "
        "the step and what it saw.",
        "compare what generate passes at that step with forward on the same prefix",
    ),
}
