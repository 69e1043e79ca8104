"""What both engines' segmentation tools share beyond the flags: the generated scenes of a run, the normalisation,
the run's record in ``run_config.json`` and the closing lines (``mIoU: 0.xxxx`` and the all-background
``baseline mIoU: 0.xxxx``). Framework-free."""
from __future__ import annotations

import argparse
import json
import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np

from .segmetrics import background_baseline
from .segscenes import SceneSpec, load_scenes

__all__ = ["EvaluationInputs", "evaluation_inputs", "end_evaluation", "SCENE_SEED", "scene_spec", "load_split", "normalisation", "run_tag", "closing_lines", "report_end",
           "read_segmentation_run", "SegmentationRun"]

#: the generated dataset is one fixed set for every run (the runs' --seed varies initialisation and order only)
SCENE_SEED = 0


def scene_spec(canvas: int, binary: Optional[int]) -> SceneSpec:
    """The generated dataset of ``--canvas`` and ``--binary``."""
    return SceneSpec(canvas=canvas, binary_class=binary)


def load_split(spec: SceneSpec, train: bool, count: int = 0, data_dir: Optional[str] = None,
               cache_dir: Optional[str] = None, progress: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """Scenes (N, H, W) uint8 and masks (N, H, W) of the training or test split (``count`` 0: all; generated and
    cached on first use)."""
    return load_scenes("train" if train else "test", spec, seed=SCENE_SEED, count=count or None, data_dir=data_dir,
                       cache_dir=cache_dir, progress=progress)


def normalisation() -> Tuple[Tuple[float, ...], Tuple[float, ...]]:
    """(mean, std) on the 0..1 scale that both engines subtract and divide by."""
    from .datasets import DATASETS
    facts = DATASETS.get("fashion-mnist-scenes")
    if facts is None:
        return (0.2,), (0.3,)
    return tuple(facts.mean), tuple(facts.std)


def run_tag(args: argparse.Namespace) -> str:
    """The dataset part of the run's file names: ``fashion-mnist-scenes`` or ``fashion-mnist-scenes-binary3``."""
    return args.dataset + (f"-binary{args.binary}" if args.binary is not None else "")


def closing_lines(miou: float, pixel_accuracy: float, masks: Optional[np.ndarray], classes: int,
                  baseline: Optional[Mapping[str, float]] = None) -> List[str]:
    """The lines both tools end with: the test split's mIoU, pixel accuracy, and the all-background baseline (of
    ``masks``, or ``baseline`` as already counted: ``{'miou', 'pixel_accuracy'}``)."""
    baseline = background_baseline(masks, classes) if baseline is None else baseline
    return [f"pixel accuracy: {pixel_accuracy:.4f} (all-background: {baseline['pixel_accuracy']:.4f})",
            f"mIoU: {miou:.4f}", f"baseline mIoU: {baseline['miou']:.4f}"]


def report_end(miou: float, pixel_accuracy: float, masks: Optional[np.ndarray], classes: int,
               emit: Callable[[str], Any], draw_overlays: Optional[Callable[[], str]] = None,
               baseline: Optional[Mapping[str, float]] = None) -> List[str]:
    """How both engines' tools end: ``prediction overlays: PATH`` (when ``draw_overlays`` is given: it draws them
    and returns the path), then the :func:`closing_lines`, each passed to ``emit`` (print, or the run's log);
    returns the closing lines."""
    if draw_overlays is not None:
        emit(f"prediction overlays: {draw_overlays()}")
    lines = closing_lines(miou, pixel_accuracy, masks, classes, baseline)
    for line in lines:
        emit(line)
    return lines


class SegmentationRun:
    """What evaluation needs of a training run: the network spec text, classes, input channels and the scenes'
    settings, read from the ``run_config.json`` beside its checkpoint."""

    def __init__(self, path: str, config: Mapping[str, Any]):
        self.path = path
        try:
            self.spec_text: str = config["network"]["text"]
            self.classes: int = int(config["dataset"]["classes"])
            self.in_channels: int = int(config["dataset"]["in_channels"])
            self.scenes: Dict[str, Any] = dict(config["scenes"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}: not the run_config.json of a train_segmentation run (needs network, dataset "
                             f"and scenes entries)") from None


def read_segmentation_run(params: str) -> SegmentationRun:
    """The :class:`SegmentationRun` of checkpoint ``params`` (its folder's ``run_config.json``)."""
    if not os.path.isfile(params):
        raise ValueError(f"--params {params}: no such file")
    path = os.path.join(os.path.dirname(os.path.abspath(params)), "run_config.json")
    if not os.path.isfile(path):
        raise ValueError(f"--params {params}: no run_config.json beside it (evaluate a checkpoint inside its run "
                         f"folder)")
    try:
        with open(path) as handle:
            config = json.load(handle)
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: unreadable ({err})") from None
    return SegmentationRun(path, config)


class EvaluationInputs:
    """What an evaluation of ``--params`` reads, whichever engine runs it: the run, its scenes' spec, the test
    scenes and masks, the normalisation, whether to draw progress bars, and where the overlays go."""

    def __init__(self, args: argparse.Namespace, progress: bool):
        self.run = read_segmentation_run(args.params)
        scenes = self.run.scenes
        for flag, dest in (("--canvas", "canvas"), ("--binary", "binary")):
            given = getattr(args, dest)
            if given not in (None, 64) and given != scenes.get(dest):
                raise ValueError(f"{flag} {given}: the run at {self.run.path} was trained with {scenes.get(dest)}")
        self.spec = scene_spec(int(scenes["canvas"]), scenes.get("binary"))
        self.progress = progress
        self.mean, self.std = normalisation()
        self.scenes, self.masks = load_split(self.spec, False, args.test_size, args.data_dir, args.cache_dir, progress)
        self.overlays = args.overlays
        self.out = args.out or os.path.splitext(args.params)[0] + "-overlays.png"


def evaluation_inputs(args: argparse.Namespace, progress: bool) -> EvaluationInputs:
    """The :class:`EvaluationInputs` of ``eval_segmentation``'s flags (ValueError naming a contradicting flag)."""
    return EvaluationInputs(args, progress)


def end_evaluation(inputs: EvaluationInputs, result: Any, draw: Callable[[str], str]) -> List[str]:
    """Print how long the pass took, draw the overlays (``draw(path)`` returns the path) and print the closing
    lines; returns them."""
    print(f"{inputs.run.spec_text}: {result.samples} test scenes in {result.seconds:.1f} s")
    return report_end(result.metrics["miou"], result.metrics["pixel_accuracy"], inputs.masks, inputs.run.classes,
                      print, (lambda: draw(inputs.out)) if inputs.overlays else None)
