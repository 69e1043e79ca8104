"""Top-k predictions of a classifier for image files, one record per file (errors included)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Union

import mxnet as mx
import numpy as np
from mxnet.gluon import Block

from .images import ImageReadError, read_image
from .presets import DatasetPreset

__all__ = ["Guess", "Prediction", "predict_files", "format_table"]


@dataclass
class Guess:
    """One of the top-k classes of an image."""

    index: int
    name: str
    probability: float


@dataclass
class Prediction:
    """The top-k guesses for ``path``, or the ``error`` that kept it from being classified."""

    path: str
    top: List[Guess] = field(default_factory=list)
    error: Optional[str] = None

    def as_dict(self) -> dict:
        return asdict(self)


def predict_files(net: Block, preset: DatasetPreset, paths: Iterable[Union[str, Path]], topk: int = 5,
                  class_names: Optional[Sequence[str]] = None, ctx: mx.Context = None) -> List[Prediction]:
    """Classify every file of ``paths`` with ``preset``'s preprocessing; an unreadable file gets an
    ``error`` and the others are still classified."""
    names = list(class_names if class_names is not None else preset.class_names)
    ctx = ctx or mx.cpu()
    results = []
    for path in paths:
        try:
            data = preset.preprocess(read_image(path)).as_in_context(ctx)
        except ImageReadError as err:
            results.append(Prediction(str(path), error=str(err)))
            continue
        probabilities = mx.nd.softmax(net(data))[0].asnumpy()
        if len(probabilities) != len(names):
            raise ValueError(f"the network has {len(probabilities)} outputs but {len(names)} class names were "
                             f"given (dataset {preset.name}); pass matching --classes / --dataset")
        order = np.argsort(-probabilities)[:topk]
        results.append(Prediction(str(path), [Guess(int(i), names[i], float(probabilities[i])) for i in order]))
    return results


def format_table(predictions: Sequence[Prediction]) -> str:
    """A plain-text table: file, rank, probability, class (errors on their own line)."""
    width = max([len(p.path) for p in predictions] + [4])
    lines = [f"{'file':<{width}}  rank  prob    class"]
    for prediction in predictions:
        if prediction.error:
            lines.append(f"{prediction.path:<{width}}  ERROR {prediction.error}")
            continue
        for rank, guess in enumerate(prediction.top, start=1):
            shown = prediction.path if rank == 1 else ""
            lines.append(f"{shown:<{width}}  {rank:>4}  {guess.probability:.4f}  {guess.name} ({guess.index})")
    return "\n".join(lines)
