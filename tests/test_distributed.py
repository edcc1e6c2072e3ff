"""glassnet.distributed in one process: sharding, the flat gradient buffer, sync BN math, failure paths.

Multi-rank behaviour is simulated here with communicators that need no MPI (a world of one, a
counting one, threads that stand for ranks); the real multi-process runs under mpirun are in
test_distributed_mpi.py.
"""
import sys
import threading

import numpy as np
import pytest

from glassnet import backend, io, nn
from glassnet import functional as F
from glassnet._launcher import WORLD_SIZE_VARS
from glassnet.data import BatchSampler, DataLoader, RandomCrop
from glassnet.distributed import (
    INSTALL_HINT, ConfigurationMismatch, DataParallel, LocalComm, MPIUnavailable, ShardedBatchSampler,
    ShardedLoader, abort_on_error, check_consistency, is_synced, shard_bounds, sync_batchnorm,
    unsync_batchnorm,
)
from glassnet.distributed import comm as comm_module
from glassnet.distributed.comm import Communicator
from glassnet.distributed.run import data_parallel
from glassnet.optim import SGD
from glassnet.train import Solver
from tests.mpi_workers import cases


# ------------------------------------------------------------------ stand-in communicators
class CountingComm(LocalComm):
    """A world of one that records every allreduce (the buffer it was given)."""

    def __init__(self):
        super().__init__()
        self.reduced = []

    def allreduce_(self, a):
        self.reduced.append(a)
        return a


class FakeWorld(LocalComm):
    """Rank ``rank`` of a pretend world whose other ranks' objects come from ``others(obj, rank)``."""

    def __init__(self, rank, size, others=lambda obj, r: obj):
        super().__init__()
        self.rank, self.size, self.others = rank, size, others
        self.aborted = None

    def allgather(self, obj):
        return [obj if r == self.rank else self.others(obj, r) for r in range(self.size)]

    def abort(self, code=1):
        self.aborted = code


