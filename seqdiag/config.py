"""Typed run configuration: dataclasses validated on construction, loaded from TOML plus overrides.

Everything a run depends on lives here, so that a run directory's `config.toml` reproduces it.
This module imports no torch: the CLI validates input before paying for the import.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from seqdiag.errors import ConfigError

CELLS = ("lstm", "gru", "rnn")
GATES = ("hard_sigmoid", "sigmoid")
OPTIMIZERS = ("rmsprop", "adam", "sgd")
TRAIN_POLICIES = ("teacher", "free", "zeros", "scheduled")
SCHEDULES = ("linear", "exponential", "inverse_sigmoid")

# Upper bounds that keep a typo (hidden_size = 1e9) from exhausting memory instead of failing fast.
MAX_LENGTH = 10_000
MAX_WIDTH = 4_096
MAX_STEPS = 10_000_000
# Budgets on the whole run, which stay absurd even when every single size is within its bound.
MAX_PARAMETERS = 50_000_000  # weights of one model; training holds about five copies (grads, optimizer, last good)
MAX_UNROLLED = 50_000_000  # sequence length x cell width: activations kept for backpropagation through time
MAX_HISTORY_SYMBOLS = 100_000_000  # snapshots x sequence length: the outputs the history keeps in memory
MAX_CONFIG_FILE_BYTES = 1 << 20  # a config file (a few hundred bytes in practice)
MAX_LR = 3.0e38  # the largest learning rate float32 holds; a too-large one is caught while training, by step
# How many H-wide blocks the cell's pre-activations have: LSTM (i, f, o, candidate), GRU (z, r, n), RNN (h).
CELL_BLOCKS = {"lstm": 4, "gru": 3, "rnn": 1}


MIN_TEMPERATURE = 1e-30  # below it, logits / temperature overflows float32 for any logit: use 0 (argmax) instead


def shown(value: Any, limit: int = 80) -> str:
    """`repr(value)` for an error message: escaped (no control characters reach the terminal) and cut to about
    `limit` characters, saying how long the whole was."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**limit:
        return f"<an integer of about {value.bit_length() * 30103 // 100000 + 1} digits>"
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 1]}… ({len(text):,} characters)"


def _fail(key: str, value: Any, reason: str, related: tuple[str, ...] = ()) -> None:
    """Raise the ConfigError for `key`; `related` names the other keys a cross-field check also depends on."""
    raise ConfigError(f"{key} = {shown(value)}: {reason}", keys=(key, *related))


def _check_positive(key: str, value: float, upper: float | None = None) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        _fail(key, value, "must be a finite number")
    if not value > 0:
        _fail(key, value, "must be > 0")
    if upper is not None and value > upper:
        _fail(key, value, f"must be <= {upper}")


def _check_choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        _fail(key, value, f"must be one of {', '.join(choices)}")


def _check_symbol(key: str, value: str) -> None:
    if len(value) != 1 or not value.isascii() or not value.isprintable() or value.isspace():
        _fail(key, value, "symbols are single printable ASCII characters, no spaces")


def _check_text_symbols(key: str, value: str) -> None:
    bad = next((c for c in value if not c.isprintable() or c.isspace()), None)
    if bad is not None:
        _fail(key, value, f"symbols are printable characters, no spaces (found {bad!r})")


