"""Segmentation metrics: IoU, mIoU and pixel accuracy on hand-made masks (numbers worked out by hand), against a
direct per-class computation, the all-background baseline, batching, and errors on bad input."""
import math

import numpy as np
import pytest

from afflib.core.segmetrics import ConfusionMatrix, background_baseline, segmentation_result

TARGET = np.array([[0, 0, 1], [1, 2, 2]])
PRED = np.array([[0, 1, 1], [1, 2, 0]])


def test_hand_made_masks():
    # class 0: 1 hit, 2 in target, 2 predicted -> 1/3; class 1: 2 hits, 2 + 3 - 2 -> 2/3; class 2: 1 hit,
    # 2 + 1 - 1 -> 1/2; mIoU (1/3 + 2/3 + 1/2) / 3 = 0.5; 4 of 6 pixels right
    cm = ConfusionMatrix(3).update(PRED, TARGET)
    np.testing.assert_array_equal(cm.matrix, [[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    np.testing.assert_allclose(cm.iou(), [1 / 3, 2 / 3, 1 / 2])
    assert cm.miou() == pytest.approx(0.5)
    assert cm.pixel_accuracy() == pytest.approx(4 / 6)
    # a class in neither prediction nor target: IoU NaN, left out of the mean
    four = ConfusionMatrix(4).update(PRED, TARGET)
    assert math.isnan(four.iou()[3]) and four.miou() == pytest.approx(0.5)
    # a class only predicted counts with IoU 0
    assert ConfusionMatrix(4).update(np.where(PRED == 2, 3, PRED), TARGET).miou() == pytest.approx(
        (1 / 3 + 2 / 3 + 0 + 0) / 4)
    result = segmentation_result(PRED, TARGET, 4)
    assert result["miou"] == pytest.approx(0.5) and result["pixel_accuracy"] == pytest.approx(4 / 6)
    assert result["iou"][:3] == pytest.approx([1 / 3, 2 / 3, 1 / 2]) and math.isnan(result["iou"][3])


def test_equals_a_direct_computation_and_batches_add_up():
    rng = np.random.default_rng(0)
    target = rng.integers(0, 5, (4, 16, 16)).astype(np.uint8)
    pred = np.where(rng.random(target.shape) < 0.6, target, rng.integers(0, 5, target.shape)).astype(np.int64)
    pred[pred == 4] = 3  # class 4 only in the target
    direct = [np.sum((pred == c) & (target == c)) / np.sum((pred == c) | (target == c)) for c in range(6)
              if np.any((pred == c) | (target == c))]
    cm = ConfusionMatrix(6)
    for p, t in zip(pred, target):  # batch by batch
        cm.update(p, t)
    np.testing.assert_allclose(cm.iou()[:5], direct)
    assert math.isnan(cm.iou()[5]) and cm.iou()[4] == 0
    assert cm.miou() == pytest.approx(np.mean(direct))
    assert cm.pixel_accuracy() == pytest.approx(np.mean(pred == target))
    whole = ConfusionMatrix(6).update(pred, target)
    np.testing.assert_array_equal(whole.matrix, cm.matrix)
    halves = ConfusionMatrix(6).update(pred[:2], target[:2]) + ConfusionMatrix(6).update(pred[2:], target[2:])
    np.testing.assert_array_equal(halves.matrix, whole.matrix)
    assert halves.pixels == target.size
    cm.reset()
    assert cm.pixels == 0


def test_background_baseline():
    # all background predicted: class 0 IoU 2 / 6, classes 1 and 2 IoU 0 -> mIoU 1/9; 2 of 6 pixels right
    base = background_baseline(TARGET, 3)
    assert base["miou"] == pytest.approx(1 / 9) and base["pixel_accuracy"] == pytest.approx(2 / 6)
    # the mean runs over the classes present: 11 classes of which only 0 and 1 occur
    masks = np.zeros((2, 4, 4), np.uint8)
    masks[0, :2, :2] = 1  # 4 of 32 pixels
    base = background_baseline(masks, 11)
    assert base["miou"] == pytest.approx((28 / 32 + 0) / 2) and base["pixel_accuracy"] == pytest.approx(28 / 32)
    assert background_baseline(np.zeros((3, 3), np.uint8), 2) == {"miou": 1.0, "pixel_accuracy": 1.0}


def test_bad_input_is_refused_with_the_argument_named():
    cm = ConfusionMatrix(3)
    with pytest.raises(ValueError, match=r"same shape, got \(2, 3\) and \(3, 2\)"):
        cm.update(PRED, TARGET.T)
    with pytest.raises(ValueError, match="pred must hold integer class labels.*float64"):
        cm.update(PRED.astype(float), TARGET)
    with pytest.raises(ValueError, match=r"target labels must be in 0..2, got 1..3"):
        cm.update(PRED, TARGET + 1)
    with pytest.raises(ValueError, match=r"pred labels must be in 0..2, got -1..1"):
        cm.update(PRED - 1, TARGET)
    with pytest.raises(ValueError, match="no pixels counted yet"):
        cm.miou()
    with pytest.raises(ValueError, match="classes must be an integer >= 2"):
        ConfusionMatrix(1)
    with pytest.raises(ValueError, match="merge a ConfusionMatrix of 3 classes"):
        cm.merge(ConfusionMatrix(4))
    assert cm.pixels == 0  # nothing was counted by the refused updates


def test_negative_targets_are_ignored_pixels():
    # GluonCV's ignore label: -1 pixels count nowhere, whatever is predicted there
    pred = np.array([[0, 1, 1], [2, 2, 0]])
    target = np.array([[0, 1, -1], [2, -1, -1]])
    cm = ConfusionMatrix(3).update(pred, target)
    assert cm.pixels == 3 and cm.miou() == 1.0 and cm.pixel_accuracy() == 1.0
    expected = ConfusionMatrix(3).update(np.array([0, 1, 2]), np.array([0, 1, 2]))
    np.testing.assert_array_equal(cm.matrix, expected.matrix)
    # a wrong prediction on a valid pixel still counts: IoU(0) = 1/2, IoU(1) = 0/1, IoU(2) = 1/1
    cm = ConfusionMatrix(3).update(np.array([0, 0, 2, 1]), np.array([0, 1, 2, -1]))
    assert cm.pixels == 3 and cm.miou() == pytest.approx((0.5 + 0.0 + 1.0) / 3)
    # the all-background baseline ignores them too: 2 background of 3 valid pixels, classes 0 and 1 present
    baseline = background_baseline(np.array([[0, 0, 1, -1, -1]]), 3)
    assert baseline["pixel_accuracy"] == pytest.approx(2 / 3) and baseline["miou"] == pytest.approx((2 / 3 + 0) / 2)
    with pytest.raises(ValueError, match=r"target labels must be in 0..2, got -1..3"):
        ConfusionMatrix(3).update(np.array([0, 0]), np.array([-1, 3]))
