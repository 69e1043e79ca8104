"""The evaluation result both engines return, counted by the core's top-k meter."""
import math

import numpy as np

from afflib.core.metrics import EvalResult, TopKErrors


def test_meter_result_counts_top1_and_top5():
    meter = TopKErrors((1, 5))
    logits = np.tile(np.arange(8, dtype=np.float32), (4, 1))  # class 7 first, then 6, 5, 4, 3
    meter.update(logits[:2], np.array([7, 3]))                 # hit; top-5 hit only
    meter.update(logits[2:], np.array([0, 2]))                 # miss; miss
    result = meter.result(2.0)
    assert result == EvalResult(0.75, 0.5, 4, 2.0)
    assert result.images_per_s == result.images_per_sec == 2.0


def test_empty_result_is_nan():
    result = TopKErrors((1, 5)).result(0.0)
    assert result.samples == 0 and math.isnan(result.top1_error) and math.isnan(result.images_per_s)
