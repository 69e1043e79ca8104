"""One batch interface for every data pipeline: record iterators and Gluon DataLoaders.

The training engine only sees :class:`BatchSource` objects yielding :class:`Batch` tuples, so ImageNet records,
image folders, CIFAR and Fashion-MNIST all train through the same loop. Every batch has exactly ``batch_size`` rows;
the last batch of an epoch is completed with wrap-around filler rows whose count is ``pad`` (drop them from metrics).
"""
from __future__ import annotations

import math
import random
from typing import Callable, Iterator, List, NamedTuple, Optional, Protocol, Sequence, runtime_checkable

import mxnet as mx
import numpy as np

from afflib.core.preprocess import normalize_nhwc
from .records import RecordFileError

__all__ = ["Batch", "BatchSource", "ShardedBatchSampler", "LoaderSource", "RecordIterSource", "SyntheticSource",
           "shard_range", "normalize_nhwc", "stack_batch", "measure_throughput"]


class Batch(NamedTuple):
    """One mini-batch: ``data`` NCHW float32, ``label`` (N,) float32 class indices, ``pad`` filler rows at the end."""

    data: mx.nd.NDArray
    label: mx.nd.NDArray
    pad: int


@runtime_checkable
class BatchSource(Protocol):
    """An epoch-wise source of batches: ``iter()`` starts a new epoch (reshuffled when training)."""

    num_samples: int

    def __len__(self) -> int:
        ...

    def __iter__(self) -> Iterator[Batch]:
        ...


def shard_range(num_items: int, num_parts: int, part_index: int) -> range:
    """Contiguous share of part ``part_index`` the way MXNet's indexed record splitter cuts: ceil(N/P) per part."""
    _check_shard(num_parts, part_index)
    step = (num_items + num_parts - 1) // num_parts
    begin = min(step * part_index, num_items)
    return range(begin, min(begin + step, num_items))


def _check_shard(num_parts: int, part_index: int) -> None:
    if num_parts < 1 or not 0 <= part_index < num_parts:
        raise ValueError(f"need num_parts >= 1 and 0 <= part_index < num_parts, got num_parts={num_parts}, "
                         f"part_index={part_index}")


class ShardedBatchSampler:
    """Batches of dataset indices for one shard, one epoch at a time; usable as a Gluon ``batch_sampler``.

    Training: every epoch draws a new permutation of all samples (seeded by ``seed`` and the epoch number, so all
    workers agree), pads it by wrap-around to a multiple of ``num_parts`` and gives part ``part_index`` every
    ``num_parts``-th sample, so every shard has the same number of samples and batches. Evaluation: the samples in
    order, strided the same way, without padding across shards. The last batch is completed with samples from the
    start of the shard's list; ``pads[i]`` is the number of such filler rows in batch ``i``.
    """

    def __init__(self, num_items: int, batch_size: int, shuffle: bool, num_parts: int = 1, part_index: int = 0,
                 seed: int = 0):
        _check_shard(num_parts, part_index)
        if num_items < 1:
            raise ValueError("the dataset is empty: no samples to draw batches from")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.num_items, self.batch_size, self.shuffle = num_items, batch_size, shuffle
        self.num_parts, self.part_index, self.seed = num_parts, part_index, seed
        self.epoch = 0
        self.pads: List[int] = []
        if shuffle:
            self.num_samples = math.ceil(num_items / num_parts)
        else:
            self.num_samples = len(range(part_index, num_items, num_parts))

    def shard_indices(self, epoch: int) -> List[int]:
        """The sample indices of this shard for ``epoch``, before batching."""
        order = list(range(self.num_items))
        if self.shuffle:
            random.Random(self.seed * 1_000_003 + epoch).shuffle(order)
            total = self.num_samples * self.num_parts
            order = (order * math.ceil(total / self.num_items))[:total]
        return order[self.part_index::self.num_parts]

    def __len__(self) -> int:
        return math.ceil(self.num_samples / self.batch_size)

    def __iter__(self) -> Iterator[List[int]]:
        indices = self.shard_indices(self.epoch)
        self.epoch += 1
        batches, pads = [], []
        for start in range(0, len(indices), self.batch_size):
            chunk = indices[start:start + self.batch_size]
            pad = self.batch_size - len(chunk)
            chunk = chunk + (indices * math.ceil(pad / len(indices) + 1))[:pad]
            batches.append(chunk)
            pads.append(pad)
        self.pads = pads
        return iter(batches)


