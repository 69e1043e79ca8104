"""The PyTorch engine's data order as numbers: shards are disjoint, equal and full batches; --train-size keeps a
fixed subset; an epoch's order depends on (seed, epoch) alone."""
import numpy as np

from afflib.core.dataorder import batch_count, epoch_order, shard_samples, train_subset


def test_shards_are_disjoint_equal_full_batches_of_one_permutation():
    subset = train_subset(103, seed=5)
    samples = shard_samples(103, 3, 8, train=True)
    assert samples == 32 and batch_count(samples, 8, train=True) == 4
    shards = [epoch_order(subset, 5, 2, 3, k, samples) for k in range(3)]
    assert all(len(s) == 32 for s in shards)
    assert len(set(np.concatenate(shards))) == 96
    assert np.array_equal(shards[1], epoch_order(subset, 5, 2, 3, 1, samples))
    assert not np.array_equal(shards[1], epoch_order(subset, 5, 3, 3, 1, samples))
    assert shard_samples(103, 3, 8, train=False) == 103 and batch_count(103, 8, train=False) == 13


def test_train_size_keeps_a_seeded_subset_in_file_order():
    kept = train_subset(1000, seed=1, limit=100)
    assert len(kept) == 100 and np.all(np.diff(kept) > 0)
    assert np.array_equal(kept, train_subset(1000, seed=1, limit=100))
    assert not np.array_equal(kept, train_subset(1000, seed=2, limit=100))
    assert np.array_equal(train_subset(10, seed=1, limit=0), np.arange(10))
    order = epoch_order(kept, 1, 0, 1, 0, 96)
    assert set(order) <= set(kept)
