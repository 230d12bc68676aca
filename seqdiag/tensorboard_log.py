"""TensorBoard logging as an adapter on the trainer's `on_step` callback; the trainer knows nothing of it.

Optional extra: `pip install -e '.[tensorboard]'` (torch.utils.tensorboard writes through the tensorboard
package). What is logged, with the x axis the number of updates the model has had:

- `loss`: every step, the cross-entropy under the training policy (the values `losses.json` holds);
- `accuracy/<procedure>`: at every checkpoint, each sampling procedure's share of targets right;
- `outputs/<procedure>`: at every checkpoint, the string each procedure generated, as text;
- `targets` and `config` once, as text.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from seqdiag.config import Config, describe
from seqdiag.errors import SeqdiagError
from seqdiag.train import TrainProgress

INSTALL_HINT = "pip install tensorboard (from a checkout: pip install -e '.[tensorboard]')"


class TensorBoardUnavailable(SeqdiagError):
    """The tensorboard package is not installed."""


class TensorBoardLogger:
    """Call it with every TrainProgress (it is an `on_step` callback); close it (or use `with`) when done."""

    def __init__(self, log_dir: Path, config: Config | None = None, targets: str | None = None) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise TensorBoardUnavailable(
                f"--tensorboard writes with the tensorboard package, which is not installed: {INSTALL_HINT}"
            ) from None
        self.log_dir = Path(log_dir)
        self.writer = SummaryWriter(log_dir=str(self.log_dir))
        self._loss_step = -1  # the last step a loss was logged at
        self._snapshot_step = -1  # the last checkpoint logged
        if config is not None:
            self.writer.add_text("config", f"`{describe(config)}`", 0)
        if targets is not None:
            self.writer.add_text("targets", f"`{targets}`", 0)

    def __call__(self, progress: TrainProgress) -> None:
        # The trainer reports after update k+1 the loss it measured before it (the model after k updates), then
        # once more at the end the loss of the final model; both go at the number of updates behind them, the
        # x axis the history's checkpoints use too.
        if progress.recent:  # a stretch of steps: the loss measured before each of its updates
            first = progress.step - len(progress.recent)
            for offset, loss in enumerate(progress.recent):
                self._log_loss(first + offset, loss)
        else:
            self._log_loss(progress.step - 1 if progress.step - 1 > self._loss_step else progress.step, progress.loss)
        snapshot = progress.snapshot
        if snapshot is not None and snapshot.step > self._snapshot_step:
            self._snapshot_step = snapshot.step
            for mode, accuracy in snapshot.accuracy.items():
                self.writer.add_scalar(f"accuracy/{mode}", accuracy, snapshot.step)
            for mode, output in snapshot.outputs.items():
                self.writer.add_text(f"outputs/{mode}", f"`{output}`", snapshot.step)

    def _log_loss(self, step: int, loss: float) -> None:
        if step > self._loss_step:
            self.writer.add_scalar("loss", loss, step)
            self._loss_step = step

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()

    def __enter__(self) -> TensorBoardLogger:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
