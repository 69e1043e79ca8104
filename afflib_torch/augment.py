"""The release's ImageNet training augmentation for the PyTorch engine, as the MXNet engine applies it
(``afflib.data.transforms.ImageNetTrainTransform`` / the recipe's ``ImageRecordIter`` arguments).

Per image (in DataLoader workers, on uint8 pixels): random resized crop (area 8%-100% of the image, aspect ratio
log-uniform in [3/4, 4/3], 10 tries, then the centre square) resized to ``input_size``, a left-right flip with
probability 1/2, optionally AutoAugment's ImageNet policy (:mod:`afflib.core.autoaugment`). Per batch (in the
worker, or on the GPU after a uint8 copy): brightness, contrast and saturation jitter (factors 1 +- ``jitter``, in a
random order per image), AlexNet's PCA lighting noise (std ``lighting``, ImageNet's RGB eigenvalues/vectors on the
0-255 scale), clipping to 0-255 and the ImageNet mean/std normalisation. Every random number of an image comes
from ``numpy.random.default_rng([seed, epoch, sample_index])``, so the result never depends on the worker count.
"""
from __future__ import annotations

import math
import random
from typing import Tuple

import numpy as np
import torch

from afflib.core.autoaugment import AutoAugment
from afflib.core.datasets import DATASETS

__all__ = ["JITTER", "LIGHTING", "SCALE", "RATIO", "EIGVAL", "EIGVEC", "LUMA", "PARAMS", "OPENCV",
           "sample_rng", "random_resized_crop_box", "resize_crop", "TrainAugment", "colour_lighting", "normalise"]

JITTER = 0.4  # brightness, contrast and saturation (the release's --jitter-param)
LIGHTING = 0.1  # PCA lighting noise std (the release's --lighting-param)
SCALE = (0.08, 1.0)  # random resized crop: area fraction (ImageRecordIter min/max_random_area)
RATIO = (3 / 4, 4 / 3)  # aspect ratio range (min/max_aspect_ratio)
# PCA of ImageNet RGB pixels (0-255 scale): eigenvalues, eigenvectors as columns (AlexNet; gluoncv, MXNet's
# pca_noise use the same numbers)
EIGVAL = np.array([55.46, 4.794, 1.148], dtype=np.float32)
EIGVEC = np.array([[-0.5675, 0.7192, 0.4009],
                   [-0.5808, -0.0045, -0.8140],
                   [-0.5836, -0.6948, 0.4203]], dtype=np.float32)
LUMA = (0.299, 0.587, 0.114)  # grey level of RGB (OpenCV's RGB2GRAY), for contrast and saturation
PARAMS = 9  # per-image colour parameters: 3 operation ids in order, 3 factors, 3 lighting offsets (RGB)
_BRIGHTNESS, _CONTRAST, _SATURATION = 0, 1, 2


def sample_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The random source of one image in one epoch (the engine's data protocol)."""
    return np.random.default_rng([seed, epoch, int(index)])


def random_resized_crop_box(height: int, width: int, rng: np.random.Generator, scale: Tuple[float, float] = SCALE,
                            ratio: Tuple[float, float] = RATIO) -> Tuple[int, int, int, int]:
    """(top, left, h, w) of a random crop with area fraction in ``scale`` and log-uniform aspect ratio (w/h) in
    ``ratio``; after 10 misses the centred square of the shorter side (as the MXNet engine)."""
    area = height * width
    log_low, log_high = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        target = rng.uniform(scale[0], scale[1]) * area
        aspect = math.exp(rng.uniform(log_low, log_high))
        w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
    side = min(height, width)
    return (height - side) // 2, (width - side) // 2, side, side


def _opencv():
    try:
        import cv2
    except ImportError:
        return None
    return cv2


#: OpenCV where installed (the fast path for decoding and resizing), else None (Pillow is used)
OPENCV = _opencv()


def resize_crop(image, box: Tuple[int, int, int, int], size: int) -> np.ndarray:
    """The ``box`` (top, left, h, w) of ``image`` (HWC uint8 array, or an RGB Pillow image straight from the
    decoder) resized to ``size`` x ``size``, HWC uint8: OpenCV area/bilinear (the MXNet engine's) for arrays where
    OpenCV is installed, else Pillow's antialiased bilinear."""
    top, left, h, w = box
    if isinstance(image, np.ndarray):
        if OPENCV is not None:
            shrink = size * size < h * w
            interpolation = OPENCV.INTER_AREA if shrink else OPENCV.INTER_LINEAR
            out = OPENCV.resize(image[top:top + h, left:left + w], (size, size), interpolation=interpolation)
            return out.reshape(size, size, -1)
        from PIL import Image
        image = Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image)
    out = np.asarray(image.resize((size, size), 2, box=(left, top, left + w, top + h)))  # 2: Image.BILINEAR
    return out.reshape(size, size, -1)


def _height_width(image) -> Tuple[int, int]:
    return (image.shape[0], image.shape[1]) if isinstance(image, np.ndarray) else (image.size[1], image.size[0])


