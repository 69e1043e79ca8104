"""AutoAugment (Cubuk et al., CVPR 2019): the learned ImageNet and CIFAR-10 policies, with PIL image operations.

A policy is data: 25 sub-policies, each two ``(operation, probability, magnitude level 0-10)`` steps. For every
image one sub-policy is drawn uniformly and each of its steps is applied with its probability. Level -> argument
(as in the paper's Table 6 ranges): Shear +-0.3 * level/10, Translate +-(level/10) * max fraction of the size
(ImageNet 150/331, CIFAR 10/32), Rotate +-30 * level/10 degrees (sign drawn at random for these), Solarize
threshold 256 - 25.6 * level (level 0: no change), Posterize 8 - int(0.4 * level) bits kept (level 0: no change),
Color/Contrast/Brightness/Sharpness enhancement factor 0.1 + 0.18 * level (level 5: no change). AutoContrast,
Equalize and Invert take no magnitude. Geometric operations fill with grey (128, 128, 128).

Framework-free (NumPy + Pillow): both engines augment through it (``afflib.data.autoaugment`` adds MXNet NDArrays).
"""
from __future__ import annotations

import random
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

__all__ = ["AutoAugment", "OPERATIONS", "POLICIES", "IMAGENET_POLICY", "CIFAR10_POLICY", "apply_operation"]

FILL = (128, 128, 128)
Step = Tuple[str, float, int]

