"""The evaluation preprocessing both engines run, in NumPy: resize the shorter side, centre crop, normalise.

The MXNet pipeline that evaluated the released checkpoints resized with OpenCV (``INTER_AREA`` when shrinking,
``INTER_LINEAR`` when enlarging). :func:`resize` reproduces OpenCV 4's arithmetic for uint8 images bit for bit
(``tests_core/test_preprocess.py`` compares it with ``cv2.resize`` where OpenCV is installed), so the PyTorch
environment, which has no OpenCV, gets the same pixels: both engines call :func:`eval_crop` and :func:`normalize_nhwc`.
"""
from __future__ import annotations

import functools
import math
import sys
from typing import Sequence, Tuple

import numpy as np

from .datasets import EVAL_CROP_RATIO

__all__ = ["eval_resize", "eval_size", "center_crop_box", "resize", "resize_numpy", "resize_area", "resize_linear",
           "eval_crop", "record_eval_size", "record_eval_crop", "normalize_nhwc"]

_COEF_BITS = 11  # OpenCV's INTER_RESIZE_COEF_BITS: bilinear weights in 1/2048
_DBL_EPSILON = sys.float_info.epsilon


def eval_resize(input_size: int, crop_ratio: float) -> int:
    """Shorter side before the center crop: ceil(input_size / crop_ratio) (256 for 224 at 0.875)."""
    if not 0 < crop_ratio <= 1:
        raise ValueError(f"crop_ratio must be in (0, 1], got {crop_ratio}")
    return int(math.ceil(input_size / crop_ratio))


def eval_size(height: int, width: int, input_size: int, crop_ratio: float) -> Tuple[int, int]:
    """(height, width) of the image after the shorter side is resized to :func:`eval_resize` (never < input_size)."""
    scale = eval_resize(input_size, crop_ratio) / min(height, width)
    return max(input_size, round(height * scale)), max(input_size, round(width * scale))


def center_crop_box(height: int, width: int, size: int) -> Tuple[int, int]:
    """(top, left) of the centred ``size`` x ``size`` square (odd margins leave the extra pixel at the bottom/right)."""
    if size > min(height, width):
        raise ValueError(f"cannot crop {size}x{size} from a {height}x{width} image")
    return (height - size) // 2, (width - size) // 2


@functools.lru_cache(maxsize=512)
def _area_table(src: int, dst: int, channels: int = 1) -> Tuple[np.ndarray, np.ndarray]:
    """OpenCV's area weights along one axis as (terms, dst * channels) arrays of source indices (of the axis
    flattened with its ``channels``) and float32 weights; unused terms have weight 0."""
    scale = 1.0 / (dst / src)  # as cv::resize computes it: 1 / inv_scale
    rows = []
    for d in range(dst):
        start, end = d * scale, d * scale + scale
        cell = min(scale, src - start)
        first, last = math.ceil(start), min(math.floor(end), src - 1)
        first = min(first, last)
        row = [(first - 1, (first - start) / cell)] if first - start > 1e-3 else []
        row += [(s, 1.0 / cell) for s in range(first, last)]
        if end - last > 1e-3:
            row.append((last, min(end - last, 1.0, cell) / cell))
        rows.append(row)
    index = np.zeros((max(map(len, rows)), dst), np.intp)
    weight = np.zeros(index.shape, np.float32)
    for d, row in enumerate(rows):
        for term, (s, w) in enumerate(row):
            index[term, d], weight[term, d] = s, w
    index = (index[:, :, None] * channels + np.arange(channels)).reshape(len(index), -1)
    return index, np.repeat(weight, channels, axis=1)