@dataclass(frozen=True)
class SequenceConfig:
    """The sequences: a start symbol, then a pattern repeated to a fixed length (or the symbols of `text`, or each
    line of `file`), then the end symbol. See `seqdiag.task`."""

    pattern: str = "01"
    """Symbols repeated after the start symbol, e.g. "01" gives 0101...; one character per symbol."""
    length: int = 30
    """How many pattern symbols follow the start symbol (the 2015 setup: 30)."""
    start_symbol: str = "S"
    """Starts the sequence as the first input and ends it as the last target."""
    text: str = ""
    """One sequence spelled out, e.g. "0110100110010110": its symbols after the start symbol (replaces pattern and
    length; need not be periodic). Empty: not used."""
    file: str = ""
    """A UTF-8 text file, one sequence per non-empty line, each character a symbol; all lines are trained as one
    batch (limits in seqdiag/task.py). Relative to the config file that names it (to the working directory for
    --set). Empty: not used. Recorded as given (a path in the home folder as ~/...), never made absolute."""
    lines: tuple[str, ...] = field(default=(), repr=False, metadata={"key": False})
    """Not a key: the sequences read from `file` when the config was loaded (or kept by the run that trained on
    them), so a run never reads its file again. Never written to a config file nor read from one."""

    def __post_init__(self) -> None:
        if self.lines and not self.file:
            raise ValueError("SequenceConfig.lines are the sequences read from sequence.file; set file too")
        if self.text and self.file:
            _fail("sequence.text", self.text, "give sequence.text or sequence.file, not both")
        if self.text:
            _check_text_symbols("sequence.text", self.text)
            _check_positive("sequence.text", len(self.text), MAX_LENGTH)
            if self.start_symbol in self.text:
                _fail("sequence.start_symbol", self.start_symbol, f"must not occur in the text {self.text!r}")
        if not self.pattern:
            _fail("sequence.pattern", self.pattern, "must not be empty")
        for symbol in self.pattern:
            _check_symbol("sequence.pattern", symbol)
        _check_symbol("sequence.start_symbol", self.start_symbol)
        if self.start_symbol in self.pattern and not (self.text or self.file):
            _fail(
                "sequence.start_symbol",
                self.start_symbol,
                f"must not occur in the pattern {shown(self.pattern)}",
                ("sequence.pattern",),
            )
        _check_positive("sequence.length", self.length, MAX_LENGTH)


@dataclass(frozen=True)
class ModelConfig:
    """One-hot -> Linear(embed_size) -> recurrent cell(hidden_size) -> Linear(vocabulary)."""

    cell: str = "lstm"
    """Recurrent cell: lstm, gru or rnn."""
    gate: str = "hard_sigmoid"
    """Gate activation: hard_sigmoid (Keras 0.x: clip(0.2x + 0.5, 0, 1)) or sigmoid."""
    embed_size: int = 10
    """Width of the linear layer between the one-hot input and the cell."""
    hidden_size: int = 10
    """Width of the cell's hidden state."""

    def __post_init__(self) -> None:
        _check_choice("model.cell", self.cell, CELLS)
        _check_choice("model.gate", self.gate, GATES)
        _check_positive("model.embed_size", self.embed_size, MAX_WIDTH)
        _check_positive("model.hidden_size", self.hidden_size, MAX_WIDTH)


@dataclass(frozen=True)
class TrainConfig:
    """How the model is trained: optimizer, steps, and the input policy training feeds."""

    steps: int = 5000
    """Optimizer steps; each sees the whole sequence as a batch of one."""
    optimizer: str = "rmsprop"
    """rmsprop, adam or sgd."""
    lr: float = 1e-3
    """Learning rate."""
    rho: float = 0.9
    """RMSprop's decay of the squared-gradient average (Keras `rho`, torch `alpha`)."""
    eps: float = 1e-6
    """Added to the optimizer's denominator (Keras 0.x used 1e-6)."""
    policy: str = "teacher"
    """What each training step is fed: teacher, free, zeros or scheduled."""
    schedule: str = "inverse_sigmoid"
    """Scheduled sampling: how the chance of feeding the true symbol decays (linear, exponential, inverse_sigmoid)."""
    schedule_k: float = 500.0
    """Scheduled sampling: decay scale in steps. linear: 1 - i/k; exponential: exp(-i/k); inverse_sigmoid:
    k / (k + exp(i/k)), where i is the training step (Bengio et al. 2015)."""
    schedule_min: float = 0.0
    """Scheduled sampling: the floor of the chance of feeding the true symbol."""
    snapshot_every: int = 100
    """Every this many steps, every sampling procedure is run and recorded in the history."""

    def __post_init__(self) -> None:
        _check_positive("train.steps", self.steps, MAX_STEPS)
        _check_choice("train.optimizer", self.optimizer, OPTIMIZERS)
        _check_positive("train.lr", self.lr, MAX_LR)
        if not 0 <= self.rho < 1:
            _fail("train.rho", self.rho, "must be in [0, 1)")
        _check_positive("train.eps", self.eps, 1.0)
        _check_choice("train.policy", self.policy, TRAIN_POLICIES)
        _check_choice("train.schedule", self.schedule, SCHEDULES)
        _check_positive("train.schedule_k", self.schedule_k)
        if not 0 <= self.schedule_min <= 1:
            _fail("train.schedule_min", self.schedule_min, "must be in [0, 1]")
        _check_positive("train.snapshot_every", self.snapshot_every, MAX_STEPS)


