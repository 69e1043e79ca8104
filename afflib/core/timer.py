"""The one interleaved timer both engines' benchmarks use: warm every configuration up, then time them round-robin.

Interleaving spreads the slow phases of a shared machine over all configurations alike, so ratios measured within
one run are meaningful. The timer only sees callables that run one synchronous step (each engine builds them).
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Dict, List, Mapping, Optional

__all__ = ["CLOCKS", "Timing", "interleaved_throughput", "images_per_second"]

CLOCKS = ("wall", "process")  # wall time, or this process's CPU time


@dataclasses.dataclass
class Timing:
    """Wall seconds, CPU seconds of this process and images of every timed round of one configuration."""

    seconds: List[float]
    images: List[int]
    cpu_seconds: List[float] = dataclasses.field(default_factory=list)

    @property
    def images_per_second(self) -> float:
        return sum(self.images) / sum(self.seconds)

    @property
    def images_per_cpu_second(self) -> float:
        """Less sensitive to other processes than wall time (but counts OpenMP threads' spinning)."""
        return sum(self.images) / max(sum(self.cpu_seconds), 1e-9)

    @property
    def round_rates(self) -> List[float]:
        return [n / s for n, s in zip(self.images, self.seconds)]

    def clock_seconds(self, clock: str = "wall") -> List[float]:
        """Seconds of every round on ``clock`` (``'wall'`` or ``'process'``)."""
        if clock not in CLOCKS:
            raise ValueError(f"clock must be one of {sorted(CLOCKS)}, got {clock!r}")
        return self.seconds if clock == "wall" else self.cpu_seconds


def interleaved_throughput(steps: Mapping[str, Callable[[], Any]], batch_sizes: Mapping[str, int], iterations: int,
                           rounds: int = 3, warmup: int = 2,
                           progress: Optional[Callable[[str], None]] = None) -> Dict[str, Timing]:
    """Time every step round-robin: warm-up for each, then ``rounds`` rounds of ``iterations`` steps each.

    ``batch_sizes[name]`` images per call of ``steps[name]``; every round records wall and CPU seconds.
    """
    if iterations < 1 or rounds < 1 or warmup < 0:
        raise ValueError(f"need iterations >= 1, rounds >= 1, warmup >= 0; got {iterations}, {rounds}, {warmup}")
    for name, step in steps.items():
        for _ in range(warmup):
            step()
        if progress:
            progress(f"warmed up {name}")
    timings = {name: Timing([], []) for name in steps}
    for index in range(rounds):
        for name, step in steps.items():
            start, cpu_start = time.perf_counter(), time.process_time()
            for _ in range(iterations):
                step()
            timings[name].seconds.append(time.perf_counter() - start)
            timings[name].cpu_seconds.append(time.process_time() - cpu_start)
            timings[name].images.append(iterations * batch_sizes[name])
        if progress:
            progress(f"round {index + 1}/{rounds} done")
    return timings


def images_per_second(step: Callable[[], Any], batch_size: int, iterations: int = 10, warmup: int = 2) -> float:
    """Run ``step`` ``warmup`` times untimed, then ``iterations`` times timed; images per second."""
    return interleaved_throughput({"step": step}, {"step": batch_size}, iterations, rounds=1,
                                  warmup=warmup)["step"].images_per_second
