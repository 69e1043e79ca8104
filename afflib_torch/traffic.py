"""How many bytes AFF moves against its plain-addition twin: a floor for the AFF/add time ratio.

Model: every operator reads each input once and writes each output once (no cache reuse between operators);
the backward of an operator reads the output gradient and what it saved, and writes the input gradients.
Counts are in *elements per element of the fused tensors* (N x C x H x W of x and y); multiply by the element
size (4 bytes float32, 2 bfloat16). Parameters are ignored (a small network's activations dwarf them).
The derivation is in docs/performance.md (section "Bytes: AFF against its add twin").
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Dict, List, Sequence, Tuple

import torch
from torch import nn

__all__ = ["blend_traffic", "network_traffic", "traffic_floor", "copy_bandwidth", "main"]

Counts = Dict[str, float]  # forward_read, forward_write, backward_read, backward_write


def _counts(rows: Sequence[Tuple[str, float, float, float, float]]) -> Counts:
    keys = ("forward_read", "forward_write", "backward_read", "backward_write")
    totals = {key: float(sum(row[i + 1] for row in rows)) for i, key in enumerate(keys)}
    totals["total"] = sum(totals.values())
    return totals


def blend_traffic(r: int = 4) -> Dict[str, Counts]:
    """Elements moved per fused element: the add twin, AFF's blend (one-pass kernels / eager hand-written
    function / plain autograd) and the whole AFF module around the one-pass blend (local context with
    ``C/r`` hidden channels, global context, ``x + y``, the blend)."""
    q = 1.0 / r
    add = [("x + y", 2, 1, 0, 0)]  # the backward hands the output gradient to both inputs unchanged
    blend_kernel = [("blend: read x, y, logits; write out", 3, 1, 0, 0),
                    ("blend grad: read g, x, y, logits; write gx, gy, glogits", 0, 0, 4, 3)]
    blend_function = [("sigmoid", 1, 1, 0, 0), ("lerp", 3, 1, 0, 0), ("* 2", 1, 1, 0, 0),
                      ("g * 2", 0, 0, 1, 1), ("gx = g2 * M", 0, 0, 2, 1), ("x - y", 0, 0, 2, 1),
                      ("(x - y) *= g2", 0, 0, 2, 1), ("gy = g2 - gx", 0, 0, 2, 1), ("sigmoid_backward", 0, 0, 2, 1)]
    blend_autograd = [("local + global", 1, 1, 1, 0), ("sigmoid", 1, 1, 0, 0), ("x - y", 2, 1, 0, 0),
                      ("M * (x - y)", 2, 1, 0, 0), ("y + ...", 2, 1, 0, 0), ("* 2", 1, 1, 0, 0),
                      ("grad of * 2", 0, 0, 1, 1), ("grad of M * d: two products", 0, 0, 4, 2),
                      ("grad of x - y (negate, accumulate)", 0, 0, 3, 2), ("gy accumulate", 0, 0, 2, 1),
                      ("sigmoid backward", 0, 0, 2, 1)]
    module = [("x + y", 2, 1, 0, 0), ("global mean of x + y", 1, 0, 0, 0),
              ("conv1 1x1 C -> C/r", 1, q, 0, 0), ("BN1 statistics + normalise + ReLU", 2 * q, q, 0, 0),
              ("BN2 statistics folded (covariance of the hidden)", q, 0, 0, 0),
              ("conv2 1x1 C/r -> C with BN2 and the global context folded in", q, 1, 0, 0),
              *blend_kernel,
              ("conv2 backward: input grad, weight grad, global-context grad", 0, 0, 3 + q, q),
              ("BN2 statistics backward", 0, 0, 2 * q, q), ("BN1 + ReLU backward", 0, 0, 3 * q, q),
              ("conv1 backward: input grad, weight grad", 0, 0, 2 * q + 1, 1),
              ("global mean backward (broadcast, accumulate)", 0, 0, 1, 1),
              ("x + y backward: accumulate into gx and gy", 0, 0, 4, 2)]
    return {"add": _counts(add), "blend one-pass kernels": _counts(blend_kernel),
            "blend hand-written function (eager)": _counts(blend_function),
            "blend plain autograd (eager)": _counts(blend_autograd), "AFF module (one-pass blend)": _counts(module)}


def network_traffic(model: nn.Module, input_shape: Sequence[int]) -> Tuple[float, List[Tuple[str, int]]]:
    """Elements one training step of ``model`` moves outside its fusion modules, and the fused sizes.

    Forward hooks on the leaf modules outside the fusion modules count reads + writes (forward: input +
    output, backward: 2 x input + output); every fusion module reports the size of its x (N*C*H*W).
    """
    from .fusion import AFF, IAFF, DirectAdd
    fusion_types = (AFF, IAFF, DirectAdd)
    inside = {id(m) for f in model.modules() if isinstance(f, fusion_types) for m in f.modules()}
    state = {"elements": 0.0}
    fused: List[Tuple[str, int]] = []
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, fusion_types):
            handles.append(module.register_forward_hook(
                lambda mod, inputs, output, name=name: fused.append((name, inputs[0].numel()))))
        elif id(module) not in inside and not list(module.children()):
            def leaf(mod, inputs, output):
                n_in = sum(t.numel() for t in inputs if isinstance(t, torch.Tensor))
                state["elements"] += (n_in + output.numel()) + (2 * n_in + output.numel())
            handles.append(module.register_forward_hook(leaf))
    try:
        with torch.no_grad():
            model.train()(torch.zeros(*input_shape))
    finally:
        for handle in handles:
            handle.remove()
    return state["elements"], fused


def traffic_floor(model_name: str = "cifar_aff_resnet20", input_shape: Sequence[int] = (128, 3, 32, 32),
                  **overrides) -> Dict[str, float]:
    """The AFF network's elements per training step over its add twin's under the model above: the ratio a
    purely memory-bound step could not beat (the rest of the network is the same in both)."""
    from afflib.core.registry import plain_twin
    from .registry import get_model
    twin = get_model(plain_twin(model_name), **overrides)
    rest, fused = network_traffic(twin, input_shape)
    per = blend_traffic()
    fused_elements = sum(n for _, n in fused)
    add_net = rest + per["add"]["total"] * fused_elements
    aff_net = rest + per["AFF module (one-pass blend)"]["total"] * fused_elements
    blend_only = rest + per["blend one-pass kernels"]["total"] * fused_elements  # the blend in place of the add
    return {"rest_elements": rest, "fused_elements": fused_elements, "add_net_elements": add_net,
            "aff_net_elements": aff_net, "floor_aff_over_add": aff_net / add_net,
            "floor_blend_only": blend_only / add_net}


def copy_bandwidth(elements: int = 1 << 22, repeats: int = 20) -> float:
    """Streaming bandwidth (bytes/s) of a float32 tensor copy (read + write) on this machine, best of ``repeats``."""
    source, target = torch.randn(elements), torch.empty(elements)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        target.copy_(source)
        best = min(best, time.perf_counter() - start)
    return 2 * 4 * elements / best


def _step_seconds(names: Sequence[str], batch: int, steps: int, **overrides) -> List[float]:
    """Median eager float32 training-step seconds of each network, their steps alternated (rough timing)."""
    from .engine import RunConfig, prepare, train_step_fn
    from .registry import get_model
    torch.manual_seed(0)
    run = RunConfig()
    fns = [train_step_fn(prepare(get_model(name, **overrides), run), run, torch.randn(batch, 3, 32, 32),
                         torch.randint(0, 10, (batch,))) for name in names]
    times: List[List[float]] = [[] for _ in names]
    for index in range(steps + 1):
        for fn, record in zip(fns, times):
            start = time.perf_counter()
            fn()
            if index:  # the first step of each is warm-up
                record.append(time.perf_counter() - start)
    return [statistics.median(record) for record in times]


def main(argv=None) -> None:
    """Print the per-element table, the small CIFAR AFF-ResNet's byte counts, and (unless --no-measure) the
    bandwidth floor of its AFF/add time ratio next to a rough eager float32 measurement of both
    (``python -m afflib_torch.traffic``; development timing, not a benchmark)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-measure", action="store_true", help="only count, time nothing")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per network (median)")
    args = parser.parse_args(argv)
    print("elements moved per fused element (x 4 bytes in float32):")
    for name, counts in blend_traffic().items():
        print(f"  {name:40s} forward {counts['forward_read']:.2f} read + {counts['forward_write']:.2f} written, "
              f"backward {counts['backward_read']:.2f} + {counts['backward_write']:.2f}; total {counts['total']:.2f}")
    small = dict(layers=[1, 1, 1], channels=[16, 16, 32, 64], classes=10)
    floor = traffic_floor(**small)
    extra = floor["aff_net_elements"] - floor["add_net_elements"]
    print(f"small CIFAR AFF-ResNet (1 block/stage, widths 16-64), batch 128, 32x32, one training step: "
          f"{floor['add_net_elements'] * 4 / 2 ** 20:.0f} MiB (add twin) vs {floor['aff_net_elements'] * 4 / 2 ** 20:.0f}"
          f" MiB (AFF), {extra * 4 / 2 ** 20:.0f} MiB more; bytes ratio {floor['floor_aff_over_add']:.2f} "
          f"(the blend alone in place of the add: {floor['floor_blend_only']:.2f})")
    if args.no_measure:
        return
    bandwidth = copy_bandwidth()
    add_s, aff_s = _step_seconds(["cifar_add_resnet20", "cifar_aff_resnet20"], 128, args.steps, **small)
    blend_extra = (blend_traffic()["blend one-pass kernels"]["total"] - 3) * floor["fused_elements"] * 4
    print(f"copy bandwidth {bandwidth / 1e9:.1f} GB/s, {torch.get_num_threads()} threads; eager float32 step: add "
          f"{add_s * 1e3:.0f} ms, AFF {aff_s * 1e3:.0f} ms, measured AFF/add {aff_s / add_s:.2f}; bandwidth floor "
          f"(add step + extra bytes at copy bandwidth): whole module {1 + extra * 4 / bandwidth / add_s:.2f}, "
          f"blend alone {1 + blend_extra / bandwidth / add_s:.2f}")


if __name__ == "__main__":
    main()
