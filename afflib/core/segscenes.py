"""``fashion-mnist-scenes``: a segmentation dataset made of real Fashion-MNIST garments pasted on larger canvases
at random scales and positions, with per-pixel masks, deterministic from a seed (framework-free: NumPy only).

Why: the paper's long-skip scenario (FPN on COCO StopSign) needs a task where object scale varies a lot; StopSign
cannot be obtained here, real garments at 0.25x-2x on a 64x64 canvas can. Both engines read it through
:func:`load_scenes`.

How a scene is drawn (scene ``i`` is a pure function of ``(seed, i, the source arrays, spec)``, from
``numpy.random.default_rng([seed, i])``; the layout is drawn first, see :func:`scene_layout`):

- the number of garments, uniform in ``min_objects..max_objects``; the first is source image ``i % N`` (so a split's
  every garment appears), the others uniform over the same split;
- each garment's scale is log-uniform in ``[min_scale, max_scale]`` (each octave equally likely), its side
  ``round(28 * scale)`` px, resized by :func:`resize_bilinear`; its top-left corner is uniform over the positions
  where it lies wholly on the canvas;
- the background is smooth noise (a 5x5 grid of uniform ``0..background`` values, bilinearly enlarged to the
  canvas); a garment pixel replaces it where the resized garment's intensity exceeds ``threshold``, and the mask
  there gets the garment's class; later garments occlude earlier ones (image and mask);
- last, grain (uniform integers in ``-grain..grain``) is added to every pixel and the result clipped to 0..255.

With the defaults (threshold 32, background up to 48, grain 8) a quarter of the background is brighter than the
threshold and 8 % of the garment pixels are darker than the brightest background; the best single intensity
threshold still mislabels ~1.2 % of the pixels as garment/background, and says nothing about which garment: the
classes take shape. 15 % of the pixels are garment; predicting background everywhere scores mIoU 0.077 on the
test scenes (pixel accuracy 0.846), 0.489-0.496 on the binary tasks.

Time (rough, a 2-core machine with the other core busy): the 60,000 training scenes take ~20 s of CPU to generate
and ~15 s to compress into the cache (201 MB, ~40 % of the raw size); a later use loads the file in 4-8 s.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
import zipfile
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import List, NamedTuple, Optional, Tuple

import numpy as np

from .datafiles import read_idx
from .datasets import FASHION_MNIST_CLASSES
from .fileio import atomic_write
from .progress import progress_bar

__all__ = ["SceneSpec", "Placement", "resize_bilinear", "scene_layout", "generate_scenes", "load_scenes",
           "scenes_cache_dir", "scenes_cache_path", "read_fashion_mnist", "DEFAULT_DATA_DIR", "DATA_HOME_ENV",
           "SPLIT_SIZES", "FORMAT_VERSION"]

GARMENT = 28  # side of a Fashion-MNIST image
DEFAULT_DATA_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian package dataset-fashion-mnist
DATA_HOME_ENV = "AFFLIB_DATA_HOME"  # cache root: $AFFLIB_DATA_HOME/fashion-mnist-scenes (default ~/.afflib/datasets)
SPLIT_SIZES = {"train": 60000, "test": 10000}
_SPLIT_FILES = {"train": "train", "test": "t10k"}
FORMAT_VERSION = 2  # bump when the drawing changes (old cache files then no longer match by name); 2: one layout draw
_GRID = 5  # background noise: a _GRID x _GRID grid enlarged to the canvas
_CHUNK = 64  # scenes drawn, then finished together (the backgrounds enlarged in one call)


@dataclass(frozen=True)
class SceneSpec:
    """What a scene looks like: canvas side, garment scale range (of the 28 px garment), garments per scene,
    foreground threshold (0-255), background noise amplitude and grain, and the task.

    ``binary_class``: ``None`` for 11 classes (0 background, 1..10 = Fashion-MNIST class + 1); ``k`` in 0..9 for
    the StopSign-like binary task (pixels of garments of class ``k`` are 1, everything else, other garments
    included, 0). The images do not depend on it.
    """

    canvas: int = 64
    min_scale: float = 0.25
    max_scale: float = 2.0
    min_objects: int = 1
    max_objects: int = 3
    threshold: int = 32
    background: int = 48
    grain: int = 8
    binary_class: Optional[int] = None

    def __post_init__(self) -> None:
        if not 8 <= self.canvas <= 4096:
            raise ValueError(f"canvas must be 8..4096 px, got {self.canvas}")
        if not 0 < self.min_scale <= self.max_scale:
            raise ValueError(f"scales must satisfy 0 < min_scale <= max_scale, got {self.min_scale}, "
                             f"{self.max_scale}")
        if round(GARMENT * self.max_scale) > self.canvas:
            raise ValueError(f"max_scale {self.max_scale} makes a {round(GARMENT * self.max_scale)} px garment, "
                             f"larger than the {self.canvas} px canvas; expected max_scale <= "
                             f"{self.canvas / GARMENT:.3g}")
        if not 1 <= self.min_objects <= self.max_objects:
            raise ValueError(f"objects must satisfy 1 <= min_objects <= max_objects, got {self.min_objects}, "
                             f"{self.max_objects}")
        if not 0 <= self.threshold < 255:
            raise ValueError(f"threshold must be 0..254 (garment pixels are those above it), got {self.threshold}")
        if not 0 <= self.background <= 255 or not 0 <= self.grain <= 255:
            raise ValueError(f"background and grain must be 0..255, got {self.background}, {self.grain}")
        if self.binary_class is not None and self.binary_class not in range(len(FASHION_MNIST_CLASSES)):
            raise ValueError(f"binary_class must be None or a Fashion-MNIST class 0..9, got {self.binary_class!r}")

    @property
    def classes(self) -> int:
        """Classes of a mask pixel: 11 (background + 10 garments), or 2 for the binary task."""
        return len(FASHION_MNIST_CLASSES) + 1 if self.binary_class is None else 2

    @property
    def class_names(self) -> List[str]:
        """Mask class names in label order (``background`` first)."""
        if self.binary_class is None:
            return ["background"] + list(FASHION_MNIST_CLASSES)
        return ["background", FASHION_MNIST_CLASSES[self.binary_class]]


class Placement(NamedTuple):
    """One pasted garment: its index in the source split, side in px, top-left corner on the canvas."""

    source: int
    size: int
    top: int
    left: int


@lru_cache(maxsize=None)
def _bilinear_taps(size_in: int, size_out: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbour indices and weight of the upper one along one axis (half-pixel centres, edges clamped)."""
    centres = np.clip((np.arange(size_out) + 0.5) * (size_in / size_out) - 0.5, 0, size_in - 1)
    low = np.floor(centres).astype(np.intp)
    return low, np.minimum(low + 1, size_in - 1), (centres - low).astype(np.float32)


