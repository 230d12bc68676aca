"""Fuzzing the loading and validation path: whatever a config file, a nested dict or a --set string holds,
the answer is a Config or a ConfigError, never another exception. Bounded: 500 examples per test, no deadline
flakiness, the whole file in a few seconds."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqdiag.config import (
    CELLS,
    GATES,
    OPTIMIZERS,
    SCHEDULES,
    SECTIONS,
    TRAIN_POLICIES,
    Config,
    apply_overrides,
    config_from_dict,
    load_config,
)
from seqdiag.errors import ConfigError

FUZZ = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)

FIELDS = {name: [f.name for f in dataclasses.fields(cls)] for name, cls in SECTIONS.items()}
PATHS = ["seed", *(f"{section}.{key}" for section, keys in FIELDS.items() for key in keys)]
WORDS = [*CELLS, *GATES, *OPTIMIZERS, *SCHEDULES, *TRAIN_POLICIES, "S", "01", "0S1", "αβ", "", " ", "\x00", "<s>"]

scalars = st.one_of(
    st.integers(min_value=-3, max_value=40),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1e-3, 0.5, 1.0, 1e38, 1e300]),
    st.booleans(),
    st.sampled_from(WORDS),
    st.text(max_size=6),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def config_dicts(draw) -> dict:
    """Mostly-plausible nested config data: known sections and keys with any values, plus unknown ones."""
    data: dict = {}
    for _ in range(draw(st.integers(0, 5))):
        section = draw(st.sampled_from([*SECTIONS, "seed"]) | st.text(max_size=6))
        if section in FIELDS and draw(st.booleans()):
            keys = st.sampled_from(FIELDS[section]) | st.text(max_size=6)
            data[section] = draw(st.dictionaries(keys, values, max_size=5))
        else:
            data[section] = draw(values)
    return data


@st.composite
def toml_texts(draw) -> str:
    """TOML written from plausible data, sometimes cut short or spliced with noise, or plain noise."""
    kind = draw(st.sampled_from(["dumped", "cut", "spliced", "noise"]))
    if kind == "noise":
        return draw(st.text(max_size=80))
    try:
        text = tomli_w.dumps(draw(config_dicts()))
    except (TypeError, ValueError):  # data TOML cannot hold
        text = ""
    if kind == "cut" and text:
        text = text[: draw(st.integers(0, len(text)))]
    elif kind == "spliced":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(alphabet="[]=\"'.\n#{},\\ abc01", max_size=12)) + text[at:]
    return text


@st.composite
def overrides(draw) -> str:
    """`section.key=value` strings: known or unknown keys, typed or arbitrary values, sometimes no `=`."""
    path = draw(st.sampled_from(PATHS) | st.text(max_size=12))
    value = draw(
        st.one_of(
            st.integers().map(str),
            st.floats(allow_nan=True, allow_infinity=True).map(repr),
            st.sampled_from(WORDS),
            st.sampled_from(["true", "[1, 2]", "{a = 1}", '"quoted"', "'x'", "1e999", "-0", "0x10", "[" * 300]),
            st.text(max_size=12),
        )
    )
    return draw(st.sampled_from([f"{path}={value}", f"{path} = {value}", path, f"={value}"]))


def _config_or_config_error(make) -> None:
    try:
        result = make()
    except ConfigError:
        return
    assert isinstance(result, Config)


@FUZZ
@given(data=config_dicts())
def test_config_from_dict_gives_a_config_or_a_config_error(data):
    _config_or_config_error(lambda: config_from_dict(data))


_folder = Path(tempfile.mkdtemp(prefix="seqdiag-fuzz-"))


@FUZZ
@given(text=toml_texts())
def test_load_config_from_any_file_gives_a_config_or_a_config_error(text):
    path = _folder / "fuzz.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    _config_or_config_error(lambda: load_config(str(path)))


@FUZZ
@given(base=config_dicts(), texts=st.lists(overrides(), min_size=1, max_size=4))
def test_overrides_give_a_config_or_a_config_error(base, texts):
    _config_or_config_error(lambda: config_from_dict(apply_overrides(base, texts)))
    _config_or_config_error(lambda: load_config(None, texts))