def _weighted_sum(values: np.ndarray, axis: int, table: Tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Sum of the table's terms along ``axis`` of 2-D ``values`` in order, in float32, one rounding per operation
    (OpenCV's accumulation order)."""
    index, weight = table
    if axis == 0:
        gather, weight = (lambda term: values[index[term]]), weight[:, :, None]
    else:
        gather = (lambda term: values[:, index[term]])
    out = gather(0) * weight[0]
    for term in range(1, len(index)):
        out += gather(term) * weight[term]
    return out


def resize_area(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Shrink HWC uint8 ``image`` to ``width`` x ``height`` as ``cv2.resize(..., INTER_AREA)`` does."""
    src_h, src_w = image.shape[:2]
    scale_x, scale_y = 1.0 / (width / src_w), 1.0 / (height / src_h)
    if scale_x < 1 or scale_y < 1:
        raise ValueError(f"area resize shrinks only: {src_h}x{src_w} -> {height}x{width}")
    int_x, int_y = round(scale_x), round(scale_y)
    if abs(scale_x - int_x) < _DBL_EPSILON and abs(scale_y - int_y) < _DBL_EPSILON:  # whole blocks
        blocks = image[:height * int_y, :width * int_x].reshape(height, int_y, width, int_x, -1)
        total = blocks.astype(np.int32).sum(axis=(1, 3))
        if int_x == 2 and int_y == 2:
            out = (total + 2) >> 2
        else:
            out = np.rint(total.astype(np.float32) * np.float32(1.0 / (int_x * int_y)))
    else:
        channels = image.shape[2] if image.ndim == 3 else 1
        pixels = image.reshape(src_h, src_w * channels).astype(np.float32)
        rows = _weighted_sum(pixels, 1, _area_table(src_w, width, channels))
        out = np.rint(_weighted_sum(rows, 0, _area_table(src_h, height)))
    return np.clip(out, 0, 255).astype(np.uint8).reshape((height, width) + image.shape[2:])


def _linear_table(src: int, dst: int, clamp_weights: bool) -> Tuple[np.ndarray, ...]:
    """Source pixels and 11-bit weights of OpenCV's bilinear resize along one axis.

    Columns past the border take the edge pixel with full weight; rows keep their weights on the clamped rows.
    """
    scale = 1.0 / (dst / src)
    pos = ((np.arange(dst, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    first = np.floor(pos).astype(np.int64)
    frac = pos - first.astype(np.float32)
    if clamp_weights:
        low, high = first < 0, first + 1 >= src
        frac[low], first[low] = 0, 0
        frac[high], first[high] = 0, src - 1
    one = np.float32(1 << _COEF_BITS)
    w0 = np.rint((np.float32(1) - frac) * one).astype(np.int32)
    w1 = np.rint(frac * one).astype(np.int32)
    return np.clip(first, 0, src - 1), np.clip(first + 1, 0, src - 1), w0, w1


def resize_linear(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """HWC uint8 ``image`` at ``width`` x ``height`` as ``cv2.resize(..., INTER_LINEAR)`` computes it (11-bit
    fixed-point weights, the vertical pass on the 4-bit-shifted horizontal sums): OpenCV 4.11 when enlarging, and
    MXNet's record iterator both ways."""
    src_h, src_w = image.shape[:2]
    x0, x1, wx0, wx1 = _linear_table(src_w, width, clamp_weights=True)
    y0, y1, wy0, wy1 = _linear_table(src_h, height, clamp_weights=False)
    pixels = image.reshape(src_h, src_w, -1).astype(np.int32)
    rows = (pixels[:, x0] * wx0[None, :, None] + pixels[:, x1] * wx1[None, :, None]) >> 4
    out = (((rows[y0] * wy0[:, None, None]) >> 16) + ((rows[y1] * wy1[:, None, None]) >> 16) + 2) >> 2
    return np.clip(out, 0, 255).astype(np.uint8).reshape((height, width) + image.shape[2:])


def resize_numpy(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """HWC (or HW) uint8 ``image`` at ``width`` x ``height``: area averaging when the pixel count shrinks, bilinear
    otherwise (the MXNet pipeline's choice); both scales must go the same way (the aspect ratio is kept)."""
    _check_resize(image, width, height)
    if width * height < image.shape[0] * image.shape[1]:
        return resize_area(image, width, height)
    return resize_linear(image, width, height)


def _check_resize(image: np.ndarray, width: int, height: int) -> None:
    if image.dtype != np.uint8:
        raise ValueError(f"resize takes uint8 images, got {image.dtype}")
    shrinks = width * height < image.shape[0] * image.shape[1]
    if not shrinks and (width < image.shape[1] or height < image.shape[0]):
        raise ValueError(f"bilinear resize enlarges only: {image.shape[0]}x{image.shape[1]} -> {height}x{width}")


@functools.lru_cache(maxsize=None)
def _opencv():
    """OpenCV where installed (the MXNet environment): the same pixels as :func:`resize_numpy`, about 3x faster."""
    try:
        import cv2
    except ImportError:
        return None
    return cv2


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """:func:`resize_numpy`'s pixels, computed by OpenCV when it is installed (tests check the two are equal)."""
    cv2 = _opencv()
    if cv2 is None:
        return resize_numpy(image, width, height)
    _check_resize(image, width, height)
    shrinks = width * height < image.shape[0] * image.shape[1]
    out = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinks else cv2.INTER_LINEAR)
    return out.reshape(height, width, *image.shape[2:])


def eval_crop(image: np.ndarray, input_size: int = 224, crop_ratio: float = EVAL_CROP_RATIO) -> np.ndarray:
    """ImageNet evaluation crop of HWC uint8 RGB ``image``: shorter side to ceil(input_size / crop_ratio), then the
    centre ``input_size`` square; HWC uint8."""
    image = np.ascontiguousarray(image[:, :, None] if image.ndim == 2 else image)
    height, width = eval_size(image.shape[0], image.shape[1], input_size, crop_ratio)
    resized = resize(image, width, height)
    top, left = center_crop_box(height, width, input_size)
    return resized[top:top + input_size, left:left + input_size]


def record_eval_size(height: int, width: int, input_size: int, crop_ratio: float) -> Tuple[int, int]:
    """(height, width) after ``mx.io.ImageRecordIter(resize=...)``: the shorter side to :func:`eval_resize`, the
    longer one to ``resize * longer // shorter`` (truncated, where :func:`eval_size` rounds)."""
    resize = eval_resize(input_size, crop_ratio)
    if height > width:
        return resize * height // width, resize
    return resize, resize * width // height


def record_eval_crop(image: np.ndarray, input_size: int = 224, crop_ratio: float = EVAL_CROP_RATIO) -> np.ndarray:
    """The validation crop of the release's record pipeline (GluonCV's ``ImageRecordIter`` with ``resize``, which
    measured the published ImageNet errors): bilinear resize to :func:`record_eval_size`, centre crop; HWC uint8.

    The MXNet engine's folder pipeline (:func:`eval_crop`) averages areas when shrinking instead.
    """
    image = np.ascontiguousarray(image[:, :, None] if image.ndim == 2 else image)
    height, width = record_eval_size(image.shape[0], image.shape[1], input_size, crop_ratio)
    resized = resize_linear(image, width, height)
    top, left = center_crop_box(height, width, input_size)
    return resized[top:top + input_size, left:left + input_size]


def normalize_nhwc(images: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """NHWC (or NHW) images on the 0-255 scale -> NCHW float32 ``(x/255 - mean) / std`` (mean, std on 0-1 scale)."""
    if images.ndim == 3:
        images = images[..., None]
    mean, std = np.asarray(mean, dtype=np.float32), np.asarray(std, dtype=np.float32)
    data = (images.astype(np.float32) * np.float32(1 / 255) - mean) / std
    return np.ascontiguousarray(data.transpose(0, 3, 1, 2))
