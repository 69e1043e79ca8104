"""Interleaved timing of several configurations, so that each sees the same machine conditions.

The timing loop is :func:`afflib.core.timer.interleaved_throughput`, the MXNet benchmark's too; this module
reports its rounds as the PyTorch benchmark prints them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence

from afflib.core.timer import CLOCKS, interleaved_throughput

__all__ = ["Timing", "time_interleaved", "format_table"]


@dataclass
class Timing:
    """Result of one configuration: images/s over all timed iterations and its ratio to the first one."""

    name: str
    images_per_s: float
    seconds_per_iter: float
    ratio: float
    rounds: List[float]


def time_interleaved(steps: Dict[str, Callable[[], object]], batch_size: int, warmup: int = 3,
                     iterations: int = 10, rounds: int = 3, clock: str = "wall") -> List[Timing]:
    """Time each ``step`` (one iteration of ``batch_size`` images; it must synchronise its device).

    Every configuration gets ``warmup`` untimed calls, then ``rounds`` rounds in which each configuration in
    turn runs ``iterations`` timed calls. images/s = batch_size x all timed calls / their total time; the
    ratio is relative to the first configuration (> 1 means faster). ``clock='process'`` counts this
    process's CPU time instead of wall time: with one thread it is robust to other jobs on a shared machine
    (images/s per busy core); with several threads it sums them.
    """
    if not steps:
        raise ValueError("no configuration to time")
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {sorted(CLOCKS)}, got {clock!r}")
    timings = interleaved_throughput(steps, {name: batch_size for name in steps}, iterations, rounds, warmup)
    results = []
    for name, timing in timings.items():
        seconds = timing.clock_seconds(clock)
        total = sum(seconds)
        results.append(Timing(name, sum(timing.images) / total, total / (iterations * len(seconds)), 1.0,
                              [n / s for n, s in zip(timing.images, seconds)]))
    for result in results:
        result.ratio = result.images_per_s / results[0].images_per_s
    return results


def format_table(results: Sequence[Timing]) -> str:
    """A plain-text table: configuration, images/s, ms/iteration, ratio to the first, per-round images/s."""
    width = max(len(r.name) for r in results)
    lines = [f"{'configuration':<{width}}  {'img/s':>8}  {'ms/iter':>8}  {'ratio':>6}  per-round img/s"]
    for r in results:
        rounds = " ".join(f"{v:.0f}" for v in r.rounds)
        lines.append(f"{r.name:<{width}}  {r.images_per_s:8.1f}  {1000 * r.seconds_per_iter:8.1f}  {r.ratio:6.2f}  "
                     f"{rounds}")
    return "\n".join(lines)
