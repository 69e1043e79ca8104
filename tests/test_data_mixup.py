import random

import mxnet as mx
import numpy as np
import pytest

from afflib.data.mixup import mixup, sample_lambda, smooth_labels


def test_smooth_labels_values_and_row_sums():
    targets = smooth_labels(mx.nd.array([2, 0]), classes=4, eta=0.1).asnumpy()
    expected = np.full((2, 4), 0.025, dtype=np.float32)
    expected[0, 2] = expected[1, 0] = 0.9 + 0.025
    np.testing.assert_allclose(targets, expected, rtol=1e-6)
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, rtol=1e-6)


def test_smooth_labels_eta_zero_is_one_hot_and_bad_eta_is_refused():
    np.testing.assert_array_equal(smooth_labels(mx.nd.array([1]), 3, 0.0).asnumpy(), [[0, 1, 0]])
    with pytest.raises(ValueError, match="eta"):
        smooth_labels(mx.nd.array([1]), 3, 1.0)


def test_mixup_mixes_with_reversed_batch_and_reports_lambda():
    data = mx.nd.array(np.arange(3 * 2 * 2 * 2).reshape(3, 2, 2, 2))
    label = mx.nd.array([0, 1, 2])
    mixed, targets, lam = mixup(data, label, classes=5, alpha=0.2, eta=0.1, rng=random.Random(3))
    assert lam == pytest.approx(random.Random(3).betavariate(0.2, 0.2))
    x = data.asnumpy()
    np.testing.assert_allclose(mixed.asnumpy(), lam * x + (1 - lam) * x[::-1], rtol=1e-5, atol=1e-5)
    on, off = 0.9 + 0.02, 0.02
    expected = np.full((3, 5), off)
    for row, (a, b) in enumerate([(0, 2), (1, 1), (2, 0)]):
        expected[row, a] += lam * (on - off)
        expected[row, b] += (1 - lam) * (on - off)
    np.testing.assert_allclose(targets.asnumpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(targets.asnumpy().sum(axis=1), 1.0, rtol=1e-5)


def test_mixup_lambda_is_reproducible_with_numpy_generators():
    assert sample_lambda(1.0, np.random.default_rng(5)) == sample_lambda(1.0, np.random.default_rng(5))
    assert sample_lambda(1.0, np.random.RandomState(5)) == np.random.RandomState(5).beta(1.0, 1.0)
    with pytest.raises(ValueError, match="alpha"):
        sample_lambda(0.0, random.Random(0))
