"""The task: what the sequences are, as text. Tensors are made from it in `seqdiag.sequence`.

Three ways to say what the sequences are (`[sequence]` in the config):

- pattern x length (the default, the 2015 toy): `pattern` repeated to `length` symbols;
- `text`: one sequence, its symbols spelled out ("0110100110010110"), so it need not be periodic;
- `file`: a UTF-8 text file, one sequence per non-empty line, each character a symbol. All lines are trained
  together as one batch.

Every sequence is fed as: the start symbol, then its symbols; its targets are its symbols, then the end
symbol. The start and end symbol is one marker that does not occur in the text: `sequence.start_symbol` when it
does not, else the first of `MARKER_CANDIDATES` that does not (the report says which).

`sample.prompt = K` gives every procedure the first K symbols of each sequence (fed as training fed them, the
true symbols) and judges only what follows (`seqdiag.judgement`).

This module imports no torch: a bad file is refused before the CLI pays for the import.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from seqdiag.errors import ConfigError

if TYPE_CHECKING:
    from seqdiag.config import SequenceConfig

MAX_FILE_BYTES = 1_000_000
MAX_SEQUENCES = 1024  # lines of a sequence file (all are trained as one batch)
MAX_LINE_SYMBOLS = 200  # symbols on one line
MAX_VOCABULARY = 128  # distinct symbols over the whole file, the marker included
MARKER_CANDIDATES = ("^", "$", "#", "|", "~", "@", "*", "+", "=", "%", "&", "<", ">")


@dataclass(frozen=True)
class Task:
    """The sequences of a run, as text, and how much of each is given."""

    bodies: tuple[str, ...]
    """Each sequence's symbols after the start symbol (a single one for pattern and text)."""
    marker: str
    """The start symbol (first input) and end symbol (last target)."""
    prompt: int
    """How many symbols of each sequence every procedure is given before it continues on its own."""
    source: str
    """Where the sequences came from, in words."""

    @property
    def symbols(self) -> tuple[str, ...]:
        """The vocabulary in sorted order, so indices do not depend on the process."""
        return tuple(sorted(set("".join(self.bodies)) | {self.marker}))

    def targets(self, index: int) -> str:
        return self.bodies[index] + self.marker

    @property
    def many(self) -> bool:
        return len(self.bodies) > 1


def choose_marker(text: str, preferred: str) -> str:
    """`preferred` when it does not occur in `text`, else the first candidate that does not."""
    for candidate in (preferred, *MARKER_CANDIDATES):
        if candidate not in text:
            return candidate
    raise ConfigError(f"no free start/end marker: the text uses all of {preferred}{''.join(MARKER_CANDIDATES)}")


def read_sequence_file(path: Path, key: str = "sequence.file") -> list[str]:
    """The non-empty lines of a UTF-8 sequence file, refused with one line naming the file when unusable.

    Raises:
        ConfigError: missing, unreadable, not UTF-8 text (binary), empty, too large, too many lines, a line too
            long, or too many distinct symbols; the limits are this module's MAX_* constants.
    """
    from seqdiag.config import shown

    where = f"{key} = {shown(str(path))}"
    try:
        if path.is_dir():
            raise ConfigError(f"{where}: a folder, not a file")
        if not path.is_file():
            raise ConfigError(f"{where}: no such file")
    except OSError as exc:  # a name too long, a loop of links, a folder that cannot be searched
        raise ConfigError(f"{where}: cannot read: {exc.strerror or exc}") from None
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError(f"{where}: {size:,} bytes; at most {MAX_FILE_BYTES:,}")
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read: {exc.strerror or exc}") from None
    return parse_sequences(data, where)


def parse_sequences(data: bytes, where: str) -> list[str]:
    """The non-empty lines of UTF-8 text, checked against this module's limits; `where` heads every error.

    Raises:
        ConfigError: not UTF-8 text (binary), empty, too large, too many lines, a line too long, or too many
            distinct symbols.
    """
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{where}: {len(data):,} bytes; at most {MAX_FILE_BYTES:,}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: not UTF-8 text (binary?) at byte {exc.start}") from None
    text = text.removeprefix("\ufeff")
    lines = [line.rstrip("\r") for line in text.split("\n")]
    sequences = [line for line in lines if line.strip()]
    if not sequences:
        raise ConfigError(f"{where}: empty (no non-empty line)")
    if len(sequences) > MAX_SEQUENCES:
        raise ConfigError(f"{where}: {len(sequences):,} sequences (non-empty lines); at most {MAX_SEQUENCES:,}")
    for number, line in enumerate(lines, start=1):
        bad = next((c for c in line if unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn") and c != "\t"), None)
        if bad is not None or "\t" in line:
            what = "a tab" if bad is None else f"control character U+{ord(bad):04X}"
            raise ConfigError(f"{where}: line {number} holds {what} (binary? one sequence of visible symbols a line)")
        if len(line) > MAX_LINE_SYMBOLS:
            raise ConfigError(f"{where}: line {number} has {len(line):,} symbols; at most {MAX_LINE_SYMBOLS}")
    vocabulary = len(set("".join(sequences))) + 1
    if vocabulary > MAX_VOCABULARY:
        raise ConfigError(
            f"{where}: {vocabulary - 1} distinct symbols; at most {MAX_VOCABULARY - 1} (each character is a symbol)"
        )
    return sequences


def task_from_config(config: SequenceConfig, prompt: int = 0) -> Task:
    """The task a `[sequence]` section describes. A file's sequences are those the config keeps (`lines`: read once
    by `seqdiag.config.load_config`, or kept by a run); only a config built without them reads `file`, from the
    working directory.

    Raises:
        ConfigError: the file is unusable, or the prompt leaves a sequence nothing to predict but its end.
    """
    if config.file:
        bodies = config.lines or tuple(read_sequence_file(Path(config.file).expanduser()))
        marker = choose_marker("".join(bodies), config.start_symbol)
        source = f"file {Path(config.file).name} ({len(bodies)} sequences)"
    elif config.text:
        bodies, marker, source = (config.text,), config.start_symbol, f"text {config.text!r}"
    else:
        body = "".join(config.pattern[t % len(config.pattern)] for t in range(config.length))
        bodies, marker, source = (body,), config.start_symbol, f"pattern {config.pattern!r} x {config.length}"
    shortest = min(len(b) for b in bodies)
    if prompt >= shortest:
        raise ConfigError(
            f"sample.prompt = {prompt}: the shortest sequence has {shortest} symbols; a prompt must leave at least one "
            "to predict"
        )
    return Task(bodies, marker, prompt, source)


def shortest_sequence(config: SequenceConfig) -> int:
    """Symbols in the task's shortest sequence (after the start symbol)."""
    return min(len(b) for b in task_from_config(config).bodies)
