"""Bug: the decoder loop feeds the start symbol at every step (the state is carried, the prediction is not), so it
"just gives the first word repeatedly".

seqdiag check examples/word_gru_start_every_step.py  ->  sampler-prediction-not-fed
"""

import torch
from word_gru_model import forward, trained, vocab, words

model = trained()
sequence = words
__all__ = ["model", "vocab", "sequence", "generate", "forward"]  # what seqdiag check reads


def generate(model, prompt, n):
    hidden = model.init_hidden(1)
    start = torch.tensor([[prompt[0]]])
    out = []
    with torch.no_grad():
        for _ in range(n):
            output, hidden = model(start, hidden)  # always the start symbol
            out.append(int(output[-1].argmax()))
    return out
