"""Shared fixtures: tiny configs that train in about a second, and a trained tiny model."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from typer.testing import CliRunner

from seqdiag.config import Config, load_config

torch.set_num_threads(1)


def pytest_sessionstart(session) -> None:
    """`--engine auto` takes numba where it is installed, compiling its kernels first on a cold cache. Make them
    ready once here, so no test pays (or times out on) the one-time compile."""
    if importlib.util.find_spec("numba") is not None:
        from seqdiag.engine import prepare_kernels

        prepare_kernels("float32")


# A tiny version of the 2015 task that converges (end symbol included) in ~150 Adam steps.
TINY = [
    "sequence.length=8",
    "model.gate=sigmoid",
    "model.embed_size=4",
    "model.hidden_size=8",
    "train.optimizer=adam",
    "train.lr=0.05",
    "train.eps=1e-8",
    "train.steps=150",
    "train.snapshot_every=25",
]


@pytest.fixture
def tiny_overrides() -> list[str]:
    return list(TINY)


@pytest.fixture(scope="session")
def tiny_config() -> Config:
    return load_config(None, TINY)


@pytest.fixture(scope="session")
def trained_tiny(tiny_config):
    from seqdiag.train import train

    return train(tiny_config)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
