"""Per-sample transform presets (numpy/OpenCV, HWC in, HWC out) and the evaluation preprocessing of each dataset.

Transforms work on HWC RGB numpy images in DataLoader worker processes; normalization to NCHW float32 happens once
per batch (:func:`afflib.data.batches.stack_batch`). The ImageNet presets do what the record iterator of the recipe
does (``imagenet_record_args``), so the folder and record paths train on the same distribution.
"""
from __future__ import annotations

import math
import os
import random
from typing import Callable, Optional, Tuple

import cv2
import mxnet as mx
import numpy as np

from afflib.core.datasets import (CIFAR_MEAN, CIFAR_STD, DATASETS, EVAL_CROP_RATIO, FASHION_MNIST_MEAN,
                                  FASHION_MNIST_STD, IMAGENET_MEAN, IMAGENET_STD, dataset_key)
from afflib.core.preprocess import eval_crop, eval_resize
from .autoaugment import AutoAugment
from .batches import normalize_nhwc

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "CIFAR_MEAN", "CIFAR_STD", "FASHION_MNIST_MEAN", "FASHION_MNIST_STD",
           "DATASET_STATS", "ImageNetTrainTransform", "ImageNetEvalTransform", "CifarTrainTransform",
           "imagenet_record_args", "eval_resize", "eval_preprocess", "normalize_batch", "ProcessRandom"]

# dataset -> (mean, std) on the 0-1 scale, input size, channels: a view of afflib.core.datasets.DATASETS
DATASET_STATS = {name: (facts.mean, facts.std, facts.input_size, facts.channels) for name, facts in DATASETS.items()}
JITTER = 0.4  # brightness, contrast and saturation
LIGHTING = 0.1  # PCA lighting noise standard deviation
# PCA of ImageNet RGB pixels (0-255 scale): eigenvalues and eigenvectors (columns), as used by AlexNet's lighting noise.
_EIGVAL = np.array([55.46, 4.794, 1.148], dtype=np.float32)
_EIGVEC = np.array([[-0.5675, 0.7192, 0.4009],
                    [-0.5808, -0.0045, -0.8140],
                    [-0.5836, -0.6948, 0.4203]], dtype=np.float32)
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class ProcessRandom:
    """A ``random.Random`` that is reseeded in each new process (DataLoader workers fork with identical states).

    In the creating process the sequence depends only on ``seed``; in a worker on ``seed``, the worker's pid and
    the time, so workers never repeat each other's augmentations.
    """

    def __init__(self, seed: Optional[int] = None):
        self.seed, self._pid, self._rng = seed, os.getpid(), random.Random(seed)

    def get(self) -> random.Random:
        if os.getpid() != self._pid:
            self._pid = os.getpid()
            self._rng = random.Random(hash((self.seed, self._pid, os.urandom(8))))
        return self._rng


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    interpolation = cv2.INTER_AREA if width * height < image.shape[0] * image.shape[1] else cv2.INTER_LINEAR
    resized = cv2.resize(image, (width, height), interpolation=interpolation)
    return resized[:, :, None] if resized.ndim == 2 else resized


class ImageNetEvalTransform:
    """Resize the shorter side to ``ceil(input_size / crop_ratio)``, then center-crop ``input_size`` (HWC uint8):
    :func:`afflib.core.preprocess.eval_crop`, the pixels the PyTorch engine sees too."""

    def __init__(self, input_size: int = 224, crop_ratio: float = EVAL_CROP_RATIO):
        self.input_size, self.crop_ratio, self.resize = input_size, crop_ratio, eval_resize(input_size, crop_ratio)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return eval_crop(image, self.input_size, self.crop_ratio)


class ImageNetTrainTransform:
    """The recipe's training augmentation on HWC uint8 RGB; returns HWC float32 on the 0-255 scale.

    Random resized crop (area 8%-100%, aspect ratio 3/4-4/3 log-uniform, 10 tries then a center crop) to
    ``input_size``, random left-right flip, optionally AutoAugment (ImageNet policy) on the uint8 crop, then
    brightness/contrast/saturation jitter of +-0.4 in random order and PCA lighting noise (std 0.1).
    """

    def __init__(self, input_size: int = 224, auto_augment: bool = False, seed: Optional[int] = None):
        self.input_size = input_size
        self.auto_augment = AutoAugment("imagenet") if auto_augment else None
        self.random = ProcessRandom(seed)

    def _crop_box(self, height: int, width: int, rng: random.Random) -> Tuple[int, int, int, int]:
        area = height * width
        for _ in range(10):
            target = rng.uniform(0.08, 1.0) * area
            ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
            w, h = round(math.sqrt(target * ratio)), round(math.sqrt(target / ratio))
            if 0 < w <= width and 0 < h <= height:
                return rng.randint(0, height - h), rng.randint(0, width - w), h, w
        side = min(height, width)
        return (height - side) // 2, (width - side) // 2, side, side

    def __call__(self, image: np.ndarray) -> np.ndarray:
        rng = self.random.get()
        top, left, h, w = self._crop_box(image.shape[0], image.shape[1], rng)
        image = _resize(image[top:top + h, left:left + w], self.input_size, self.input_size)
        if rng.random() < 0.5:
            image = image[:, ::-1]
        if self.auto_augment is not None:
            image = self.auto_augment(np.ascontiguousarray(image), rng)
        image = np.ascontiguousarray(image, dtype=np.float32)
        jitters = [self._brightness, self._contrast, self._saturation]
        rng.shuffle(jitters)
        for jitter in jitters:
            image = jitter(image, 1.0 + rng.uniform(-JITTER, JITTER))
        noise = np.array([rng.gauss(0, LIGHTING) for _ in range(3)], dtype=np.float32)
        image += _EIGVEC @ (noise * _EIGVAL)
        return np.clip(image, 0, 255, out=image)

    @staticmethod
    def _brightness(image: np.ndarray, alpha: float) -> np.ndarray:
        return cv2.multiply(image, alpha)  # cv2 is several times faster than numpy on these float32 images

    @staticmethod
    def _contrast(image: np.ndarray, alpha: float) -> np.ndarray:
        mean_luma = float(np.dot(cv2.mean(image)[:3], _LUMA))
        return cv2.addWeighted(image, alpha, image, 0.0, mean_luma * (1 - alpha))

    @staticmethod
    def _saturation(image: np.ndarray, alpha: float) -> np.ndarray:
        luma = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)  # 0.299 R + 0.587 G + 0.114 B
        return cv2.addWeighted(image, alpha, cv2.merge([luma, luma, luma]), 1 - alpha, 0.0)


