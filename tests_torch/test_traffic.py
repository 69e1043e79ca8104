"""The byte count of AFF against its add twin (afflib_torch.traffic): the model's numbers and the network walk."""
import pytest

from afflib_torch.registry import get_model
from afflib_torch.traffic import blend_traffic, network_traffic, traffic_floor

SMALL = dict(layers=[1, 1, 1], channels=[16, 16, 32, 64], classes=10)


def test_per_element_counts():
    counts = blend_traffic(r=4)
    assert counts["add"]["total"] == 3                       # read x, y; write x + y; the gradient passes through
    kernel = counts["blend one-pass kernels"]
    assert (kernel["forward_read"], kernel["forward_write"]) == (3, 1)    # x, y, logits -> out
    assert (kernel["backward_read"], kernel["backward_write"]) == (4, 3)  # g, x, y, logits -> gx, gy, glogits
    assert kernel["total"] < counts["blend hand-written function (eager)"]["total"] < \
        counts["blend plain autograd (eager)"]["total"]
    assert counts["AFF module (one-pass blend)"]["total"] == pytest.approx(34.25)


def test_network_walk_finds_every_fusion_point_with_its_size():
    rest, fused = network_traffic(get_model("cifar_add_resnet20", **SMALL), (2, 3, 32, 32))
    assert [n for _, n in fused] == [2 * 16 * 32 * 32, 2 * 32 * 16 * 16, 2 * 64 * 8 * 8]
    assert rest > 3 * sum(n for _, n in fused)


def test_floor_of_the_small_cifar_net():
    floor = traffic_floor(input_shape=(2, 3, 32, 32), **SMALL)
    assert 1 < floor["floor_blend_only"] < floor["floor_aff_over_add"] < 2
