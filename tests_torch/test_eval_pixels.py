"""Both engines' ImageNet evaluation preprocessing gives the same arrays, bit for bit, for the same image files.

The MXNet side runs in its own environment (tests/mxnet_eval_pixels.py, a subprocess of $AFF_MXNET_PYTHON or
.venv/bin/python): OpenCV decoding and the folder pipeline. This side: Pillow decoding and ``imagenet_batches``.
"""
import os
import subprocess

import numpy as np
import pytest

from afflib_torch.data import imagenet_batches, imagenet_folder
from test_batch_one import ROOT, mxnet_python


def pattern(height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([(x * 7 + y * 3) % 256, (x * x + 3 * y * y) // 17 % 256, ((x // 6 + y // 6) % 2) * 200],
                    axis=-1).astype(np.uint8)


def write_images(root):
    """Shrunk, enlarged and whole-block images; PNG, JPEG (4:2:0 and 4:4:4), greyscale, EXIF-rotated."""
    Image = pytest.importorskip("PIL.Image")
    noise = np.random.RandomState(0)
    files = {
        "a/wide.jpg": (pattern(375, 500), dict(quality=90)),
        "a/tall.png": (pattern(500, 375), {}),
        "b/small.jpg": (pattern(60, 90), dict(quality=95, subsampling=0)),
        "b/double.png": (pattern(512, 768), {}),
        "c/grey.png": (pattern(300, 280)[:, :, 1], {}),
        "c/noisy.jpg": (noise.randint(0, 256, (333, 257, 3)).astype(np.uint8), dict(quality=75)),
    }
    for name, (pixels, options) in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(root / name, **options)
    rotated = Image.fromarray(pattern(240, 320))
    exif = rotated.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    rotated.save(root / "c" / "rotated.jpg", quality=90, exif=exif.tobytes())


SIZES = (224, 64)


@pytest.fixture(scope="module")
def mxnet_batches(tmp_path_factory):
    """The image folder and the MXNet engine's batch of it at every size in SIZES."""
    python = mxnet_python()
    root = tmp_path_factory.mktemp("eval_pixels")
    write_images(root / "val")
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.run([python, str(ROOT / "tests" / "mxnet_eval_pixels.py"), str(root / "val"), str(root),
                           *map(str, SIZES)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root


@pytest.mark.parametrize("input_size", SIZES)
def test_both_engines_preprocess_identically(mxnet_batches, input_size):
    expected = np.load(mxnet_batches / f"{input_size}.npz")
    items, classes = imagenet_folder(str(mxnet_batches))
    assert classes == ["a", "b", "c"] and len(items) == 7
    images, labels = next(imagenet_batches(items, len(items), input_size=input_size, workers=1))
    assert labels.tolist() == expected["labels"].astype(int).tolist()
    np.testing.assert_array_equal(images.numpy(), expected["data"])
