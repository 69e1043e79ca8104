import functools

import mxnet as mx
import numpy as np
import pytest

from afflib.data.batches import Batch, BatchSource, LoaderSource, ShardedBatchSampler, shard_range, stack_batch


def test_sharded_sampler_covers_every_sample_once_per_epoch_across_parts():
    parts = [ShardedBatchSampler(10, 3, shuffle=True, num_parts=3, part_index=k, seed=7) for k in range(3)]
    assert [p.num_samples for p in parts] == [4, 4, 4] and [len(p) for p in parts] == [2, 2, 2]
    shards = [p.shard_indices(0) for p in parts]
    assert set(sum(shards, [])) == set(range(10))  # 12 slots: all 10 samples plus 2 wrap-around repeats
    assert shards != [p.shard_indices(1) for p in parts], "a new epoch must reshuffle"
    assert shards == [ShardedBatchSampler(10, 3, True, 3, k, seed=7).shard_indices(0) for k in range(3)]


def test_sampler_pads_last_batch_with_wraparound_filler():
    sampler = ShardedBatchSampler(5, 4, shuffle=False)
    assert list(sampler) == [[0, 1, 2, 3], [4, 0, 1, 2]]
    assert sampler.pads == [0, 3]
    evaluation = [ShardedBatchSampler(5, 2, False, num_parts=2, part_index=k) for k in range(2)]
    assert [e.shard_indices(0) for e in evaluation] == [[0, 2, 4], [1, 3]]
    with pytest.raises(ValueError, match="part_index"):
        ShardedBatchSampler(5, 2, False, num_parts=2, part_index=2)


def test_shard_range_matches_mxnet_indexed_splitter():
    assert [list(shard_range(10, 4, k)) for k in range(4)] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_loader_source_yields_batches_with_pad_and_normalized_nchw_data():
    images = np.stack([np.full((4, 4, 3), i * 10, dtype=np.uint8) for i in range(5)])
    dataset = mx.gluon.data.ArrayDataset(images, np.arange(5))
    mean, std = np.array([0.5, 0.5, 0.5], np.float32), np.array([0.25, 0.25, 0.25], np.float32)
    source = LoaderSource(dataset, batch_size=2, train=False, 
                          batchify_fn=functools.partial(stack_batch, mean=mean, std=std), num_workers=1)
    assert isinstance(source, BatchSource) and len(source) == 3 and source.num_samples == 5
    batches = list(source)
    assert all(isinstance(b, Batch) for b in batches)
    assert [b.pad for b in batches] == [0, 0, 1]
    assert batches[0].data.shape == (2, 3, 4, 4) and batches[0].data.dtype == np.float32
    np.testing.assert_allclose(batches[1].data[0, 0, 0, 0].asscalar(), (20 / 255 - 0.5) / 0.25, rtol=1e-5)
    np.testing.assert_array_equal(np.concatenate([b.label.asnumpy() for b in batches]), [0, 1, 2, 3, 4, 0])


def test_dataloader_workers_draw_different_augmentations():
    from afflib.data.transforms import CifarTrainTransform

    image = (np.arange(32 * 32 * 3) % 251).astype(np.uint8).reshape(32, 32, 3)
    dataset = mx.gluon.data.ArrayDataset(np.stack([image] * 16), np.zeros(16)).transform_first(
        CifarTrainTransform(seed=0))
    source = LoaderSource(dataset, batch_size=8, train=True, num_workers=2,
                          batchify_fn=functools.partial(stack_batch, mean=(0, 0, 0), std=(1, 1, 1)))
    first, second = (b.data.asnumpy() for b in source)
    assert not np.array_equal(first, second), "forked workers must not repeat each other's random crops"


def test_synthetic_source_repeats_one_random_batch():
    from afflib.data.batches import SyntheticSource

    source = SyntheticSource(3, batch_size=4, size=8, classes=3)
    assert isinstance(source, BatchSource) and len(source) == 3 and source.num_samples == 12
    batches = list(source)
    assert len(batches) == 3 and batches[0].data.shape == (4, 3, 8, 8) and batches[0].pad == 0
    np.testing.assert_array_equal(batches[2].label.asnumpy(), [0, 1, 2, 0])
    assert SyntheticSource(1, 2, 8, 10, channels=1).batch.data.shape == (2, 1, 8, 8)
