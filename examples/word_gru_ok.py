"""A correct sampler for the word GRU, in the style of word_language_model's generate.py, with the argmax.

seqdiag check examples/word_gru_ok.py  ->  sampler-matches
"""

import torch
from word_gru_model import forward, trained, vocab, words

model = trained()
sequence = words
__all__ = ["model", "vocab", "sequence", "generate", "forward"]  # what seqdiag check reads


def generate(model, prompt, n):
    hidden = model.init_hidden(1)
    input = torch.tensor([[prompt[0]]])
    for word_idx in prompt[1:]:
        output, hidden = model(input, hidden)
        input.fill_(word_idx)
    out = []
    with torch.no_grad():
        for _ in range(n):
            output, hidden = model(input, hidden)
            word_idx = int(output[-1].argmax())
            input.fill_(word_idx)
            out.append(word_idx)
    return out