class TrainAugment:
    """Per-image half of the training augmentation: ``augment(image, rng) -> (uint8 HWC crop, PARAMS colour
    parameters)``; :func:`colour_lighting` applies the parameters to a batch.

    Parameters
    ----------
    input_size : int
        Side of the square crop (224).
    auto_augment : bool
        Apply AutoAugment's ImageNet policy to the uint8 crop after the flip.
    jitter, lighting : float
        Colour jitter strength (0 disables) and PCA lighting std (0 disables).
    """

    def __init__(self, input_size: int = 224, auto_augment: bool = False, jitter: float = JITTER,
                 lighting: float = LIGHTING, scale: Tuple[float, float] = SCALE, ratio: Tuple[float, float] = RATIO):
        if not 0 <= jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {jitter}")
        if lighting < 0:
            raise ValueError(f"lighting must be >= 0, got {lighting}")
        if not 0 < scale[0] <= scale[1] <= 1 or not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f"scale must satisfy 0 < min <= max <= 1 and ratio 0 < min <= max, got {scale}, {ratio}")
        self.input_size, self.jitter, self.lighting, self.scale, self.ratio = input_size, jitter, lighting, scale, ratio
        self.auto_augment = AutoAugment("imagenet") if auto_augment else None

    def __call__(self, image, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
        """``image``: HWC uint8 RGB array or RGB Pillow image; returns the uint8 crop and the colour parameters."""
        box = random_resized_crop_box(*_height_width(image), rng, self.scale, self.ratio)
        crop = resize_crop(image, box, self.input_size)
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        crop = np.ascontiguousarray(crop)
        if self.auto_augment is not None:
            crop = self.auto_augment(crop, random.Random(int(rng.integers(1 << 62))))
        return crop, self.colour_params(rng)

    def colour_params(self, rng: np.random.Generator) -> np.ndarray:
        """Operation order, jitter factors and the lighting offset of one image (float32, ``PARAMS`` values)."""
        params = np.zeros(PARAMS, np.float32)
        params[:3] = rng.permutation(3)
        params[3:6] = 1.0 + rng.uniform(-self.jitter, self.jitter, 3) if self.jitter else 1.0
        if self.lighting:
            params[6:] = EIGVEC @ (rng.normal(0.0, self.lighting, 3).astype(np.float32) * EIGVAL)
        return params


def colour_lighting(images: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """Colour jitter and lighting of a batch: uint8 (or float 0-255) NCHW RGB ``images`` and (N, ``PARAMS``)
    parameters from :meth:`TrainAugment.colour_params` -> float32 NCHW on the 0-255 scale, clipped.

    Each step is ``x * a + base * (1 - a)`` with base 0 (brightness), the image's mean grey level (contrast) or the
    pixel's grey level (saturation), as the MXNet engine's OpenCV code computes them. All three are affine maps of
    the RGB vector (the mean grey level of an affine image follows from the original's mean colour), so the batch is
    composed into one 3x3 matrix and offset per image and applied in a single pass.
    """
    x = images.float()
    n = x.shape[0]
    params = params.to(device=x.device, dtype=torch.float32)
    luma = torch.tensor(LUMA, dtype=torch.float32, device=x.device)
    eye = torch.eye(3, device=x.device).expand(n, 3, 3)
    to_grey = torch.ones(3, 1, device=x.device) @ luma[None]  # every channel := the grey level
    matrix, offset = eye, torch.zeros(n, 3, device=x.device)
    mean_colour = x.mean(dim=(2, 3))
    for step in range(3):
        op, factor = params[:, step], params[:, 3 + step]
        grey_mean = ((matrix @ mean_colour[:, :, None]).squeeze(-1) + offset) @ luma
        saturation = (op == _SATURATION).float()[:, None, None]
        step_matrix = factor[:, None, None] * eye + (1 - factor)[:, None, None] * saturation * to_grey
        step_offset = torch.where(op == _CONTRAST, (1 - factor) * grey_mean, torch.zeros_like(factor))
        matrix = step_matrix @ matrix
        offset = (step_matrix @ offset[:, :, None]).squeeze(-1) + step_offset[:, None]
    offset = offset + params[:, 6:9]
    out = torch.baddbmm(offset[:, :, None], matrix, x.reshape(n, 3, -1))
    return out.view_as(x).clamp_(0, 255)


def normalise(images: torch.Tensor) -> torch.Tensor:
    """NCHW images on the 0-255 scale -> float32 ``(x / 255 - mean) / std`` with ImageNet's mean and std (the core's
    :func:`afflib.core.preprocess.normalize_nhwc`)."""
    facts = DATASETS["imagenet"]
    mean = torch.tensor(facts.mean, dtype=torch.float32, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(facts.std, dtype=torch.float32, device=images.device).view(1, 3, 1, 1)
    return (images.float() - mean * 255) * (1 / (std * 255))