class LoaderSource:
    """:class:`BatchSource` over a Gluon dataset through a DataLoader with a :class:`ShardedBatchSampler`.

    Parameters
    ----------
    dataset : gluon.data.Dataset
        Yields ``(image, label)`` samples (already transformed).
    batch_size : int
        Rows per batch (per shard/worker).
    train : bool
        Shuffle every epoch when True.
    batchify_fn : callable, optional
        Stacks samples into ``(data, label)``; Gluon's default when None.
    num_workers, num_parts, part_index, seed
        DataLoader worker processes; sharding; shuffle seed.
    """

    def __init__(self, dataset, batch_size: int, train: bool, batchify_fn: Optional[Callable] = None,
                 num_workers: int = 0, num_parts: int = 1, part_index: int = 0, seed: int = 0):
        self.sampler = ShardedBatchSampler(len(dataset), batch_size, shuffle=train, num_parts=num_parts,
                                           part_index=part_index, seed=seed)
        self.num_samples = self.sampler.num_samples
        self.batch_size = batch_size
        if batchify_fn is not None and num_workers > 0:
            batchify_fn = _SharedMemoryBatchify(batchify_fn)
        kwargs = {"batchify_fn": batchify_fn} if batchify_fn is not None else {}
        self.loader = mx.gluon.data.DataLoader(dataset, batch_sampler=self.sampler, num_workers=num_workers,
                                               **kwargs)

    @property
    def epoch(self) -> int:
        """Number of the next epoch (its shuffle); set it when resuming a run."""
        return self.sampler.epoch

    @epoch.setter
    def epoch(self, value: int) -> None:
        self.sampler.epoch = value

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[Batch]:
        for i, (data, label) in enumerate(self.loader):
            pad = self.sampler.pads[i]  # set once the loader has drawn this epoch's batch list
            yield Batch(_as_float_nd(data), _as_float_nd(label).reshape((-1,)), pad)


class RecordIterSource:
    """:class:`BatchSource` over ``mx.io.ImageRecordIter`` (or any MXNet DataIter with ``round_batch=True``).

    ``make_iter(epoch)`` builds the iterator of one epoch (seeded with the epoch, so training reshuffles): a fresh
    iterator per epoch, because ``reset()`` after a wrapped last batch makes the next pass start after the wrapped
    samples, which would drop images from evaluation. ``num_samples`` is this part's record count (MXNet's indexed
    splitter gives each part ceil(N/P) records, the last part the rest). With ``equal_batches`` (used for sharded
    training) every part yields that many batches per epoch, continuing into a new pass when it runs out early, so
    that synchronous distributed workers take the same number of steps. Batches live on ``mx.cpu()`` like every
    other source's, unless ``pinned``: then they stay in the iterator's page-locked ``cpu_pinned(0)`` memory (faster
    copies to a GPU; move them with ``split_and_load`` / ``as_in_context`` before use). An MXNet error while
    reading (a record the opening check could not see, e.g. a label count the iterator refuses) becomes a
    :class:`RecordFileError` naming ``name`` (the record file): the run stops with one line, not an MXNet traceback.
    """

    def __init__(self, make_iter: Callable[[int], mx.io.DataIter], num_samples: int, batch_size: int,
                 equal_batches: int = 0, pinned: bool = False, name: str = "the record file"):
        self.make_iter, self.num_samples, self.batch_size = make_iter, num_samples, batch_size
        self.pinned, self.name = pinned, name
        self.epoch = 0  # number of the next epoch (its shuffle seed); set it when resuming a run
        self._len = max(math.ceil(num_samples / batch_size), equal_batches)

    def __len__(self) -> int:
        return self._len

    def _open(self, seed: int) -> mx.io.DataIter:
        try:
            return self.make_iter(seed)
        except mx.base.MXNetError as error:
            raise self._read_error(error) from None

    def _read_error(self, error: mx.base.MXNetError) -> RecordFileError:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = next((line for line in lines if "Check failed" in line or "Error" in line), lines[-1] if lines else "")
        return RecordFileError(f"{self.name}: cannot read a record ({reason}); the file is damaged, rebuild it")

    def __iter__(self) -> Iterator[Batch]:
        data_iter = self._open(self.epoch)
        self.epoch += 1
        produced, passes = 0, 0
        while produced < self._len:
            try:
                batch = next(data_iter)
            except StopIteration:
                if produced < math.ceil(self.num_samples / self.batch_size) or passes > self._len:
                    break  # fewer records than announced: end the epoch rather than loop forever
                passes += 1
                data_iter = self._open(self.epoch * 1000 + passes)
                continue
            except mx.base.MXNetError as error:
                raise self._read_error(error) from None
            produced += 1
            data, label = batch.data[0], batch.label[0].reshape((-1,))
            if not self.pinned:
                data, label = data.as_in_context(mx.cpu()), label.as_in_context(mx.cpu())
            yield Batch(data, label, int(batch.pad or 0))