IMAGENET_POLICY: List[Tuple[Step, Step]] = [
    (("Posterize", 0.4, 8), ("Rotate", 0.6, 9)),
    (("Solarize", 0.6, 5), ("AutoContrast", 0.6, 5)),
    (("Equalize", 0.8, 8), ("Equalize", 0.6, 3)),
    (("Posterize", 0.6, 7), ("Posterize", 0.6, 6)),
    (("Equalize", 0.4, 7), ("Solarize", 0.2, 4)),
    (("Equalize", 0.4, 4), ("Rotate", 0.8, 8)),
    (("Solarize", 0.6, 3), ("Equalize", 0.6, 7)),
    (("Posterize", 0.8, 5), ("Equalize", 1.0, 2)),
    (("Rotate", 0.2, 3), ("Solarize", 0.6, 8)),
    (("Equalize", 0.6, 8), ("Posterize", 0.4, 6)),
    (("Rotate", 0.8, 8), ("Color", 0.4, 0)),
    (("Rotate", 0.4, 9), ("Equalize", 0.6, 2)),
    (("Equalize", 0.0, 7), ("Equalize", 0.8, 8)),
    (("Invert", 0.6, 4), ("Equalize", 1.0, 8)),
    (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
    (("Rotate", 0.8, 8), ("Color", 1.0, 2)),
    (("Color", 0.8, 8), ("Solarize", 0.8, 7)),
    (("Sharpness", 0.4, 7), ("Invert", 0.6, 8)),
    (("ShearX", 0.6, 5), ("Equalize", 1.0, 9)),
    (("Color", 0.4, 0), ("Equalize", 0.6, 3)),
    (("Equalize", 0.4, 7), ("Solarize", 0.2, 4)),
    (("Solarize", 0.6, 5), ("AutoContrast", 0.6, 5)),
    (("Invert", 0.6, 4), ("Equalize", 1.0, 8)),
    (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
    (("Equalize", 0.8, 8), ("Equalize", 0.6, 3)),
]

CIFAR10_POLICY: List[Tuple[Step, Step]] = [
    (("Invert", 0.1, 7), ("Contrast", 0.2, 6)),
    (("Rotate", 0.7, 2), ("TranslateX", 0.3, 9)),
    (("Sharpness", 0.8, 1), ("Sharpness", 0.9, 3)),
    (("ShearY", 0.5, 8), ("TranslateY", 0.7, 9)),
    (("AutoContrast", 0.5, 8), ("Equalize", 0.9, 2)),
    (("ShearY", 0.2, 7), ("Posterize", 0.3, 7)),
    (("Color", 0.4, 3), ("Brightness", 0.6, 7)),
    (("Sharpness", 0.3, 9), ("Brightness", 0.7, 9)),
    (("Equalize", 0.6, 5), ("Equalize", 0.5, 1)),
    (("Contrast", 0.6, 7), ("Sharpness", 0.6, 5)),
    (("Color", 0.7, 7), ("TranslateX", 0.5, 8)),
    (("Equalize", 0.3, 7), ("AutoContrast", 0.4, 8)),
    (("TranslateY", 0.4, 3), ("Sharpness", 0.2, 6)),
    (("Brightness", 0.9, 6), ("Color", 0.2, 8)),
    (("Solarize", 0.5, 2), ("Invert", 0.0, 3)),
    (("Equalize", 0.2, 0), ("AutoContrast", 0.6, 0)),
    (("Equalize", 0.2, 8), ("Equalize", 0.6, 4)),
    (("Color", 0.9, 9), ("Equalize", 0.6, 6)),
    (("AutoContrast", 0.8, 4), ("Solarize", 0.2, 8)),
    (("Brightness", 0.1, 3), ("Color", 0.7, 0)),
    (("Solarize", 0.4, 5), ("AutoContrast", 0.9, 3)),
    (("TranslateY", 0.9, 9), ("TranslateY", 0.7, 9)),
    (("AutoContrast", 0.9, 2), ("Solarize", 0.8, 3)),
    (("Equalize", 0.8, 8), ("Invert", 0.1, 3)),
    (("TranslateY", 0.7, 9), ("AutoContrast", 0.9, 1)),
]

POLICIES = {"imagenet": IMAGENET_POLICY, "cifar10": CIFAR10_POLICY}
# Largest translation as a fraction of the image side: 150 px of 331 (ImageNet), 10 px of 32 (CIFAR).
MAX_TRANSLATE = {"imagenet": 150 / 331, "cifar10": 10 / 32}


def _fill(img: Image.Image):
    return FILL if img.mode == "RGB" else FILL[0]


def _signed(value: float, rng: random.Random) -> float:
    return -value if rng.random() < 0.5 else value


def _shear(axis: int):
    def op(img: Image.Image, level: int, rng: random.Random, translate: float) -> Image.Image:
        s = _signed(0.3 * level / 10, rng)
        matrix = (1, s, 0, 0, 1, 0) if axis == 0 else (1, 0, 0, s, 1, 0)
        return img.transform(img.size, Image.AFFINE, matrix, resample=Image.BILINEAR, fillcolor=_fill(img))
    return op


def _translate(axis: int):
    def op(img: Image.Image, level: int, rng: random.Random, translate: float) -> Image.Image:
        pixels = _signed(translate * level / 10 * img.size[axis], rng)
        matrix = (1, 0, pixels, 0, 1, 0) if axis == 0 else (1, 0, 0, 0, 1, pixels)
        return img.transform(img.size, Image.AFFINE, matrix, resample=Image.BILINEAR, fillcolor=_fill(img))
    return op


def _rotate(img, level, rng, translate):
    return img.rotate(_signed(30 * level / 10, rng), resample=Image.BILINEAR, fillcolor=_fill(img))


def _enhance(enhancer):
    def op(img, level, rng, translate):
        return enhancer(img).enhance(0.1 + 1.8 * level / 10)
    return op


def _solarize(img, level, rng, translate):
    return ImageOps.solarize(img, 256 - int(256 * level / 10))


def _posterize(img, level, rng, translate):
    return ImageOps.posterize(img, 8 - int(4 * level / 10))


Operation = Callable[[Image.Image, int, random.Random, float], Image.Image]
OPERATIONS: Dict[str, Operation] = {
    "ShearX": _shear(0),
    "ShearY": _shear(1),
    "TranslateX": _translate(0),
    "TranslateY": _translate(1),
    "Rotate": _rotate,
    "AutoContrast": lambda img, level, rng, translate: ImageOps.autocontrast(img),
    "Invert": lambda img, level, rng, translate: ImageOps.invert(img),
    "Equalize": lambda img, level, rng, translate: ImageOps.equalize(img),
    "Solarize": _solarize,
    "Posterize": _posterize,
    "Contrast": _enhance(ImageEnhance.Contrast),
    "Color": _enhance(ImageEnhance.Color),
    "Brightness": _enhance(ImageEnhance.Brightness),
    "Sharpness": _enhance(ImageEnhance.Sharpness),
}


def apply_operation(image: np.ndarray, name: str, level: int, rng: Optional[random.Random] = None,
                    translate: float = MAX_TRANSLATE["imagenet"]) -> np.ndarray:
    """Apply one operation at ``level`` (0-10) to an HWC uint8 RGB array (always, no probability)."""
    if name not in OPERATIONS:
        raise ValueError(f"unknown AutoAugment operation {name!r}; valid: {sorted(OPERATIONS)}")
    if not 0 <= level <= 10:
        raise ValueError(f"magnitude level must be in 0..10, got {level}")
    result = OPERATIONS[name](Image.fromarray(image), level, rng or random.Random(), translate)
    return np.asarray(result, dtype=np.uint8)


class AutoAugment:
    """Apply a random sub-policy of an AutoAugment policy to an HWC uint8 RGB image.

    Parameters
    ----------
    policy : str
        ``'imagenet'`` or ``'cifar10'``.
    seed : int or random.Random, optional
        Source of randomness; a fixed seed makes the sequence of augmentations reproducible.

    Calling it on an HWC uint8 numpy array returns one of the same shape.
    """

    def __init__(self, policy: str = "imagenet", seed: Union[None, int, random.Random] = None):
        if policy not in POLICIES:
            raise ValueError(f"unknown AutoAugment policy {policy!r}; valid: {sorted(POLICIES)}")
        self.policy_name = policy
        self.policy: Sequence[Tuple[Step, Step]] = POLICIES[policy]
        self.translate = MAX_TRANSLATE[policy]
        self.rng = seed if isinstance(seed, random.Random) else random.Random(seed)

    def __call__(self, image, rng: Optional[random.Random] = None):
        """Augment ``image``; ``rng`` overrides the instance's random source for this call."""
        rng = rng or self.rng
        array = np.asarray(image)
        if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] not in (1, 3):
            raise ValueError(f"AutoAugment needs an HWC uint8 image with 1 or 3 channels, got shape {array.shape} "
                             f"dtype {array.dtype}")
        gray = array.shape[2] == 1
        img = Image.fromarray(array[:, :, 0] if gray else array)
        for name, probability, level in self.policy[rng.randrange(len(self.policy))]:
            if rng.random() < probability:
                img = OPERATIONS[name](img, level, rng, self.translate)
        result = np.asarray(img, dtype=np.uint8)
        return result[:, :, None] if gray else result

    def __repr__(self) -> str:
        return f"AutoAugment(policy={self.policy_name!r})"
