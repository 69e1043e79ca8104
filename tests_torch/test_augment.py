"""The release's ImageNet training augmentation in the PyTorch engine (afflib_torch.augment): the crop, flip,
jitter and lighting statistics, the colour steps against a per-image reference of the MXNet engine's formulas."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from afflib_torch.augment import (EIGVAL, EIGVEC, LUMA, PARAMS, TrainAugment, colour_lighting, normalise,
                                  random_resized_crop_box, sample_rng)


def test_crop_boxes_cover_the_scale_and_ratio_ranges():
    rng = np.random.default_rng(0)
    areas, ratios = [], []
    for _ in range(3000):
        top, left, h, w = random_resized_crop_box(360, 360, rng)
        assert 0 <= top <= 360 - h and 0 <= left <= 360 - w
        areas.append(h * w / (360 * 360))
        ratios.append(w / h)
    areas, ratios = np.array(areas), np.array(ratios)
    assert areas.min() > 0.07 and areas.max() <= 1.0
    assert 0.38 < areas.mean() < 0.52  # uniform in [0.08, 1] (mean 0.54), large boxes that do not fit redrawn
    assert ratios.min() > 0.7 and ratios.max() < 1.4
    assert abs(np.log(ratios).mean()) < 0.02  # log-uniform around 1 (a square image fits both ways alike)


def test_crop_falls_back_to_the_centre_square():
    rng = np.random.default_rng(1)
    boxes = {random_resized_crop_box(10, 1000, rng, scale=(0.9, 1.0)) for _ in range(20)}
    assert boxes == {(0, 495, 10, 10)}


def test_same_rng_same_result_and_flip_rate():
    augment = TrainAugment(32)
    image = np.random.default_rng(2).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    a = augment(image, sample_rng(5, 1, 7))
    b = augment(image, sample_rng(5, 1, 7))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], augment(image, sample_rng(5, 2, 7))[0])
    ramp = np.tile(np.arange(64, dtype=np.uint8)[None, :, None], (64, 1, 3))  # increasing left to right
    augment = TrainAugment(16, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    flips = [augment(ramp, sample_rng(0, 0, i))[0] for i in range(400)]
    rate = np.mean([crop[0, 0, 0] > crop[0, -1, 0] for crop in flips])
    assert 0.42 < rate < 0.58


def test_colour_parameters_statistics():
    augment = TrainAugment(8)
    params = np.stack([augment.colour_params(sample_rng(0, 0, i)) for i in range(4000)])
    assert params.shape[1] == PARAMS
    assert all(sorted(row) == [0, 1, 2] for row in params[:, :3].tolist())
    factors = params[:, 3:6]
    assert factors.min() >= 0.6 and factors.max() <= 1.4 and abs(factors.mean() - 1) < 0.01
    expected_std = np.sqrt((EIGVEC ** 2) @ ((0.1 * EIGVAL) ** 2))  # offset = EIGVEC @ (N(0, 0.1) * EIGVAL)
    np.testing.assert_allclose(params[:, 6:].std(axis=0), expected_std, rtol=0.08)
    off = TrainAugment(8, jitter=0.0, lighting=0.0).colour_params(sample_rng(0, 0, 0))
    np.testing.assert_array_equal(off[3:], [1, 1, 1, 0, 0, 0])


def _reference(image: np.ndarray, params: np.ndarray) -> np.ndarray:
    """One HWC image as the MXNet engine's ImageNetTrainTransform computes the colour steps (float64 here)."""
    x = image.astype(np.float64)
    luma = np.array(LUMA)
    for op, factor in zip(params[:3].astype(int), params[3:6]):
        if op == 0:
            x = x * factor
        elif op == 1:
            x = x * factor + (x @ luma).mean() * (1 - factor)
        else:
            x = x * factor + (x @ luma)[:, :, None] * (1 - factor)
    return np.clip(x + params[6:9], 0, 255)


def test_colour_steps_match_the_per_image_reference():
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (6, 20, 24, 3), dtype=np.uint8)
    augment = TrainAugment(20)
    params = np.stack([augment.colour_params(sample_rng(1, 0, i)) for i in range(6)])
    out = colour_lighting(torch.from_numpy(images).permute(0, 3, 1, 2), torch.from_numpy(params))
    assert out.dtype == torch.float32 and out.shape == (6, 3, 20, 24)
    for i in range(6):
        np.testing.assert_allclose(out[i].permute(1, 2, 0).numpy(), _reference(images[i], params[i]), atol=2e-3)
    identity = TrainAugment(20, jitter=0, lighting=0).colour_params(sample_rng(0, 0, 0))
    same = colour_lighting(torch.from_numpy(images).permute(0, 3, 1, 2), torch.from_numpy(np.tile(identity, (6, 1))))
    assert torch.equal(same, torch.from_numpy(images).permute(0, 3, 1, 2).float())


def test_normalise_uses_imagenet_mean_and_std():
    from afflib.core.datasets import DATASETS
    from afflib.core.preprocess import normalize_nhwc
    images = np.random.default_rng(4).integers(0, 256, (2, 5, 6, 3), dtype=np.uint8)
    facts = DATASETS["imagenet"]
    expected = normalize_nhwc(images, facts.mean, facts.std)
    torch.testing.assert_close(normalise(torch.from_numpy(images).permute(0, 3, 1, 2)), torch.from_numpy(expected),
                               atol=1e-6, rtol=0)


def test_auto_augment_runs_through_the_core():
    image = np.random.default_rng(5).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    plain, auto = TrainAugment(32), TrainAugment(32, auto_augment=True)
    changed = 0
    for i in range(20):
        a, b = plain(image, sample_rng(0, 0, i))[0], auto(image, sample_rng(0, 0, i))[0]
        assert b.shape == (32, 32, 3) and b.dtype == np.uint8
        np.testing.assert_array_equal(b, auto(image, sample_rng(0, 0, i))[0])
        changed += not np.array_equal(a, b)
    assert changed >= 10


@pytest.mark.parametrize("kwargs, message", [({"jitter": 1.0}, "jitter must be in"), ({"lighting": -1}, "lighting"),
                                             ({"scale": (0.5, 0.1)}, "scale must")])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainAugment(32, **kwargs)


def test_crop_resize_keeps_a_uniform_image_uniform():
    image = np.full((37, 53, 3), 77, np.uint8)
    crop, _ = TrainAugment(24)(image, sample_rng(0, 0, 0))
    assert crop.shape == (24, 24, 3) and (crop == 77).all()
    assert math.isclose(float(crop.mean()), 77.0)


def test_pillow_images_crop_like_arrays():
    from PIL import Image
    from afflib_torch.augment import OPENCV, resize_crop
    if OPENCV is not None:
        pytest.skip("arrays go through OpenCV here; the two paths are equal only without it")
    image = np.random.default_rng(6).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    for box in [(3, 5, 30, 40), (0, 0, 50, 70), (10, 20, 12, 9)]:
        np.testing.assert_array_equal(resize_crop(image, box, 24), resize_crop(Image.fromarray(image), box, 24))
    augment = TrainAugment(24)
    np.testing.assert_array_equal(augment(image, sample_rng(0, 0, 3))[0],
                                  augment(Image.fromarray(image), sample_rng(0, 0, 3))[0])
