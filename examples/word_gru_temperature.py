"""word_language_model's generate.py loop, run with --temperature 2: it samples, so its text is not the argmax.

seqdiag check examples/word_gru_temperature.py  ->  sampler-decoding
"""

import torch
from word_gru_model import forward, trained, vocab, words

model = trained()
sequence = words
temperature = 2.0
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
            word_weights = output.squeeze().div(temperature).exp()
            word_idx = int(torch.multinomial(word_weights, 1)[0])
            input.fill_(word_idx)
            out.append(word_idx)
    return out