@dataclass(frozen=True)
class SampleConfig:
    """How free-running sampling picks the symbol it feeds back."""

    temperature: float = 0.0
    """0 picks the most likely symbol (argmax); above 0 samples from softmax(logits / temperature)."""
    top_k: int = 0
    """When sampling, keep only the k most likely symbols; 0 keeps all."""
    prompt: int = 0
    """Give every procedure the first K symbols of each sequence (fed as training fed them) and judge what it
    continues with; with several sequences, only a prompt can tell free-running which one to produce."""

    def __post_init__(self) -> None:
        if not math.isfinite(self.temperature):
            _fail("sample.temperature", self.temperature, "must be a finite number")
        if not self.temperature >= 0:
            _fail("sample.temperature", self.temperature, "must be >= 0")
        if 0 < self.temperature < MIN_TEMPERATURE:
            _fail(
                "sample.temperature",
                self.temperature,
                f"below {MIN_TEMPERATURE:g} dividing the logits by it overflows; use 0 for argmax",
            )
        if self.top_k < 0:
            _fail("sample.top_k", self.top_k, "must be >= 0")
        if self.prompt < 0:
            _fail("sample.prompt", self.prompt, "must be >= 0")


@dataclass(frozen=True)
class Config:
    """A whole run: the sequence, the model, its training and its sampling, and the seed."""

    seed: int = 0
    """Seeds weight initialisation and every random choice of the run."""
    sequence: SequenceConfig = field(default_factory=SequenceConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)

    def __post_init__(self) -> None:
        if not 0 <= self.seed < 2**63:
            _fail("seed", self.seed, "must be in [0, 2**63)")
        seq = self.sequence
        symbols = seq.text or seq.pattern
        vocabulary = len(set(symbols)) + 1
        length = len(seq.text) if seq.text else seq.length
        if not seq.file and self.sample.prompt >= length:
            _fail("sample.prompt", self.sample.prompt, f"must leave at least one of the {length} symbols to predict")
        if self.sample.top_k > vocabulary and not seq.file:
            _fail("sample.top_k", self.sample.top_k, f"exceeds the vocabulary size {vocabulary}", ("sequence.pattern",))
        self._check_budget(vocabulary, length)

    def _check_budget(self, vocabulary: int, length: int) -> None:
        """Refuse runs that would exhaust memory even though every size is within its own bound."""
        e, h = self.model.embed_size, self.model.hidden_size
        gates = CELL_BLOCKS.get(self.model.cell, 4) * h
        parameters = vocabulary * e + e + e * gates + h * gates + gates + h * vocabulary + vocabulary
        if parameters > MAX_PARAMETERS:
            _fail(
                "model.hidden_size",
                h,
                f"with model.embed_size = {e} the model has {parameters:,} parameters; at most {MAX_PARAMETERS:,}",
                ("model.embed_size", "model.cell", "sequence.pattern"),
            )
        if (length + 1) * gates > MAX_UNROLLED:
            _fail(
                "sequence.length",
                length,
                f"x {gates} cell units is {(length + 1) * gates:,} activations to backpropagate; "
                f"at most {MAX_UNROLLED:,} (shorten the sequence or narrow model.hidden_size)",
                ("model.hidden_size", "model.cell"),
            )
        snapshots = self.train.steps // self.train.snapshot_every + 2
        if snapshots * (length + 1) > MAX_HISTORY_SYMBOLS:
            _fail(
                "train.snapshot_every",
                self.train.snapshot_every,
                f"{snapshots:,} snapshots of {length + 1} symbols would not fit in memory; "
                f"raise it to at least {self.train.steps * (length + 1) // MAX_HISTORY_SYMBOLS + 1:,}",
                ("train.steps", "sequence.length"),
            )

    def to_dict(self) -> dict[str, Any]:
        """Every key, as nested plain data (what config.toml holds; not the sequences read from a file)."""
        return _as_data(self)

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


