"""DataLoader, BatchSampler and ArrayDataset: batching, shuffling per (seed, epoch), replacement, drop_last."""
import numpy as np
import pytest

from glassnet import backend
from glassnet.data import ArrayDataset, BatchSampler, DataLoader, batch_rng, epoch_indices


def _dataset(n=23):
    """x holds the example's index in every pixel so a batch tells which examples it holds."""
    x = np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None, None], (n, 1, 2, 2)).copy()
    return ArrayDataset(x, np.arange(n))


def _epoch_labels(loader):
    return [np.asarray(y) for _, y in loader]


def test_array_dataset_indexes_rows_with_index_arrays_and_stores_int64_labels():
    ds = ArrayDataset(np.arange(12.0).reshape(6, 2), np.arange(6, dtype=np.int32))
    x, y = ds[np.array([4, 1])]
    assert len(ds) == 6
    np.testing.assert_array_equal(x, [[8.0, 9.0], [2.0, 3.0]])
    np.testing.assert_array_equal(y, [4, 1])
    assert y.dtype == np.int64


def test_array_dataset_rejects_x_and_y_of_different_lengths():
    with pytest.raises(ValueError, match="same length"):
        ArrayDataset(np.zeros((3, 2)), np.zeros(4, dtype=int))


@pytest.mark.parametrize("drop_last, expected", [(False, 6), (True, 5)])
def test_loader_len_is_number_of_batches(drop_last, expected):
    assert len(DataLoader(_dataset(23), batch_size=4, drop_last=drop_last)) == expected


def test_epoch_without_replacement_visits_every_index_exactly_once():
    loader = DataLoader(_dataset(23), batch_size=4, seed=5)
    for _ in range(3):
        labels = np.concatenate(_epoch_labels(loader))
        np.testing.assert_array_equal(np.sort(labels), np.arange(23))


def test_batches_hold_the_examples_their_labels_name():
    for x, y in DataLoader(_dataset(23), batch_size=5, seed=1):
        np.testing.assert_array_equal(x[:, 0, 0, 0], y)


def test_shuffle_order_is_the_permutation_of_default_rng_seed_epoch():
    loader = DataLoader(_dataset(23), batch_size=4, seed=7)
    loader.set_epoch(3)
    expected = np.random.default_rng([7, 3]).permutation(23)
    np.testing.assert_array_equal(np.concatenate(_epoch_labels(loader)), expected)


def test_batches_are_a_pure_function_of_seed_and_epoch():
    a, b = DataLoader(_dataset(), batch_size=4, seed=3), DataLoader(_dataset(), batch_size=4, seed=3)
    a.set_epoch(2)
    b.set_epoch(2)
    for (_, ya), (_, yb) in zip(a, b):
        np.testing.assert_array_equal(ya, yb)
    other_epoch = DataLoader(_dataset(), batch_size=4, seed=3)
    other_epoch.set_epoch(1)
    other_seed = DataLoader(_dataset(), batch_size=4, seed=4)
    other_seed.set_epoch(2)
    b.set_epoch(2)
    reference = np.concatenate(_epoch_labels(b))
    assert not np.array_equal(np.concatenate(_epoch_labels(other_epoch)), reference)
    assert not np.array_equal(np.concatenate(_epoch_labels(other_seed)), reference)


def test_loader_counts_epochs_and_set_epoch_replays_one_exactly():
    loader = DataLoader(_dataset(), batch_size=4, seed=0)
    epochs = [np.concatenate(_epoch_labels(loader)) for _ in range(3)]
    assert loader.epoch == 3
    assert not np.array_equal(epochs[0], epochs[1])
    loader.set_epoch(1)
    np.testing.assert_array_equal(np.concatenate(_epoch_labels(loader)), epochs[1])


def test_shuffle_false_keeps_dataset_order():
    loader = DataLoader(_dataset(10), batch_size=3, shuffle=False)
    np.testing.assert_array_equal(np.concatenate(_epoch_labels(loader)), np.arange(10))


def test_replacement_draws_n_uniform_indices_with_repeats():
    loader = DataLoader(_dataset(50), batch_size=8, seed=2, replacement=True)
    loader.set_epoch(4)
    labels = np.concatenate(_epoch_labels(loader))
    np.testing.assert_array_equal(labels, np.random.default_rng([2, 4]).integers(0, 50, size=50))
    assert len(np.unique(labels)) < 50  # with replacement some examples repeat
    assert len(loader) == 7


def test_replacement_with_shuffle_false_is_rejected():
    with pytest.raises(ValueError, match="replacement"):
        DataLoader(_dataset(), shuffle=False, replacement=True)


def test_drop_last_drops_only_the_short_final_batch():
    sizes = [len(y) for y in _epoch_labels(DataLoader(_dataset(23), batch_size=4, drop_last=True))]
    assert sizes == [4] * 5
    sizes = [len(y) for y in _epoch_labels(DataLoader(_dataset(23), batch_size=4))]
    assert sizes == [4] * 5 + [3]


def test_batch_size_must_be_positive():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(_dataset(), batch_size=0)


def test_loader_yields_active_backend_arrays_in_default_dtype_and_int64_labels():
    x, y = next(iter(DataLoader(_dataset(), batch_size=4)))
    assert isinstance(x, np.ndarray) and x.dtype == np.float32 and x.shape == (4, 1, 2, 2)
    assert y.dtype == np.int64
    with backend.default_dtype(np.float64):
        x, _ = next(iter(DataLoader(_dataset(), batch_size=4)))
    assert x.dtype == np.float64


def test_transform_receives_a_generator_fixed_by_seed_epoch_and_batch():
    draws = []

    def record(x, rng):
        draws.append(rng.random())
        return x

    loader = DataLoader(_dataset(12), batch_size=4, seed=9, transform=record)
    loader.set_epoch(2)
    list(loader)
    first = draws[:]
    assert len(set(first)) == 3  # a different stream for every batch
    loader.set_epoch(2)
    draws.clear()
    list(loader)
    assert draws == first
    assert first == [batch_rng(9, 2, b).random() for b in range(3)]


def test_batch_rng_is_not_the_stream_that_orders_the_epoch():
    assert batch_rng(0, 0, 0).random() != np.random.default_rng([0, 0]).random()


def test_batch_sampler_gives_the_loader_batches_for_reuse_by_other_samplers():
    sampler = BatchSampler(23, batch_size=4, seed=3)
    loader = DataLoader(_dataset(23), batch_size=4, seed=3)
    loader.set_epoch(6)
    for indices, y in zip(sampler.batches(6), _epoch_labels(loader)):
        np.testing.assert_array_equal(indices, y)
    assert len(sampler) == len(loader)
    np.testing.assert_array_equal(np.concatenate(sampler.batches(6)), epoch_indices(23, 3, 6))


def test_empty_dataset_gives_no_batches():
    loader = DataLoader(ArrayDataset(np.zeros((0, 1, 2, 2)), np.zeros(0, dtype=int)), batch_size=4)
    assert len(loader) == 0 and list(loader) == []