def resize_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """``image`` (..., H, W) resized to (..., height, width) by bilinear interpolation with half-pixel centres
    (OpenCV's ``INTER_LINEAR`` without its fixed-point rounding); float32, elementwise (the same bits anywhere)."""
    if image.ndim < 2 or height < 1 or width < 1:
        raise ValueError(f"resize_bilinear takes (..., H, W) images and sizes >= 1, got shape {image.shape} -> "
                         f"({height}, {width})")
    y0, y1, wy = _bilinear_taps(image.shape[-2], height)
    x0, x1, wx = _bilinear_taps(image.shape[-1], width)
    image = image.astype(np.float32, copy=False)
    rows = image[..., y0, :] * (1 - wy)[:, None] + image[..., y1, :] * wy[:, None]
    return rows[..., x0] * (1 - wx) + rows[..., x1] * wx


def _draw_layout(rng: np.random.Generator, spec: SceneSpec, index: int, sources: int) -> List[Placement]:
    # one draw of fixed length: the garment count, then (source, scale, top, left) uniforms per possible garment
    draws = rng.random(1 + 4 * spec.max_objects).tolist()
    count = spec.min_objects + int(draws[0] * (spec.max_objects - spec.min_objects + 1))
    low, high = math.log(spec.min_scale), math.log(spec.max_scale)
    layout = []
    for k in range(count):
        u_source, u_scale, u_top, u_left = draws[1 + 4 * k:5 + 4 * k]
        size = min(max(round(GARMENT * math.exp(low + u_scale * (high - low))), 1), spec.canvas)
        room = spec.canvas - size + 1
        source = index % sources if k == 0 else int(u_source * sources)
        layout.append(Placement(source, size, int(u_top * room), int(u_left * room)))
    return layout


def scene_layout(spec: SceneSpec, seed: int, index: int, sources: int) -> List[Placement]:
    """The garments of scene ``index`` in paste order (later ones on top), for a split of ``sources`` images."""
    return _draw_layout(np.random.default_rng([seed, index]), spec, index, sources)