SECTIONS: dict[str, type] = {
    "sequence": SequenceConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "sample": SampleConfig,
}


def _is_key(f: dataclasses.Field) -> bool:
    return bool(f.metadata.get("key", True))


def _field_types(cls: type) -> dict[str, type]:
    """The config keys of a section (or of the top level) and their types."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if _is_key(f)}


def _as_data(value: Any) -> Any:
    """A config (or one section) as nested plain data of its keys alone."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _as_data(getattr(value, f.name)) for f in dataclasses.fields(value) if _is_key(f)}
    return value


def _coerce(key: str, value: Any, expected: type) -> Any:
    """Check a parsed value against the field's type; ints are accepted where floats are expected."""
    if isinstance(expected, types.UnionType):  # not used by any field today; kept strict
        _fail(key, value, "unsupported field type")
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            _fail(key, value, "is beyond the range of a float")
    if expected is int and isinstance(value, bool):
        _fail(key, value, "expected an integer, got a boolean")
    if not isinstance(value, expected):
        _fail(key, value, f"expected {expected.__name__}, got {type(value).__name__}")
    return value


def config_from_dict(data: dict[str, Any]) -> Config:
    """Build a Config from nested plain data, rejecting unknown sections, keys and wrong types."""
    top_types = _field_types(Config)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                _fail(key, value, "must be a table of keys")
            cls = SECTIONS[key]
            types_ = _field_types(cls)
            section: dict[str, Any] = {}
            for sub, subvalue in value.items():
                if sub not in types_:
                    _fail(f"{key}.{sub}", subvalue, f"unknown key; valid keys: {', '.join(types_)}")
                section[sub] = _coerce(f"{key}.{sub}", subvalue, types_[sub])
            kwargs[key] = cls(**section)
        elif key in top_types:
            kwargs[key] = _coerce(key, value, top_types[key])
        else:
            valid = ", ".join(["seed", *SECTIONS])
            _fail(key, value, f"unknown section or key; valid: {valid}")
    return Config(**kwargs)


def parse_override(text: str) -> tuple[str, str, str | None, str]:
    """Split `section.key=value` into (section, key, raw value); a top-level key has no section."""
    if any(not c.isprintable() for c in text):
        bad = next(c for c in text if not c.isprintable())
        raise ConfigError(f"--set {shown(text)}: holds the control character {bad!r}; one key=value, on one line")
    if "=" not in text:
        raise ConfigError(f"--set {shown(text)}: expected section.key=value")
    path, raw = text.split("=", 1)
    path = path.strip()
    parts = path.split(".")
    if len(parts) == 1 and parts[0] in _field_types(Config) and parts[0] not in SECTIONS:
        return path, parts[0], None, raw
    if len(parts) != 2 or parts[0] not in SECTIONS:
        raise ConfigError(f"--set {shown(text)}: unknown key {shown(path)}; sections: {', '.join(SECTIONS)}")
    section, key = parts
    if key not in _field_types(SECTIONS[section]):
        valid = ", ".join(_field_types(SECTIONS[section]))
        raise ConfigError(f"--set {shown(text)}: unknown key {shown(path)}; valid keys in [{section}]: {valid}")
    return path, key, section, raw


