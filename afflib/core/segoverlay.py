"""Prediction overlays of a segmentation run as one PNG: per scene the image, the true mask and the predicted mask
(one colour per class, background black). Framework-free; matplotlib is imported only here, when drawing."""
from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np

__all__ = ["class_colours", "colourise", "save_overlays"]


def class_colours(classes: int) -> np.ndarray:
    """``(classes, 3)`` uint8 colours: black background, then well-separated hues."""
    colours = np.zeros((classes, 3), np.uint8)
    for k in range(1, classes):
        hue = (k - 1) / max(classes - 1, 1)
        rgb = np.clip(np.abs((hue * 6 + np.array([0.0, 4.0, 2.0])) % 6 - 3) - 1, 0, 1)
        colours[k] = (55 + 200 * rgb).astype(np.uint8)
    return colours


def colourise(mask: np.ndarray, classes: int) -> np.ndarray:
    """An RGB image (H, W, 3) of an integer mask."""
    return class_colours(classes)[np.clip(mask, 0, classes - 1)]


def save_overlays(path: str, images: np.ndarray, truths: np.ndarray, predictions: np.ndarray, classes: int,
                  class_names: Optional[Sequence[str]] = None, title: str = "") -> str:
    """Write ``path``: a row per scene with the image ((H, W), (1, H, W) or RGB (3, H, W) uint8), the truth and
    the prediction (written to a temporary name first, so a crash leaves no half PNG); returns ``path``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = len(images)
    figure, axes = plt.subplots(rows, 3, figsize=(6, 2 * rows), squeeze=False)
    for row in range(rows):
        image = images[row]
        if image.ndim == 3:   # (1, H, W) grey, (3, H, W) colour (GluonCV's datasets)
            image = image[0] if image.shape[0] == 1 else np.transpose(image, (1, 2, 0))
        for column, (picture, name) in enumerate(((image, "image"), (colourise(truths[row], classes), "truth"),
                                                   (colourise(predictions[row], classes), "prediction"))):
            ax = axes[row][column]
            ax.imshow(picture, cmap="gray" if column == 0 else None, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(name, fontsize=9)
    if class_names:
        colours = class_colours(classes) / 255.0
        handles = [matplotlib.patches.Patch(color=colours[k], label=class_names[k]) for k in range(classes)]
        figure.legend(handles=handles, loc="lower center", ncol=min(classes, 4), fontsize=7, frameon=False)
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout(rect=(0, 0.06 if class_names else 0, 1, 0.97 if title else 1))
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f".{os.path.basename(path)}.tmp.png")
    figure.savefig(temporary, dpi=80)
    plt.close(figure)
    os.replace(temporary, path)
    return path
