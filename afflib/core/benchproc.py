"""Benchmark configurations in separate processes, timed alternately: the protocol both engines' workers speak.

Two networks interleaved in one process distort each other (allocator, caches, MXNet's engine threads): on the
small CIFAR AFF-ResNet that gave a 1.16x AFF/add ratio against 2.3x in separate processes. Here each
configuration lives in its own worker process (any interpreter: the MXNet or the torch environment), built once
and kept; the parent asks the workers in turn to run a few timed steps, round after round, so all of them see
the same machine conditions, and reports medians over rounds. Framework-free: the workers build the steps.

Protocol (one line each way): the worker prints ``BENCH ready {json}`` once built, then answers every
``run N`` line on its stdin with ``BENCH result {"seconds", "cpu_seconds", "images"}``; ``quit`` ends it. Other
output lines (framework warnings) are ignored.
"""
from __future__ import annotations

import json
import queue
import statistics
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from .timer import Timing

__all__ = ["serve", "Worker", "alternate", "summary_rows"]

PREFIX = "BENCH "


def serve(step: Callable[[], Any], batch_size: int, info: Optional[Mapping[str, Any]] = None,
          stdin=None, stdout=None) -> None:
    """The worker side: announce readiness, then run ``step`` N times per ``run N`` request and report the time."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    stdout.write(PREFIX + "ready " + json.dumps(dict(info or {})) + "\n")
    stdout.flush()
    for line in stdin:
        words = line.split()
        if not words or words[0] == "quit":
            return
        count = int(words[1])
        start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(count):
            step()
        result = {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu_start,
                  "images": count * batch_size}
        stdout.write(PREFIX + "result " + json.dumps(result) + "\n")
        stdout.flush()


class Worker:
    """The parent side of one worker process (started by the constructor; ``ready`` waits until it is built)."""

    def __init__(self, name: str, command: Sequence[str], env: Optional[Mapping[str, str]] = None):
        self.name, self.command = name, list(command)
        self.info: Dict[str, Any] = {}
        self._lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self._stderr_tail: List[str] = []
        self.process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, bufsize=1,
                                        env=None if env is None else dict(env))
        threading.Thread(target=self._pump, args=(self.process.stdout, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.process.stderr, False), daemon=True).start()

    def _pump(self, stream, is_stdout: bool) -> None:
        """Reader thread: protocol lines into the queue (None at the end of stdout), stderr into its tail."""
        for line in stream:
            if is_stdout:
                if line.startswith(PREFIX):
                    self._lines.put(line[len(PREFIX):].rstrip("\n"))
            else:
                self._stderr_tail = (self._stderr_tail + [line.rstrip()])[-20:]
        if is_stdout:
            self._lines.put(None)

    def _message(self, kind: str, timeout: float) -> Dict[str, Any]:
        """The next ``BENCH kind {json}`` line of the worker; an error when it exits or stays silent."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                self.process.kill()  # unresponsive: it would not read a quit request either
                self.process.wait()
                raise RuntimeError(f"{self.name}: no '{kind}' from the worker within {timeout:.0f} s") from None
            if line is None:
                self.process.wait(timeout=30)
                time.sleep(0.1)  # let the stderr reader catch up
                raise RuntimeError(f"{self.name}: worker exited ({self.process.returncode}): "
                                   + " / ".join(self._stderr_tail[-3:]))
            if line.startswith(kind + " "):
                return json.loads(line[len(kind) + 1:])

    def ready(self, timeout: float = 900.0) -> Dict[str, Any]:
        """Wait until the worker has built its step (compilation may take minutes); its announced info."""
        self.info = self._message("ready", timeout)
        return self.info

    def run(self, steps: int, timeout: float = 900.0) -> Dict[str, Any]:
        """Run ``steps`` timed steps in the worker; ``{"seconds", "cpu_seconds", "images"}``."""
        self.process.stdin.write(f"run {steps}\n")
        self.process.stdin.flush()
        return self._message("result", timeout)

    def close(self) -> None:
        """Ask the worker to quit; kill it if it does not."""
        if self.process.poll() is None:
            try:
                self.process.stdin.write("quit\n")
                self.process.stdin.flush()
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


def alternate(workers: Mapping[str, Worker], iterations: int, rounds: int, warmup: int,
              progress: Optional[Callable[[str], None]] = None) -> Dict[str, Timing]:
    """Warm every worker up (``warmup`` untimed steps), then ``rounds`` rounds in which each worker in turn runs
    ``iterations`` timed steps; wall and CPU seconds per round, as :func:`afflib.core.timer.interleaved_throughput`."""
    if iterations < 1 or rounds < 1 or warmup < 0:
        raise ValueError(f"need iterations >= 1, rounds >= 1, warmup >= 0; got {iterations}, {rounds}, {warmup}")
    for name, worker in workers.items():
        if warmup:
            worker.run(warmup)
        if progress:
            progress(f"warmed up {name}")
    timings = {name: Timing([], [], []) for name in workers}
    for index in range(rounds):
        for name, worker in workers.items():
            result = worker.run(iterations)
            timings[name].seconds.append(result["seconds"])
            timings[name].cpu_seconds.append(result["cpu_seconds"])
            timings[name].images.append(result["images"])
        if progress:
            progress(f"round {index + 1}/{rounds} done")
    return timings


def summary_rows(timings: Mapping[str, Timing], baseline: str,
                 twins: Optional[Mapping[str, str]] = None) -> List[Dict[str, Any]]:
    """One row per configuration: median images/s over rounds (and the slowest, fastest round), the speed ratio to
    ``baseline``'s median, and, where ``twins`` names a configuration's plain-addition twin, the time ratio to it
    (all from the same run)."""
    medians = {name: statistics.median(t.round_rates) for name, t in timings.items()}
    if baseline not in medians:
        raise ValueError(f"baseline {baseline!r} is not among the configurations {sorted(medians)}")
    rows = []
    for name, timing in timings.items():
        twin = (twins or {}).get(name)
        rows.append({"label": name, "median_images_per_s": medians[name], "round_min": min(timing.round_rates),
                     "round_max": max(timing.round_rates),
                     "median_images_per_cpu_s": statistics.median(
                         n / max(c, 1e-9) for n, c in zip(timing.images, timing.cpu_seconds)),
                     "x_baseline": medians[name] / medians[baseline],
                     "time_vs_twin": medians[twin] / medians[name] if twin in medians else None})
    return rows