def _parse_override_value(path: str, raw: str, expected: type) -> Any:
    raw = raw.strip()
    if expected is str:
        if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
            return raw[1:-1]
        return raw
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except (ValueError, RecursionError):  # ValueError: malformed, or an integer over 4300 digits
        cut = raw if len(raw) <= 80 else shown(raw)
        raise ConfigError(f"--set {path}={cut}: cannot parse {shown(raw)} as {expected.__name__}") from None
    return _coerce(path, value, expected)


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of nested config data with each `section.key=value` override applied, in order."""
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for text in overrides:
        path, key, section, raw = parse_override(text)
        if section is None:
            merged[key] = _parse_override_value(path, raw, _field_types(Config)[key])
        else:
            expected = _field_types(SECTIONS[section])[key]
            existing = merged.get(section)
            target = existing if isinstance(existing, dict) else {}
            target[key] = _parse_override_value(path, raw, expected)
            merged[section] = target
    return merged


def preset_names() -> list[str]:
    """Names of the presets shipped inside the package (the same files as `configs/`)."""
    folder = resources.files("seqdiag") / "presets"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def read_config_data(name_or_path: str) -> tuple[str, dict[str, Any]]:
    """Read TOML data from a preset name or a file path; returns (where it came from, data)."""
    path = Path(name_or_path)
    if name_or_path in preset_names() and not path.exists():
        text = (resources.files("seqdiag") / "presets" / f"{name_or_path}.toml").read_text()
        origin = f"preset {name_or_path!r}"
    elif path.is_dir():
        raise ConfigError(f"--config {name_or_path!r}: is a directory, not a TOML file")
    elif path.exists() and not path.is_file():
        raise ConfigError(f"--config {name_or_path!r}: not a regular file (a device, FIFO or socket); give a TOML file")
    elif path.is_file():
        size = path.stat().st_size
        if size > MAX_CONFIG_FILE_BYTES:
            raise ConfigError(f"{path}: {size:,} bytes, over the limit of {MAX_CONFIG_FILE_BYTES:,} for a config")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not a TOML text file (not UTF-8 at byte {exc.start})") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
        if "\x00" in text:
            raise ConfigError(f"{path}: not a TOML text file (it holds NUL bytes)")
        origin = str(path)
    else:
        raise ConfigError(f"--config {name_or_path!r}: no such file or preset; presets: {', '.join(preset_names())}")
    try:
        return origin, tomllib.loads(text)
    except ValueError as exc:  # TOMLDecodeError, or an integer over 4300 digits
        raise ConfigError(f"{origin}: malformed TOML: {shown(str(exc), 200)}") from None
    except RecursionError:
        raise ConfigError(f"{origin}: malformed TOML: nested too deeply") from None


def load_config(
    name_or_path: str | None = None,
    overrides: list[str] | None = None,
    seed: int | None = None,
    options: dict[str, str] | None = None,
) -> Config:
    """Resolve a config: the embedded default (the 2015 setup) or a preset/file, then overrides, then seed.

    `options` names the keys a command-line option set through `overrides` (key -> the option, e.g.
    {"sample.temperature": "--temperature"}), so that an error names the option the user typed.

    Raises:
        ConfigError: naming the file, the key and the bad value.
    """
    origin, data = ("the defaults", {}) if name_or_path is None else read_config_data(name_or_path)
    overrides = overrides or []
    data = apply_overrides(data, overrides)
    overridden = {parse_override(text)[0] for text in overrides}
    if seed is not None:
        data["seed"] = seed
    try:
        config = _resolve_sequence_file(config_from_dict(data), origin, "sequence.file" in overridden)
        refuse_ignored(config, data)
        return config
    except ConfigError as exc:
        # Name where the bad value came from: --seed, a --set, or the file (or the defaults it left alone).
        keys = set(exc.keys) or {str(exc).split(" = ", 1)[0]}
        named = [option for key, option in (options or {}).items() if key in keys]
        if "seed" in keys and seed is not None:
            source = "--seed"
        elif named:
            source = named[0]
        else:
            source = "--set" if keys & overridden else origin
        raise ConfigError(f"{source}: {exc}") from None
    except RecursionError:  # absurdly nested TOML
        raise ConfigError(f"{origin}: too deeply nested") from None


def refuse_ignored(config: Config, data: dict[str, Any]) -> None:
    """Refuse settings the run would silently ignore, given the user's own keys (`data`, before defaults).

    Raises:
        ConfigError: naming the key that has no effect, and why.
    """
    if config.sample.top_k and config.sample.temperature == 0:
        raise ConfigError(
            f"sample.top_k = {config.sample.top_k} has no effect at sample.temperature = 0 (argmax always takes the "
            "most likely symbol); set a temperature too (--temperature T) or drop top_k",
            keys=("sample.top_k",),
        )
    if config.model.cell == "rnn" and "gate" in (data.get("model") or {}):
        raise ConfigError(
            f"model.gate = {config.model.gate!r} has no effect for model.cell = 'rnn' (a plain RNN has no gates); "
            "drop model.gate or use cell lstm or gru",
            keys=("model.gate",),
        )


def _resolve_sequence_file(config: Config, origin: str, from_set: bool) -> Config:
    """Read `sequence.file` now (relative to the config or preset naming it, or to the working directory for --set),
    keep its sequences in the config and the path as the user gave it, and check the prompt against them, before
    any training."""
    from seqdiag.task import read_sequence_file, task_from_config

    name = config.sequence.file
    if not name:
        return config
    path = Path(name).expanduser()
    if not path.is_absolute():
        if from_set or origin == "the defaults":
            base = Path.cwd()
        elif origin.startswith("preset "):
            base = Path(str(resources.files("seqdiag") / "presets"))
        else:
            base = Path(origin).parent
        path = base / path
    lines = tuple(read_sequence_file(path.resolve()))
    resolved = config.replace(sequence=dataclasses.replace(config.sequence, file=recorded_path(name), lines=lines))
    task = task_from_config(resolved.sequence, resolved.sample.prompt)
    if resolved.sample.top_k > len(task.symbols):
        _fail("sample.top_k", resolved.sample.top_k, f"exceeds the vocabulary size {len(task.symbols)}")
    return resolved


def recorded_path(name: str) -> str:
    """`sequence.file` as a config (and so a run) records it: as the user gave it, but a path in the home folder as
    `~/...`, so a run directory never holds the user's home path."""
    path = Path(name).expanduser()
    if not path.is_absolute():
        return name
    try:
        return str(Path("~") / path.relative_to(Path.home()))
    except (ValueError, RuntimeError):  # outside the home folder, or no home folder known
        return name


