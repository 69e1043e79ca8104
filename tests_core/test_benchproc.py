"""Workers in separate processes, timed alternately (afflib.core.benchproc), with real child interpreters."""
import sys

import pytest

from afflib.core import benchproc

SERVE = "import time; from afflib.core.benchproc import serve; print('noise'); serve(lambda: time.sleep({}), {}, {{'n': {}}})"


def _worker(name, sleep, batch):
    return benchproc.Worker(name, [sys.executable, "-c", SERVE.format(sleep, batch, batch)])


def test_workers_alternate_and_rows_come_from_the_same_run():
    workers = {"slow": _worker("slow", 0.02, 4), "fast": _worker("fast", 0.005, 4)}
    try:
        assert [w.ready(timeout=60) for w in workers.values()] == [{"n": 4}, {"n": 4}]
        timings = benchproc.alternate(workers, iterations=2, rounds=3, warmup=1)
    finally:
        for worker in workers.values():
            worker.close()
    assert all(t.images == [8, 8, 8] and len(t.seconds) == 3 for t in timings.values())
    rows = {r["label"]: r for r in benchproc.summary_rows(timings, "slow", {"slow": "fast"})}
    assert rows["slow"]["x_baseline"] == 1.0
    assert rows["fast"]["x_baseline"] == pytest.approx(rows["fast"]["median_images_per_s"]
                                                        / rows["slow"]["median_images_per_s"])
    assert rows["slow"]["time_vs_twin"] == pytest.approx(rows["fast"]["median_images_per_s"]
                                                          / rows["slow"]["median_images_per_s"])
    assert rows["fast"]["time_vs_twin"] is None and rows["slow"]["time_vs_twin"] > 1.5  # 20 ms vs 5 ms steps
    assert all(worker.process.poll() == 0 for worker in workers.values())


def test_a_worker_that_dies_is_reported_with_its_error():
    worker = benchproc.Worker("broken", [sys.executable, "-c", "import sys; sys.exit('cannot build the network')"])
    with pytest.raises(RuntimeError, match="broken: worker exited .*cannot build the network"):
        worker.ready(timeout=60)


def test_a_silent_worker_times_out_and_is_stopped():
    worker = benchproc.Worker("silent", [sys.executable, "-c", "import time; time.sleep(60)"])
    with pytest.raises(RuntimeError, match="no 'ready' from the worker within 1 s"):
        worker.ready(timeout=1)
    assert worker.process.poll() is not None


def test_bad_counts_and_unknown_baseline_are_refused():
    with pytest.raises(ValueError, match="iterations >= 1"):
        benchproc.alternate({}, iterations=0, rounds=1, warmup=0)
    with pytest.raises(ValueError, match="baseline 'x' is not among"):
        benchproc.summary_rows({}, "x")
