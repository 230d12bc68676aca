"""A correct sampler for the one-hot model: feed the prediction back as a one-hot vector and carry the state.

seqdiag check examples/onehot_ok.py  ->  sampler-matches
"""

from onehot_lstm_model import forward, one_hot, text, trained, vocab

model = trained()
sequence = text
__all__ = ["model", "vocab", "sequence", "generate", "forward"]  # what seqdiag check reads


def generate(model, prompt, n):
    logits, state = model(one_hot(prompt))
    out = []
    for _ in range(n):
        next_id = int(logits[0, -1].argmax())
        out.append(next_id)
        logits, state = model(one_hot([next_id]), state)
    return out