def with_overrides(config: Config, overrides: list[str]) -> Config:
    """`config` with `key=value` overrides applied as --set applies them. The sequences read from its file are kept
    (the file is not read again); a sequence.file the overrides change is read anew, from the working directory.

    Raises:
        ConfigError: naming the key and the bad value.
    """
    changed = config_from_dict(apply_overrides(config.to_dict(), overrides))
    if changed.sequence.file and changed.sequence.file == config.sequence.file and config.sequence.lines:
        return changed.replace(sequence=dataclasses.replace(changed.sequence, lines=config.sequence.lines))
    return _resolve_sequence_file(changed, "--set", from_set=True)


def describe(config: Config) -> str:
    """One compact line of what differs from nothing: every key, for the report header."""
    parts = [f"seed={config.seed}"]
    replaced = {"pattern", "length"} if config.sequence.text or config.sequence.file else set()
    for name in SECTIONS:
        section = getattr(config, name)
        items = " ".join(
            f"{k}={v!r}" if isinstance(v, str) else f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in _as_data(section).items()
            if v != "" and not (name == "sequence" and k in replaced)  # an unused text or file; what they replace
        )
        parts.append(f"[{name}] {items}")
    return "  ".join(parts)


@dataclass(frozen=True)
class PresetSummary:
    """One shipped preset: its name, what it is for (its header comment), and the resolved config."""

    name: str
    description: str
    config: Config


def preset_summaries() -> list[PresetSummary]:
    summaries = []
    for name in preset_names():
        text = (resources.files("seqdiag") / "presets" / f"{name}.toml").read_text()
        header = itertools.takewhile(lambda line: line.startswith("#"), text.splitlines())
        comments = [line.lstrip("# ").strip() for line in header]
        description = " ".join(c for c in comments if not c.startswith("seqdiag "))
        summaries.append(PresetSummary(name, description, load_config(name)))
    return summaries
