"""Generated image-classification data for tests and demos: small class-folder datasets a tiny net learns fast.

Class ``k`` of ``n`` is a textured background of hue ``180*k/n`` degrees (hues on one half of the colour circle, so
that inverting an image never turns it into another class) with a bright disc or square at a random place; the
object's shape alternates with the class (even: disc, odd: square). Noise and random brightness keep it from being
trivial, yet the colour survives random crops, flips, colour jitter and most AutoAugment operations.
"""
from __future__ import annotations

import colorsys
import os
from pathlib import Path
from typing import Dict, List

import cv2
import numpy as np

__all__ = ["make_tiny_imagenet", "synthetic_image"]


def synthetic_image(label: int, classes: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """One HWC uint8 RGB image of class ``label``."""
    hue = 0.5 * label / classes
    value = rng.uniform(0.55, 0.95)
    r, g, b = colorsys.hsv_to_rgb(hue, rng.uniform(0.6, 0.9), value)
    base = np.array([r, g, b], dtype=np.float32) * 255
    image = base + rng.normal(0, 18, size=(size, size, 3))
    stripes = np.sin(np.arange(size) * rng.uniform(0.3, 0.9) + rng.uniform(0, 6.3)) * 12
    image += stripes[None, :, None] if rng.random() < 0.5 else stripes[:, None, None]
    image = np.clip(image, 0, 255).astype(np.uint8)
    radius = int(rng.integers(size // 8, size // 4 + 1))
    cx, cy = (int(c) for c in rng.integers(radius, size - radius, size=2))
    colour = tuple(int(c) for c in (255 - 0.5 * base))
    if label % 2 == 0:
        cv2.circle(image, (cx, cy), radius, colour, thickness=-1)
    else:
        cv2.rectangle(image, (cx - radius, cy - radius), (cx + radius, cy + radius), colour, thickness=-1)
    return image


def make_tiny_imagenet(root: os.PathLike, classes: int = 4, per_class: int = 24, val_per_class: int = 8,
                       size: int = 64, seed: int = 0) -> Dict[str, Path]:
    """Write ``root/train/<class>/*.jpg`` and ``root/val/<class>/*.jpg`` (JPEG quality 95) and return both folders.

    Class folder names ``c00_h000`` ... sort in label order (label = index in sorted order, as in ImageNet).
    """
    if classes < 2:
        raise ValueError(f"classes must be >= 2, got {classes}")
    root = Path(root)
    rng = np.random.default_rng(seed)
    names: List[str] = [f"c{k:02d}_h{round(180 * k / classes):03d}" for k in range(classes)]
    folders = {}
    for split, count in (("train", per_class), ("val", val_per_class)):
        folders[split] = root / split
        for label, name in enumerate(names):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                image = synthetic_image(label, classes, size, rng)
                bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
                cv2.imwrite(str(folder / f"{name}_{i:04d}.jpg"), bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return folders
