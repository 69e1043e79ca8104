import random

import mxnet as mx
import numpy as np
import pytest

from afflib.data.autoaugment import (CIFAR10_POLICY, IMAGENET_POLICY, OPERATIONS, POLICIES, AutoAugment,
                                     apply_operation)


class Positive(random.Random):
    """random() always 0.9: signed magnitudes come out positive."""

    def random(self):
        return 0.9


def make_image(size=32):
    """Gradients in R (along x) and G (along y), a constant blue, and a white square."""
    y, x = np.mgrid[0:size, 0:size]
    image = np.stack([x * 255 // (size - 1), y * 255 // (size - 1), np.full_like(x, 60)], axis=-1).astype(np.uint8)
    image[8:14, 18:24] = 255
    return image


IMAGE = make_image()


def test_policies_are_25_pairs_of_known_operations():
    for name, policy in POLICIES.items():
        assert len(policy) == 25, name
        for sub_policy in policy:
            assert len(sub_policy) == 2
            for op, probability, level in sub_policy:
                assert op in OPERATIONS and 0 <= probability <= 1 and 0 <= level <= 10
    assert IMAGENET_POLICY[0] == (("Posterize", 0.4, 8), ("Rotate", 0.6, 9))
    assert CIFAR10_POLICY[0] == (("Invert", 0.1, 7), ("Contrast", 0.2, 6))


@pytest.mark.parametrize("name", sorted(OPERATIONS))
@pytest.mark.parametrize("level", [0, 3, 10])
def test_every_operation_keeps_shape_and_dtype(name, level):
    for image in (IMAGE, IMAGE[:20]):  # square and non-square
        out = apply_operation(image, name, level, random.Random(1))
        assert out.shape == image.shape and out.dtype == np.uint8


@pytest.mark.parametrize("name,level", [("ShearX", 0), ("ShearY", 0), ("TranslateX", 0), ("TranslateY", 0),
                                        ("Rotate", 0), ("Solarize", 0), ("Posterize", 0), ("Contrast", 5),
                                        ("Color", 5), ("Brightness", 5), ("Sharpness", 5)])
def test_neutral_magnitudes_are_identity(name, level):
    np.testing.assert_array_equal(apply_operation(IMAGE, name, level, random.Random(0)), IMAGE)


def test_pixel_value_operations_give_known_results():
    x = IMAGE.astype(int)
    np.testing.assert_array_equal(apply_operation(IMAGE, "Invert", 0), 255 - x)
    np.testing.assert_array_equal(apply_operation(IMAGE, "Solarize", 5), np.where(x < 128, x, 255 - x))
    np.testing.assert_array_equal(apply_operation(IMAGE, "Posterize", 10), x & 0xF0)  # 4 bits kept
    np.testing.assert_array_equal(apply_operation(IMAGE, "Posterize", 5), x & 0xFC)  # 6 bits kept
    dark = apply_operation(IMAGE, "Brightness", 0)  # factor 0.1
    np.testing.assert_allclose(dark, x * 0.1, atol=1)
    grey = apply_operation(IMAGE, "Color", 0).astype(int)  # factor 0.1: nearly grey
    assert np.abs(grey[..., 0] - grey[..., 1]).max() < 0.15 * np.abs(x[..., 0] - x[..., 1]).max()
    narrow = (100 + IMAGE // 25).astype(np.uint8)  # values 100..110
    stretched = apply_operation(narrow, "AutoContrast", 0)
    assert stretched[..., :2].min() == 0 and stretched[..., :2].max() == 255
    equalized = apply_operation(narrow, "Equalize", 0)
    assert equalized[..., 0].max() - equalized[..., 0].min() > 200
    flat = apply_operation(IMAGE, "Contrast", 0)  # factor 0.1: pulled towards the mean grey
    assert flat.astype(int).std() < 0.2 * x.std()


def test_geometric_operations_move_pixels_where_expected():
    size = 32
    dot = np.zeros((size, size, 3), np.uint8)
    dot[8, 24] = 255  # row 8, column 24
    shift = round(10 / 32 * size)  # CIFAR translate at level 10: 10/32 of the side
    moved = apply_operation(dot, "TranslateX", 10, Positive(), translate=10 / 32)
    assert np.argwhere(moved[..., 0] == 255).tolist() == [[8, 24 - shift]]
    assert (moved[:, size - shift:] == 128).all(), "uncovered columns are filled with grey"
    low_dot = np.zeros_like(dot)
    low_dot[20, 8] = 255
    moved = apply_operation(low_dot, "TranslateY", 10, Positive(), translate=10 / 32)
    assert np.argwhere(moved[..., 0] == 255).tolist() == [[20 - shift, 8]]
    line = np.zeros((size, size, 3), np.uint8)
    line[:, 16] = 255
    sheared = apply_operation(line, "ShearX", 10, Positive())  # output(x, y) = input(x + 0.3 y, y)
    for row in (0, 10, 20, 30):
        assert abs(int(sheared[row, :, 0].argmax()) - (16 - 0.3 * row)) <= 1
    rotated = apply_operation(dot, "Rotate", 10, Positive())  # +30 degrees, counter-clockwise about the centre
    angle = np.deg2rad(30)
    cx = cy = size / 2
    dx, dy = 24.5 - cx, 8.5 - cy
    expected = (cy - dx * np.sin(angle) + dy * np.cos(angle), cx + dx * np.cos(angle) + dy * np.sin(angle))
    found = np.unravel_index(rotated[..., 0].argmax(), (size, size))
    assert abs(found[0] + 0.5 - expected[0]) <= 1.5 and abs(found[1] + 0.5 - expected[1]) <= 1.5
    rotated_square = apply_operation(IMAGE, "Rotate", 10, Positive())
    assert (rotated_square[0, 0] == 128).all(), "corners uncovered by the rotation are filled with grey"


def test_autoaugment_is_reproducible_and_keeps_the_container_type():
    images = [make_image() for _ in range(20)]
    augment = AutoAugment("imagenet", seed=3)
    first = [augment(im) for im in images]
    augment = AutoAugment("imagenet", seed=3)
    assert all(np.array_equal(a, augment(im)) for a, im in zip(first, images))
    assert any(not np.array_equal(a, im) for a, im in zip(first, images))
    nd = AutoAugment("cifar10", seed=1)(mx.nd.array(IMAGE, dtype=np.uint8))
    assert isinstance(nd, mx.nd.NDArray) and nd.shape == IMAGE.shape and nd.dtype == np.uint8
    gray = AutoAugment("cifar10", seed=1)(IMAGE[:, :, :1])
    assert gray.shape == (32, 32, 1)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="valid: \\['cifar10', 'imagenet'\\]"):
        AutoAugment("svhn")
    with pytest.raises(ValueError, match="HWC uint8"):
        AutoAugment()(IMAGE.astype(np.float32))
    with pytest.raises(ValueError, match="unknown AutoAugment operation"):
        apply_operation(IMAGE, "Cutout", 3)