class ThreadWorld:
    """``size`` threads standing for ranks: allreduce_ sums over them, in rank order, like MPI's SUM."""

    def __init__(self, size):
        self.size, self.slots, self.barrier = size, [None] * size, threading.Barrier(size, timeout=10)

    def comm(self, rank):
        world = self

        class ThreadComm(Communicator):
            def allreduce_(self, a):
                world.slots[self.rank] = np.array(a, copy=True)
                world.barrier.wait()
                total = world.slots[0].copy()
                for s in world.slots[1:]:
                    total += s
                world.barrier.wait()
                a[...] = total
                return a

        c = ThreadComm()
        c.rank, c.size = rank, self.size
        return c

    def run(self, fn):
        """``[fn(comm_of_rank_r) for r]``, each on its own thread."""
        results, errors = [None] * self.size, []

        def target(r):
            try:
                results[r] = fn(self.comm(r))
            except BaseException as exc:  # noqa: BLE001 - re-raised below
                errors.append(exc)
                self.barrier.abort()

        threads = [threading.Thread(target=target, args=(r,)) for r in range(self.size)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return results


# ------------------------------------------------------------------ sharding
def test_shard_bounds_cut_a_batch_like_array_split_and_cover_it_in_order():
    for size in range(1, 6):
        for batch in range(size, 30):
            bounds = [shard_bounds(batch, r, size) for r in range(size)]
            expected = np.array_split(np.arange(batch), size)
            assert [np.arange(batch)[a:b].tolist() for a, b in bounds] == [e.tolist() for e in expected]


@pytest.mark.parametrize("replacement", [False, True])
def test_sharded_sampler_shards_concatenate_to_the_single_process_batches(replacement):
    n, batch, size = 50, 13, 3  # 13 does not divide by 3: shards of 5, 4, 4
    single = BatchSampler(n, batch, seed=7, replacement=replacement)
    ranks = [ShardedBatchSampler(n, batch, r, size, seed=7, replacement=replacement) for r in range(size)]
    for epoch in range(3):
        expected = single.batches(epoch)
        shards = [s.batches(epoch) for s in ranks]
        assert len(shards[0]) == len(expected) == len(ranks[0])
        for b, want in enumerate(expected):
            assert np.concatenate([shards[r][b] for r in range(size)]).tolist() == want.tolist()


def test_sharded_sampler_drops_a_last_batch_smaller_than_the_world_with_a_warning():
    with pytest.warns(UserWarning, match="last batch of each epoch has 2 examples, fewer than the 4 ranks"):
        s = ShardedBatchSampler(26, 8, 0, 4)
    assert len(s) == 3 and [len(b) for b in s.batches(0)] == [2, 2, 2]


def test_sharded_sampler_refuses_a_global_batch_smaller_than_the_world():
    with pytest.raises(ValueError, match=r"global batch size \(2\) is smaller than the number of ranks \(4\)"):
        ShardedBatchSampler(100, 2, 0, 4)


def test_sharded_loader_with_augmentation_yields_slices_of_the_single_process_batches():
    data = cases.make_data(30, "float32")
    crop = RandomCrop(6, padding=1)
    single = list(DataLoader(data, 7, seed=5, transform=crop)._epoch_batches(2))
    parts = [list(ShardedLoader(data, 7, rank=r, size=2, seed=5, transform=crop)._epoch_batches(2)) for r in range(2)]
    assert len(single) == len(parts[0]) == 5
    for b, (x, y) in enumerate(single):
        np.testing.assert_array_equal(np.concatenate([parts[0][b][0], parts[1][b][0]]), x)
        np.testing.assert_array_equal(np.concatenate([parts[0][b][1], parts[1][b][1]]), y)


# ------------------------------------------------------------------ communicators and MPI discovery
def test_local_comm_is_a_world_of_one_whose_collectives_change_nothing():
    c = LocalComm()
    a = np.arange(4.0)
    assert (c.rank, c.size, c.is_main) == (0, 1, True)
    assert c.allreduce_(a) is a and a.tolist() == [0, 1, 2, 3]
    assert c.bcast({"x": 1}) == {"x": 1} and c.allgather(5) == [5]


@pytest.fixture
def no_mpi4py(monkeypatch):
    """Pretend mpi4py is not installed (and that MPI was never initialised in this process)."""
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    monkeypatch.setattr(comm_module, "_WORLD", None)
    for var in WORLD_SIZE_VARS:
        monkeypatch.delenv(var, raising=False)


def test_init_without_mpi4py_falls_back_to_one_process(no_mpi4py):
    assert isinstance(comm_module.init(), LocalComm)


def test_init_requiring_mpi_without_mpi4py_says_what_to_install(no_mpi4py):
    with pytest.raises(MPIUnavailable, match=r"pip install glassnet\[mpi\].*openmpi-bin libopenmpi-dev"):
        comm_module.init(require_mpi=True)


def test_cli_distributed_without_mpi4py_says_what_to_install(no_mpi4py, capsys, tmp_path):
    from glassnet.cli import main

    assert main(["train", "--distributed", "--out", str(tmp_path / "run")]) == 1  # the environment lacks MPI: exit 1
    err = capsys.readouterr().err
    assert "pip install glassnet[mpi]" in err and "openmpi-bin" in err and INSTALL_HINT in err


def test_cli_started_by_mpirun_without_distributed_refuses(monkeypatch, capsys, tmp_path):
    from glassnet.cli import main

    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    assert main(["train", "--out", str(tmp_path / "run")]) == 2
    assert "add --distributed" in capsys.readouterr().err


# ------------------------------------------------------------------ DataParallel
def _mlp_parallel(comm, dtype="float64"):
    with backend.default_dtype(np.dtype(dtype)):
        model = cases.build_model("mlp")
        return model, DataParallel(model, comm)


def test_data_parallel_makes_every_grad_a_view_of_one_flat_buffer():
    model, dp = _mlp_parallel(LocalComm())
    total = sum(p.size for p in model.parameters())
    assert dp.flat.shape == (total + 3,) and dp.flat.flags.c_contiguous
    for p in model.parameters():
        assert np.shares_memory(p.grad, dp.flat)


def test_data_parallel_reduces_once_per_step_always_the_same_preallocated_buffer():
    comm = CountingComm()
    model, dp = _mlp_parallel(comm)
    data = cases.make_data(24, "float64")
    solver = Solver(model, ShardedLoader(data, 8, comm=comm), SGD(model.parameters(), lr=0.1), epochs=2,
                    progress=False, train_eval_samples=0, parallel=dp)
    with backend.default_dtype(np.float64):
        solver.fit()
    steps = len(solver.step_losses)
    assert steps == 6 and len(comm.reduced) == steps
    assert all(buf is dp.flat for buf in comm.reduced)


def test_data_parallel_in_one_process_trains_exactly_like_the_plain_solver():
    ref_model, ref_solver = cases.train("mlp_float64")
    model, solver = cases.train("mlp_float64", LocalComm())
    assert cases.relative_difference(cases.state(model), cases.state(ref_model)) < 1e-13
    np.testing.assert_allclose(solver.step_losses, ref_solver.step_losses, rtol=1e-13)


def test_data_parallel_brings_a_rebound_grad_back_into_the_buffer():
    model, dp = _mlp_parallel(LocalComm())
    p = model.parameters()[0]
    p.grad = np.full_like(p.grad, 2.0)  # e.g. model.to() rebinds gradients
    dp.allreduce_gradients(1.0, None, np.zeros(4, dtype=np.int64))
    assert np.shares_memory(p.grad, dp.flat) and np.all(p.grad == 0.5)  # summed 2.0 of 4 examples / 4


def test_data_parallel_scales_the_loss_gradient_to_the_shard_sum():
    _, dp = _mlp_parallel(LocalComm())
    d = np.ones((3, 2), dtype=np.float32)
    out = dp.scale_loss_gradient(d, 3)
    assert out.dtype == np.float32 and np.all(out == 3) and np.all(d == 1)


# ------------------------------------------------------------------ synchronised batch norm
def _bn(kind, c, dtype=np.float64):
    with backend.default_dtype(dtype):
        layer = nn.BatchNorm2d(c) if kind == "2d" else nn.BatchNorm1d(c)
    rng = np.random.default_rng(0)
    layer.weight.data[...] = rng.normal(1, 0.3, c)
    layer.bias.data[...] = rng.normal(0, 0.3, c)
    return layer


def _bn_input(kind, n, c, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(0.7, 2.0, (n, c, 3, 4) if kind == "2d" else (n, c))


@pytest.mark.parametrize("kind", ["1d", "2d"])
def test_sync_batchnorm_in_one_process_matches_batchnorm(kind):
    x = _bn_input(kind, 6, 3)
    dout = np.random.default_rng(2).normal(size=x.shape)
    plain, synced = _bn(kind, 3), sync_batchnorm(nn.Sequential(_bn(kind, 3)), LocalComm())[0]
    out, out_s = plain.forward(x), synced.forward(x)
    dx, dx_s = plain.backward(dout), synced.backward(dout)
    np.testing.assert_allclose(out_s, out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx_s, dx, rtol=1e-10, atol=1e-12)
    for a, b in [(synced.weight.grad, plain.weight.grad), (synced.bias.grad, plain.bias.grad),
                 (synced.running_mean, plain.running_mean), (synced.running_var, plain.running_var)]:
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["1d", "2d"])
def test_sync_batchnorm_over_three_ranks_with_unequal_shards_matches_the_whole_batch(kind):
    x = _bn_input(kind, 8, 3)
    dout = np.random.default_rng(2).normal(size=x.shape)
    whole = _bn(kind, 3)
    out, dx = whole.forward(x), whole.backward(dout)
    splits = np.array_split(np.arange(8), 3)  # 3, 3, 2 examples

    def rank(comm):
        layer = sync_batchnorm(nn.Sequential(_bn(kind, 3)), comm)[0]
        idx = splits[comm.rank]
        o = layer.forward(x[idx])
        return o, layer.backward(dout[idx]), layer

    results = ThreadWorld(3).run(rank)
    np.testing.assert_allclose(np.concatenate([r[0] for r in results]), out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.concatenate([r[1] for r in results]), dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sum(r[2].weight.grad for r in results), whole.weight.grad, rtol=1e-12)
    np.testing.assert_allclose(sum(r[2].bias.grad for r in results), whole.bias.grad, rtol=1e-12)
    for _, _, layer in results:  # every rank's running statistics are those of the whole batch
        np.testing.assert_allclose(layer.running_mean, whole.running_mean, rtol=1e-12)
        np.testing.assert_allclose(layer.running_var, whole.running_var, rtol=1e-12)


def test_sync_batchnorm_per_rank_statistics_differ_from_the_whole_batch():
    """The control for the test above: without synchronisation a shard's normalisation is not the batch's."""
    x = _bn_input("2d", 8, 3)
    whole, shard = _bn("2d", 3), _bn("2d", 3)
    assert not np.allclose(shard.forward(x[:4]), whole.forward(x)[:4], atol=1e-3)


def test_sync_batchnorm_is_a_batchnorm_subclass_so_the_model_saves_as_plain_layers_and_reverts(tmp_path):
    model = cases.build_model("cnn_bn")
    weight, running_mean = model[1].weight, model[1].running_mean
    sync_batchnorm(model, LocalComm())
    assert isinstance(model[1], nn.BatchNorm2d) and is_synced(model[1]) and is_synced(model[6])
    assert model[1].weight is weight and model[1].running_mean is running_mean  # shared, not copied
    assert model[1].describe().startswith("layer '1' SyncBatchNorm2d(")
    io.save(model, tmp_path / "m.safetensors")
    loaded = io.load(tmp_path / "m.safetensors")
    assert list(loaded.state_dict()) == list(model.state_dict())
    assert type(loaded[1]) is nn.BatchNorm2d
    unsync_batchnorm(model)
    assert not is_synced(model[1]) and type(model[1]) is nn.BatchNorm2d and model[1].weight is weight


def test_sync_batchnorm_in_eval_mode_uses_running_statistics_without_communicating():
    comm = CountingComm()
    layer = sync_batchnorm(nn.Sequential(_bn("2d", 3)), comm)[0].eval()
    x = _bn_input("2d", 4, 3)
    out = layer.forward(x)
    layer.backward(np.ones_like(out))
    expected, _ = F.batchnorm_forward(x, layer.weight.data, layer.bias.data,
                                      {"mean": layer.running_mean, "var": layer.running_var}, False)
    np.testing.assert_allclose(out, expected)
    assert comm.reduced == []


def test_data_parallel_glue_shards_the_loader_and_syncs_batchnorm_when_asked():
    model = cases.build_model("cnn_bn")
    loader = DataLoader(cases.make_data(20, "float32"), 8, seed=4, transform=RandomCrop(6, padding=1))
    sharded, dp = data_parallel({"sync_bn": True, "data_dir": "/here"}, model, loader, LocalComm())
    assert isinstance(sharded, ShardedLoader) and sharded.batch_size == 8 and sharded.transform is loader.transform
    assert is_synced(model[1]) and dp.model is model


# ------------------------------------------------------------------ consistency and failures
def test_consistency_check_names_the_rank_and_the_option_that_differ():
    def other(obj, rank):
        return {**obj, "config": {**obj["config"], "batch_size": 32}} if isinstance(obj, dict) else ("x", obj[1])

    comm = FakeWorld(0, 2, other)
    expected = r"rank 1 has a different configuration: batch_size=32 \(rank 0: 64\)"
    with pytest.raises(ConfigurationMismatch, match=expected):
        check_consistency(comm, cases.build_model("mlp"), {"batch_size": 64, "lr": 0.1})


def test_consistency_check_names_a_parameter_whose_shape_differs():
    def other(obj, rank):
        if isinstance(obj, tuple):
            return (obj[0], "different")
        model = [[n, [7] + s[1:], d] if n == "1.weight" else [n, s, d] for n, s, d in obj["model"]]
        return {**obj, "model": model}

    with pytest.raises(ConfigurationMismatch, match=r"rank 1 has different parameters .*1\.weight: \(\[7, 16\]"):
        check_consistency(FakeWorld(0, 2, other), cases.build_model("mlp"), {})


def test_abort_on_error_prints_the_rank_and_aborts_the_job(capsys):
    comm = FakeWorld(1, 2)
    with abort_on_error(comm):
        raise ValueError("bad shard")
    assert comm.aborted == 1
    assert "rank 1: ValueError: bad shard" in capsys.readouterr().err


def test_abort_on_error_in_a_world_of_one_lets_the_exception_through():
    with pytest.raises(ValueError, match="plain"), abort_on_error(LocalComm()):
        raise ValueError("plain")


# ------------------------------------------------------------------ train_run with a communicator
def test_train_run_with_a_world_of_one_equals_the_plain_run(tmp_path):
    from glassnet.train.run import train_run

    cfg = {"model": "two_layer_net", "limit": 200, "epochs": 1, "batch_size": 32, "augment": False}
    plain = train_run(cfg, out_dir=tmp_path / "plain", progress=False)
    local = train_run(cfg, out_dir=tmp_path / "local", progress=False, comm=LocalComm())
    a = io.load(tmp_path / "local" / "model.safetensors").state_dict()
    b = io.load(tmp_path / "plain" / "model.safetensors").state_dict()
    assert cases.relative_difference(a, b) < 1e-5  # float32; the shard-sum scaling rounds differently
    assert abs(local["test_accuracy"] - plain["test_accuracy"]) < 0.01