class CifarTrainTransform:
    """CIFAR training augmentation on HWC uint8: optional AutoAugment (CIFAR-10 policy), then a random 32x32 crop
    of the image zero-padded by 4 pixels and a random left-right flip. Also serves 28x28 Fashion-MNIST
    (``size=28, pad=2``)."""

    def __init__(self, auto_augment: bool = False, size: int = 32, pad: int = 4, seed: Optional[int] = None):
        self.auto_augment = AutoAugment("cifar10") if auto_augment else None
        self.size, self.pad = size, pad
        self.random = ProcessRandom(seed)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        rng = self.random.get()
        if self.auto_augment is not None:
            image = self.auto_augment(image, rng)
        p = self.pad
        padded = np.zeros((image.shape[0] + 2 * p, image.shape[1] + 2 * p, image.shape[2]), dtype=image.dtype)
        padded[p:p + image.shape[0], p:p + image.shape[1]] = image
        top, left = rng.randint(0, 2 * p), rng.randint(0, 2 * p)
        crop = padded[top:top + self.size, left:left + self.size]
        return crop[:, ::-1] if rng.random() < 0.5 else crop


def imagenet_record_args(train: bool, input_size: int = 224, crop_ratio: float = EVAL_CROP_RATIO) -> dict:
    """``mx.io.ImageRecordIter`` keyword arguments of the recipe's train or validation augmentation."""
    args = dict(data_shape=(3, input_size, input_size), mean_r=IMAGENET_MEAN[0], mean_g=IMAGENET_MEAN[1],
                mean_b=IMAGENET_MEAN[2], std_r=IMAGENET_STD[0], std_g=IMAGENET_STD[1], std_b=IMAGENET_STD[2])
    if train:
        args.update(rand_mirror=True, random_resized_crop=True, max_aspect_ratio=4 / 3, min_aspect_ratio=3 / 4,
                    max_random_area=1.0, min_random_area=0.08, brightness=JITTER, contrast=JITTER,
                    saturation=JITTER, pca_noise=LIGHTING)
    else:
        args.update(resize=eval_resize(input_size, crop_ratio))
    return args


def normalize_batch(images: np.ndarray, dataset: str) -> np.ndarray:
    """NHWC (uint8 0-255 or float 0-255) -> NCHW float32 normalized with the dataset's mean and std."""
    mean, std = DATASET_STATS[dataset_key(dataset)][:2]
    return normalize_nhwc(images, mean, std)


def eval_preprocess(dataset: str, input_size: Optional[int] = None,
                    crop_ratio: float = EVAL_CROP_RATIO) -> Callable[[np.ndarray], mx.nd.NDArray]:
    """Preprocessing of one image for a model trained on ``dataset``: HWC uint8 RGB (numpy or NDArray) ->
    normalized (1, C, H, W) float32 NDArray.

    ImageNet: resize the shorter side to ceil(input_size / crop_ratio), center crop ``input_size`` (224).
    CIFAR: resize to ``input_size`` (32) square. Fashion-MNIST: grayscale, resize to 28x28 (the dataset shows light
    objects on black; photos of dark objects on white need inverting first).
    """
    key = dataset_key(dataset)
    size = input_size or DATASET_STATS[key][2]
    channels = DATASET_STATS[key][3]
    crop = ImageNetEvalTransform(size, crop_ratio) if key == "imagenet" else None

    def preprocess(image) -> mx.nd.NDArray:
        array = image.asnumpy() if isinstance(image, mx.nd.NDArray) else np.asarray(image)
        if array.ndim == 2:
            array = array[:, :, None]
        if array.shape[2] == 4:
            array = array[:, :, :3]
        if channels == 1 and array.shape[2] == 3:
            array = cv2.cvtColor(np.ascontiguousarray(array), cv2.COLOR_RGB2GRAY)[:, :, None]
        elif channels == 3 and array.shape[2] == 1:
            array = np.repeat(array, 3, axis=2)
        array = crop(array) if crop is not None else _resize(np.ascontiguousarray(array), size, size)
        return mx.nd.array(normalize_batch(array[None], key))

    return preprocess