def measure_throughput(source: BatchSource, max_batches: Optional[int] = None, warmup: int = 2) -> dict:
    """Images per second of a source alone (one epoch, or ``max_batches`` after ``warmup`` batches).

    Returns ``{"images", "seconds", "images_per_s"}``; filler rows (``pad``) are not counted.
    """
    import time
    images, start = 0, None
    for count, batch in enumerate(source):
        batch.data.wait_to_read()
        if count == warmup:
            start = time.perf_counter()
        if count >= warmup:
            images += batch.data.shape[0] - batch.pad
        if max_batches is not None and count + 1 >= warmup + max_batches:
            break
    if start is None:
        raise ValueError(f"the source yielded fewer than {warmup + 1} batches; lower warmup")
    seconds = time.perf_counter() - start
    return {"images": images, "seconds": seconds, "images_per_s": images / seconds if seconds > 0 else float("inf")}


class _SharedMemoryBatchify:
    """Wraps a numpy batchify for DataLoader workers: the arrays go back in shared memory, not through a pipe."""

    def __init__(self, batchify_fn: Callable):
        self.batchify_fn = batchify_fn

    def __call__(self, samples):
        return tuple(mx.nd.array(a, dtype=a.dtype, ctx=mx.Context("cpu_shared", 0)) for a in self.batchify_fn(samples))


def _as_float_nd(array) -> mx.nd.NDArray:
    if isinstance(array, mx.nd.NDArray):
        if array.context != mx.cpu():
            array = array.as_in_context(mx.cpu())
        return array.astype("float32", copy=False)
    return mx.nd.array(array, dtype="float32")


class SyntheticSource:
    """``count`` batches of random images and labels (throughput measurement without data)."""

    def __init__(self, count: int, batch_size: int, size: int, classes: int, channels: int = 3):
        self.batch = Batch(mx.nd.random.normal(shape=(batch_size, channels, size, size)),
                           mx.nd.array([i % classes for i in range(batch_size)]), 0)
        self.count, self.num_samples = count, count * batch_size

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Batch]:
        return iter([self.batch] * self.count)


def stack_batch(samples: Sequence, mean: Sequence[float], std: Sequence[float]) -> tuple:
    """Batchify ``(HWC image, label)`` samples into normalized NCHW float32 data and float32 labels (numpy).

    Numpy (not NDArray) so that DataLoader worker processes pass batches back by plain pickling; use it through
    ``functools.partial`` (a lambda cannot be sent to the workers).
    """
    images = np.stack([np.asarray(s[0]) for s in samples])
    labels = np.asarray([s[1] for s in samples], dtype=np.float32)
    return normalize_nhwc(images, mean, std), labels