def _check_sources(images: np.ndarray, labels: np.ndarray) -> None:
    if images.ndim != 3 or images.shape[1:] != (GARMENT, GARMENT) or images.dtype != np.uint8 or not len(images):
        raise ValueError(f"images must be uint8 (N, 28, 28) with N >= 1, got {images.dtype} {images.shape}")
    if labels.shape != (len(images),):
        raise ValueError(f"labels must have shape ({len(images)},) like images, got {labels.shape}")
    if labels.min() < 0 or labels.max() >= len(FASHION_MNIST_CLASSES):
        raise ValueError(f"labels must be Fashion-MNIST classes 0..9, got {labels.min()}..{labels.max()}")


def generate_scenes(images: np.ndarray, labels: np.ndarray, count: int, spec: SceneSpec = SceneSpec(),
                    seed: int = 0, progress: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """Scenes uint8 (count, canvas, canvas) and masks uint8 (same shape) from garments ``images`` uint8
    (N, 28, 28) with ``labels`` (N,); scene ``i`` depends only on ``(seed, i, images, labels, spec)``."""
    images, labels = np.asarray(images), np.asarray(labels)
    _check_sources(images, labels)
    if count < 1 or seed < 0:
        raise ValueError(f"count must be >= 1 and seed >= 0, got count={count}, seed={seed}")
    side = spec.canvas
    scenes = np.empty((count, side, side), np.uint8)
    masks = np.zeros((count, side, side), np.uint8)
    class_ids = labels.astype(np.uint8) + 1
    with progress_bar(count, "generating scenes", progress) as bar:
        for start in range(0, count, _CHUNK):  # per chunk: draw each scene, enlarge the backgrounds at once, paste
            stop = min(start + _CHUNK, count)
            layouts, grids = [], np.empty((stop - start, _GRID, _GRID))
            grains = np.empty((stop - start, side, side), np.int16)
            for i in range(start, stop):
                rng = np.random.default_rng([seed, i])
                layouts.append(_draw_layout(rng, spec, i, len(images)))
                grids[i - start] = rng.uniform(0, spec.background, (_GRID, _GRID))
                grains[i - start] = rng.integers(-spec.grain, spec.grain + 1, (side, side))
            canvases = resize_bilinear(grids, side, side)
            for i, canvas, layout in zip(range(start, stop), canvases, layouts):
                for source, size, top, left in layout:
                    garment = resize_bilinear(images[source], size, size)
                    inside = garment > spec.threshold
                    np.copyto(canvas[top:top + size, left:left + size], garment, where=inside)
                    np.copyto(masks[i, top:top + size, left:left + size], class_ids[source], where=inside)
            canvases += grains
            scenes[start:stop] = np.clip(np.rint(canvases), 0, 255)
            bar.update(stop - start)
    if spec.binary_class is not None:
        masks = (masks == spec.binary_class + 1).astype(np.uint8)
    return scenes, masks


def read_fashion_mnist(split: str, data_dir: Optional[os.PathLike] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Images uint8 (N, 28, 28) and labels (N,) of the IDX ``train`` or ``test`` (t10k) split, plain or .gz, from
    ``data_dir`` (default :data:`DEFAULT_DATA_DIR`)."""
    _check_split(split)
    folder = Path(data_dir).expanduser() if data_dir is not None else DEFAULT_DATA_DIR
    found = []
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        name = f"{_SPLIT_FILES[split]}-{kind}"
        paths = [p for p in (folder / name, folder / (name + ".gz")) if p.is_file()]
        if not paths:
            raise FileNotFoundError(
                f"Fashion-MNIST {split} split not found: {folder} has no {name} (plain or .gz). Install the Debian "
                "package dataset-fashion-mnist (as root: apt-get install -y dataset-fashion-mnist; it fills "
                f"{DEFAULT_DATA_DIR}) or pass data_dir= the folder holding the four IDX files.")
        found.append(paths[0])
    images, labels = read_idx(found[0], 3), read_idx(found[1], 1)
    if images.shape[1:] != (GARMENT, GARMENT) or len(images) != len(labels):
        raise ValueError(f"{found[0]} / {found[1]}: images {images.shape} and labels {labels.shape} do not form a "
                         "Fashion-MNIST split (N x 28 x 28 images, N labels)")
    return images, labels


def _check_split(split: str) -> None:
    if split not in SPLIT_SIZES:
        raise ValueError(f"split must be one of {sorted(SPLIT_SIZES)}, got {split!r}")


def scenes_cache_dir(cache_dir: Optional[os.PathLike] = None) -> Path:
    """``cache_dir``, else ``$AFFLIB_DATA_HOME/fashion-mnist-scenes``, else
    ``~/.afflib/datasets/fashion-mnist-scenes``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    root = os.environ.get(DATA_HOME_ENV) or "~/.afflib/datasets"
    return Path(root).expanduser() / "fashion-mnist-scenes"


def _cache_key(split: str, spec: SceneSpec, seed: int, count: int) -> str:
    # the images and the 11-class masks do not depend on binary_class: one file serves every task
    fields = asdict(replace(spec, binary_class=None))
    return json.dumps({"format": FORMAT_VERSION, "split": split, "seed": seed, "count": count, "spec": fields},
                      sort_keys=True)


def scenes_cache_path(split: str, spec: SceneSpec = SceneSpec(), seed: int = 0, count: Optional[int] = None,
                      cache_dir: Optional[os.PathLike] = None) -> Path:
    """The cache file of a split: ``<split>-<count>-seed<seed>-<sha1 of the key, 10 hex>.npz`` in
    :func:`scenes_cache_dir` (key: format version, split, seed, count, spec less ``binary_class``)."""
    _check_split(split)
    count = SPLIT_SIZES[split] if count is None else count
    digest = hashlib.sha1(_cache_key(split, spec, seed, count).encode()).hexdigest()[:10]
    return scenes_cache_dir(cache_dir) / f"{split}-{count}-seed{seed}-{digest}.npz"


def _read_cache(path: Path, key: str, shape: Tuple[int, int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """The cached arrays, or ValueError saying why the file cannot be used."""
    try:
        with np.load(path, allow_pickle=False) as content:
            stored_key, scenes, masks = str(content["key"]), content["scenes"], content["masks"]
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"unreadable ({type(error).__name__}: {error})") from error
    if stored_key != key:
        raise ValueError(f"made for another setting ({stored_key})")
    for name, array in (("scenes", scenes), ("masks", masks)):
        if array.shape != shape or array.dtype != np.uint8:
            raise ValueError(f"{name} are {array.dtype} {array.shape}, expected uint8 {shape}")
    if masks.max(initial=0) > len(FASHION_MNIST_CLASSES):
        raise ValueError(f"mask value {masks.max()} out of range 0..{len(FASHION_MNIST_CLASSES)}")
    return scenes, masks


def _write_cache(path: Path, key: str, scenes: np.ndarray, masks: np.ndarray) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez would append .npz to a path
            np.savez_compressed(f, key=np.array(key), scenes=scenes, masks=masks)
    atomic_write(path, write)


def load_scenes(split: str, spec: SceneSpec = SceneSpec(), seed: int = 0, count: Optional[int] = None,
                data_dir: Optional[os.PathLike] = None, cache_dir: Optional[os.PathLike] = None,
                progress: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """Scenes and masks uint8 (count, canvas, canvas) of the ``train`` scenes (garments of the IDX train split)
    or ``test`` scenes (t10k); ``count`` defaults to the split's size (60,000 / 10,000).

    Generated on first use (a progress bar on stderr when ``progress``) and cached as :func:`scenes_cache_path`,
    written atomically; a later call reads the file without touching the IDX files. A cache file that is
    unreadable or does not match is regenerated, with a warning naming it.
    """
    _check_split(split)
    count = SPLIT_SIZES[split] if count is None else count
    if count < 1 or seed < 0:
        raise ValueError(f"count must be >= 1 and seed >= 0, got count={count}, seed={seed}")
    path = scenes_cache_path(split, spec, seed, count, cache_dir)
    key = _cache_key(split, spec, seed, count)
    shape = (count, spec.canvas, spec.canvas)
    scenes = masks = None
    if path.is_file():
        try:
            scenes, masks = _read_cache(path, key, shape)
        except ValueError as error:
            warnings.warn(f"scene cache {path} is not usable: {error}; generating it again", stacklevel=2)
    if scenes is None:
        images, labels = read_fashion_mnist(split, data_dir)
        scenes, masks = generate_scenes(images, labels, count, replace(spec, binary_class=None), seed, progress)
        _write_cache(path, key, scenes, masks)
    if spec.binary_class is not None:
        masks = (masks == spec.binary_class + 1).astype(np.uint8)
    return scenes, masks
