"""The framework-free scene batches both engines use (afflib.core.segbatches) and how the segmentation tools end
(afflib.core.segrun.report_end), on small hand-made splits."""
import numpy as np
import pytest

from afflib.core.datafiles import DataFormatError
from afflib.core.segbatches import SceneBatches
from afflib.core.segrun import report_end


def _split(count=10, size=6):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (count, size, size), dtype=np.uint8)
    return images, (images > 100).astype(np.uint8)


def test_training_epochs_are_shuffled_sharded_and_flip_image_and_mask_together():
    images, masks = _split()
    data = SceneBatches(images, masks, 2, True, seed=4, mean=(0.0,), std=(1 / 255,), shard=(2, 1))
    assert data.samples == 4 and len(data) == 2
    assert sorted(data.order(0)) != sorted(SceneBatches(images, masks, 2, True, 4, shard=(2, 0)).order(0))
    seen = 0
    for (pixels, labels, filler), chosen in zip(data.numpy_batches(3), np.split(data.order(3), 2)):
        assert filler == 0 and pixels.dtype == np.float32 and pixels.shape == (2, 1, 6, 6)
        for row, index in enumerate(chosen):
            flipped = data.flips(3, np.array([index]))[0]
            expect = images[index][:, ::-1] if flipped else images[index]
            np.testing.assert_allclose(pixels[row, 0], expect)
            np.testing.assert_array_equal(labels[row], (expect > 100).astype(np.uint8))
            seen += 1
    assert seen == 4
    assert [len(b[1]) for b in data.numpy_batches(3, start_batch=1)] == [2]


def test_validation_reads_in_order_with_optional_filler_rows():
    images, masks = _split(count=5)
    data = SceneBatches(images, masks, 2, False, mean=(0.5,), std=(0.25,))
    assert [len(b[1]) for b in data.numpy_batches(0)] == [2, 2, 1]
    padded = list(data.numpy_batches(0, pad=True))
    assert [(len(b[1]), b[2]) for b in padded] == [(2, 0), (2, 0), (2, 1)]
    np.testing.assert_array_equal(padded[2][1], masks[[4, 0]])
    np.testing.assert_allclose(padded[0][0][:, 0], (images[:2] / 255.0 - 0.5) / 0.25, rtol=1e-6)


def test_bad_splits_are_refused():
    images, masks = _split(count=3)
    with pytest.raises(DataFormatError, match="expected scenes"):
        SceneBatches(images, masks[:2], 2, True)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        SceneBatches(images, masks, 0, False)
    with pytest.raises(ValueError, match="3 training scenes .* per process, fewer than one batch of 4"):
        SceneBatches(images, masks, 4, True)


def test_report_end_draws_then_emits_the_closing_lines():
    masks = np.zeros((2, 4, 4), np.uint8)
    masks[:, :2] = 1
    emitted = []
    lines = report_end(0.75, 0.9, masks, 2, emitted.append, lambda: "x.png")
    assert emitted[0] == "prediction overlays: x.png" and emitted[1:] == lines
    assert lines == ["pixel accuracy: 0.9000 (all-background: 0.5000)", "mIoU: 0.7500", "baseline mIoU: 0.2500"]
    quiet = []
    assert report_end(0.5, 0.5, masks, 2, quiet.append)[1] == "mIoU: 0.5000"
    assert len(quiet) == 3 and not any(line.startswith("prediction overlays") for line in quiet)
