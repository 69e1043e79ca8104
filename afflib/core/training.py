"""What both engines' training loops share beyond the numbers: the recipe of a batch, the stop flag that turns
SIGINT/SIGTERM into a resumable checkpoint, the errors that end a run, and how a tool turns them into one line on
stderr and an exit status (2 bad input, 3 NaN loss, 130/143 signals). Framework-free."""
from __future__ import annotations

import signal
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Type

from . import logformat
from .metrics import EvalResult
from .runlog import log_stop_reason

__all__ = ["Recipe", "NonFiniteLossError", "TrainingInterrupted", "StopFlag", "EXIT_INTERRUPTED", "EXIT_BAD_INPUT",
           "EXIT_NAN", "report_errors", "stop_run", "log_unexpected", "close_epoch"]

EXIT_INTERRUPTED = {2: 130, 15: 143}  # shell convention: 128 + signal number
EXIT_BAD_INPUT = 2
EXIT_NAN = 3


@dataclass
class Recipe:
    """What happens to every training batch, and for how long.

    ``label_smoothing`` is the smoothing ``eta`` (0.1 in the paper's recipe, 0 = one-hot targets);
    mixup (``alpha`` = ``mixup_alpha``) is switched off for the last ``mixup_off_epoch`` epochs.
    """
    num_epochs: int
    classes: int
    label_smoothing: float = 0.0
    mixup: bool = False
    mixup_alpha: float = 0.2
    mixup_off_epoch: int = 0
    log_interval: int = 50
    dtype: str = "float32"
    seed: int = 0

    def mixup_active(self, epoch: int) -> bool:
        return self.mixup and epoch < self.num_epochs - self.mixup_off_epoch


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the run stopped without saving the broken weights."""


class TrainingInterrupted(Exception):
    """SIGINT/SIGTERM arrived; a resumable checkpoint was written (``checkpoint``, may be None)."""

    def __init__(self, signum: int, epoch: int, batch: int, checkpoint: Optional[str]):
        name = signal.Signals(signum).name
        where = f"saved resumable checkpoint {checkpoint}" if checkpoint else "no save dir: nothing saved"
        super().__init__(f"{name} received at epoch {epoch} batch {batch}; {where}")
        self.signum, self.epoch, self.batch, self.checkpoint = signum, epoch, batch, checkpoint


class StopFlag:
    """Turns SIGINT/SIGTERM into a flag the loop checks between batches; a second signal aborts at once."""

    def __init__(self):
        self.signum: Optional[int] = None
        self._previous: Dict[int, Any] = {}

    def _handle(self, signum, frame):
        if self.signum is not None:
            raise KeyboardInterrupt(f"second {signal.Signals(signum).name}: aborting without saving")
        self.signum = signum

    def __enter__(self) -> "StopFlag":
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def close_epoch(epoch: int, stats: Dict[str, float], history: List[Dict[str, Any]], checkpoints: Any, net: Any,
                trainer: Any, validate: Callable[[], Optional[EvalResult]], log: Any,
                epoch_line: Optional[Callable[[Dict[str, Any]], str]] = None) -> Dict[str, Any]:
    """The end of a trained epoch in both engines: its log lines, the resumable ``-last`` set (before validation,
    so a failure there does not lose the epoch), validation, the numbered/best sets and ``history.json``.

    ``stats``: the epoch's ``loss``, ``accuracy``, ``samples``, ``seconds``, ``lr``; ``checkpoints``: the run's
    :class:`afflib.core.checkpoint_manager.CheckpointManager` (``net``/``trainer`` go to its writer);
    ``validate()``: the validation result, or None where this process does not validate. Appends the epoch's
    record to ``history`` and returns it.
    """
    log.info(logformat.training_line(epoch, [("loss", stats["loss"]), ("accuracy", stats["accuracy"])]))
    log.info(logformat.speed_line(epoch, stats["samples"] / max(stats["seconds"], 1e-9), stats["seconds"]))
    record: Dict[str, Any] = {"epoch": epoch, "train_loss": stats["loss"], "train_accuracy": stats["accuracy"],
                              "lr": stats["lr"], "train_seconds": stats["seconds"],
                              "val_top1_error": None, "val_top5_error": None}
    checkpoints.save_last(net, trainer, epoch, {"history": history + [record]})
    result = validate()
    if result is not None and "miou" in result.metrics:   # segmentation: errors are 1 - mIoU, 1 - pixel accuracy
        log.info(logformat.segmentation_validation_line(epoch, result.metrics["miou"],
                                                        result.metrics["pixel_accuracy"]))
        record.update(val_miou=result.metrics["miou"], val_pixel_accuracy=result.metrics["pixel_accuracy"])
    elif result is not None:
        log.info(logformat.validation_line(epoch, result.top1_error, result.top5_error))
    if result is not None:
        record.update(val_top1_error=result.top1_error, val_top5_error=result.top5_error, val_samples=result.samples)
    history.append(record)
    if epoch_line is not None:
        log.info(epoch_line(record))
    checkpoints.end_of_epoch(net, trainer, epoch, record["val_top1_error"], {"history": history}, last_saved=True)
    checkpoints.write_history(history)
    return record


def stop_run(line: str, status: int) -> None:
    """Print why the run stopped on stderr, append it to the run's log file, and exit with ``status``."""
    print(line, file=sys.stderr)
    log_stop_reason(line)
    sys.exit(status)


def report_errors(main: Callable[[], Any], bad_input: Tuple[Type[BaseException], ...] = (ValueError, OSError,
                                                                                          RuntimeError),
                  bugs: Sequence[Type[BaseException]] = ()) -> None:
    """Run ``main``; turn a run's expected failures into one clear line and an exit status.

    ``bad_input``: errors that mean bad flags, files or data (exit 2, no traceback); ``bugs``: subclasses of those
    that still mean a bug of the engine (the framework's own errors: traceback kept).
    """
    try:
        main()
    except TrainingInterrupted as err:
        stop_run(f"interrupted: {err}", EXIT_INTERRUPTED.get(err.signum, 1))
    except NonFiniteLossError as err:
        stop_run(f"error: {err}", EXIT_NAN)
    except ModuleNotFoundError as err:
        if not (err.name or "").startswith("afflib"):
            log_unexpected(err)
            raise
        stop_run(f"error: this afflib checkout lacks {err.name} (needed for released weights / this data set)",
                 EXIT_BAD_INPUT)
    except bad_input as err:
        if isinstance(err, tuple(bugs)):
            log_unexpected(err)
            raise
        stop_run(f"error: {err}", EXIT_BAD_INPUT)
    except KeyboardInterrupt as err:
        log_stop_reason(f"interrupted: {err or 'KeyboardInterrupt'}")
        raise
    except Exception as err:  # a bug: keep its traceback, but let the log say the run ended here
        log_unexpected(err)
        raise


def log_unexpected(err: BaseException) -> None:
    """Log the gist of an error that keeps its traceback: its message's line (MXNet's: the last, after its own
    C++ traceback)."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    gist = (lines[-1] if lines[0].startswith("Traceback") else lines[0]) if lines else ""
    gist = gist[len(type(err).__name__) + 1:].strip() if gist.startswith(type(err).__name__ + ":") else gist
    log_stop_reason(f"stopped by {type(err).__name__}: {gist} (traceback on stderr)")
