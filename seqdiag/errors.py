"""The two kinds of failure the CLI tells apart: the user's input (exit 2) and a valid run that failed (exit 1)."""


class SeqdiagError(Exception):
    """A problem with what the user gave us: a config, an option, a run directory. Exit code 2."""

    exit_code = 2


class ConfigError(SeqdiagError):
    """A config file, key or value that cannot be used; `keys` names the config keys the problem involves."""

    def __init__(self, message: str, keys: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.keys = keys


class RunError(SeqdiagError):
    """A run directory that is missing, incomplete, corrupted or from another shape."""


class RunFailure(Exception):
    """A valid run that could not finish (e.g. the loss became NaN). Exit code 1.

    `partial` is what is left that is still good (a TrainResult with the last finite weights), or None.
    """

    exit_code = 1

    def __init__(self, message: str, partial: object | None = None) -> None:
        super().__init__(message)
        self.partial = partial


class OutputClosed(Exception):
    """stdout was closed by the reader (`seqdiag compare | head -1`): not a failure, so exit 0, silently."""
