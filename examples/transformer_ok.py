"""A correct sampler for the causal transformer: re-read the whole prefix each step.

seqdiag check examples/transformer_ok.py  ->  sampler-matches
"""

import torch
from transformer_model import text, trained, vocab

model = trained()
sequence = text
__all__ = ["model", "vocab", "sequence", "generate"]  # what seqdiag check reads


def generate(model, prompt, n):
    ids = list(prompt)
    for _ in range(n):
        logits = model(torch.tensor([ids]))
        ids.append(int(logits[0, -1].argmax()))
    return ids[len(prompt) :]
