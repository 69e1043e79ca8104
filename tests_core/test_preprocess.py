"""The evaluation preprocessing both engines share: box arithmetic, OpenCV-exact resizing, normalisation.

Against ``cv2.resize`` where OpenCV is installed (the MXNet environment); against digests of OpenCV's output
recorded here everywhere else (the PyTorch environment has no OpenCV).
"""
import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from afflib.core import preprocess as P

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")


def pattern(height: int, width: int, channels: int = 3) -> np.ndarray:
    """A deterministic textured image (edges, gradients, fine detail) without any random generator."""
    y, x = np.mgrid[0:height, 0:width]
    planes = [(x * 7 + y * 3) % 256, (x * x + 3 * y * y) // 17 % 256, ((x // 6 + y // 6) % 2) * 200]
    return np.stack(planes[:channels], axis=-1).astype(np.uint8)


def fashion_mosaic() -> np.ndarray:
    """A 3 x 4 mosaic of the first Fashion-MNIST test images as an RGB photo (84 x 112), or a skip."""
    if not FASHION_MNIST.is_file():
        pytest.skip(f"Fashion-MNIST absent ({FASHION_MNIST})")
    raw = gzip.decompress(FASHION_MNIST.read_bytes())
    images = np.frombuffer(raw, np.uint8, 12 * 784, 16).reshape(3, 4, 28, 28)
    grey = images.transpose(0, 2, 1, 3).reshape(84, 112)
    return np.stack([grey, 255 - grey, grey // 2 + 64], axis=-1)


def test_eval_sizes_and_centre_box():
    assert P.eval_resize(224, 0.875) == 256 and P.eval_resize(64, 0.875) == 74
    with pytest.raises(ValueError, match="crop_ratio"):
        P.eval_resize(224, 1.5)
    assert P.eval_size(300, 400, 224, 0.875) == (256, 341)
    assert P.eval_size(500, 375, 224, 0.875) == (341, 256)
    assert P.eval_size(100, 100, 224, 0.875) == (256, 256)
    assert P.center_crop_box(256, 341, 224) == (16, 58)
    with pytest.raises(ValueError, match="cannot crop 224x224"):
        P.center_crop_box(200, 300, 224)


def test_record_pipeline_sizes_truncate():
    """The release's record iterator truncates the long side where the folder pipeline rounds (see
    tests/test_data_transforms.py for the comparison with ImageRecordIter itself)."""
    assert P.record_eval_size(375, 500, 224, 0.875) == (256, 341) and P.record_eval_size(300, 500, 224, 0.875) == (
        256, 426)
    assert P.eval_size(300, 500, 224, 0.875) == (256, 427)
    assert P.record_eval_size(500, 300, 224, 0.875) == (426, 256)
    photo = pattern(300, 500)
    assert P.record_eval_crop(photo).shape == (224, 224, 3)
    assert not np.array_equal(P.record_eval_crop(photo), P.eval_crop(photo))  # bilinear vs area averaging


def test_eval_crop_keeps_the_centre():
    image = np.zeros((100, 200, 3), np.uint8)
    image[:, 75:125] = 255  # a white band in the middle of the long side
    crop = P.eval_crop(image, 56, 0.875)  # shorter side -> 64, long side 128, crop columns 36..92
    assert crop.shape == (56, 56, 3) and crop.dtype == np.uint8
    assert crop[28, 28, 0] == 255 and crop[28, 0, 0] == 0 and crop[28, -1, 0] == 0
    assert P.eval_crop(image[:, :, 0], 56).shape == (56, 56, 1)


def test_resize_refuses_what_it_does_not_reproduce():
    with pytest.raises(ValueError, match="uint8"):
        P.resize(np.zeros((10, 10, 3), np.float32), 5, 5)
    with pytest.raises(ValueError, match="enlarges only"):
        P.resize(np.zeros((10, 10, 3), np.uint8), 20, 8)


# sha256 of eval_crop's output, recorded with cv2 4.11 (INTER_AREA / INTER_LINEAR) through the MXNet engine's
# ImageNetEvalTransform before it moved to the core: the PyTorch environment checks the same pixels without OpenCV.
DIGESTS = {
    (375, 500, 224): "c71675a1c471be61",
    (300, 300, 224): "0dc9214081e3ca83",
    (512, 768, 224): "adf99aebd09e0e11",
    (150, 90, 224): "db3fc50a028a4e3e",
    (90, 120, 56): "769180b86029eb5a",
}


@pytest.mark.parametrize("shape", sorted(DIGESTS))
def test_eval_crop_gives_the_recorded_pixels(shape):
    height, width, size = shape
    out = P.eval_crop(pattern(height, width), size, 0.875)
    assert hashlib.sha256(out.tobytes()).hexdigest()[:16] == DIGESTS[shape]


CASES = [  # (source height, width, destination height, width): shrink, whole-block shrink, enlarge
    (375, 500, 256, 341), (500, 375, 341, 256), (299, 301, 256, 258), (512, 768, 256, 384), (300, 600, 100, 200),
    (84, 112, 256, 341), (28, 28, 256, 256), (150, 90, 427, 256), (257, 256, 256, 255), (256, 256, 256, 256)]


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("case", CASES)
def test_resize_equals_opencv(case, channels):
    cv2 = pytest.importorskip("cv2")
    src_h, src_w, dst_h, dst_w = case
    image = pattern(src_h, src_w, channels)
    expected = cv2.resize(image, (dst_w, dst_h), interpolation=cv2.INTER_AREA if dst_w * dst_h < src_w * src_h
                          else cv2.INTER_LINEAR).reshape(dst_h, dst_w, channels)
    np.testing.assert_array_equal(P.resize_numpy(image, dst_w, dst_h), expected)
    np.testing.assert_array_equal(P.resize(image, dst_w, dst_h), expected)


def test_eval_crop_of_a_real_photo_equals_opencv(monkeypatch):
    """Fashion-MNIST items as a photo, enlarged (224 crop) and shrunk (32 crop): the NumPy path against OpenCV's
    resize + crop."""
    cv2 = pytest.importorskip("cv2")
    monkeypatch.setattr(P, "_opencv", lambda: None)
    photo = fashion_mosaic()
    for size, interpolation in ((224, cv2.INTER_LINEAR), (32, cv2.INTER_AREA)):
        height, width = P.eval_size(*photo.shape[:2], size, 0.875)
        top, left = P.center_crop_box(height, width, size)
        expected = cv2.resize(photo, (width, height), interpolation=interpolation)[top:top + size, left:left + size]
        np.testing.assert_array_equal(P.eval_crop(photo, size, 0.875), expected)


def test_random_images_equal_opencv():
    cv2 = pytest.importorskip("cv2")
    rng = np.random.RandomState(0)
    for _ in range(40):
        height, width = rng.randint(20, 600, 2)
        image = cv2.GaussianBlur(rng.randint(0, 256, (height, width, 3)).astype(np.uint8), (5, 5), 1.5)
        size = int(rng.choice([32, 96, 224]))
        out_h, out_w = P.eval_size(height, width, size, 0.875)
        interpolation = cv2.INTER_AREA if out_h * out_w < height * width else cv2.INTER_LINEAR
        np.testing.assert_array_equal(P.resize_numpy(image, out_w, out_h),
                                      cv2.resize(image, (out_w, out_h), interpolation=interpolation))


def test_normalize_nhwc():
    images = np.full((2, 4, 5, 3), 255, np.uint8)
    out = P.normalize_nhwc(images, (0.5, 0.25, 0.0), (0.5, 0.25, 1.0))
    assert out.shape == (2, 3, 4, 5) and out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_allclose(out[0, :, 0, 0], [1.0, 3.0, 1.0], rtol=1e-6)
    assert P.normalize_nhwc(np.zeros((1, 4, 4), np.uint8), (0.5,), (0.5,)).shape == (1, 1, 4, 4)
