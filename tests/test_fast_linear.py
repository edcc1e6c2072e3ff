"""The compiled path's affine layer (functional/_numba/linear.py): the reference's products cut into
parts fixed by the shapes and shared between threads. Parity with PyTorch is in test_linear.py
(``assert_matches_torch`` runs every kernel choice); here: the parts are shape-fixed, so results do
not depend on the thread count, and the cache, dtype and ``need_dx`` behave like the reference's."""
import numpy as np
import pytest

import glassnet.functional as F
from glassnet import kernels
from glassnet.functional import _numba
from glassnet.functional._numba import linear as compiled_linear


@pytest.fixture
def small_parts(monkeypatch):
    """Parts of a few multiply-adds, so test-sized products are cut into several."""
    monkeypatch.setattr(compiled_linear, "PART_MACS", 64)
    monkeypatch.setattr(compiled_linear, "MIN_ROWS", 2)


def step(threads, x, w, b, dout):
    with kernels.using("numba", threads=threads):
        out, cache = F.affine_forward(x, w, b)
        assert isinstance(cache, _numba.CompiledCache)
        return (out, *F.affine_backward(dout, cache))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_affine_gives_identical_results_on_one_two_and_three_threads(small_parts, dtype):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((37, 3, 5)).astype(dtype), rng.standard_normal((15, 11)).astype(dtype), \
        rng.standard_normal(11).astype(dtype)
    dout = rng.standard_normal((37, 11)).astype(dtype)
    assert len(compiled_linear._parts(37, 37 * 15 * 11)) > 3
    one = step(1, x, w, b, dout)
    for threads in (2, 3):
        for a, c in zip(one, step(threads, x, w, b, dout)):
            np.testing.assert_array_equal(a, c)
    for got in one:
        assert got.dtype == dtype
    with kernels.using("numpy"):
        out, cache = F.affine_forward(x, w, b)
        ref = (out, *F.affine_backward(dout, cache))
    for a, c in zip(one, ref):
        np.testing.assert_allclose(a, c, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5 if dtype == np.float32 else 1e-12)
    assert one[1].shape == x.shape


def test_compiled_affine_skips_dx_when_not_needed_and_takes_the_scalar_zero_bias(small_parts):
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((8, 6)), rng.standard_normal((6, 4))
    with kernels.using("numba", threads=2):
        out, cache = F.affine_forward(x, w, 0)
        dx, dw, db = F.affine_backward(np.ones((8, 4)), cache, need_dx=False)
    np.testing.assert_allclose(out, x @ w, rtol=1e-12)
    assert dx is None
    np.testing.assert_allclose(dw, x.T @ np.ones((8, 4)), rtol=1e-12)
    np.testing.assert_array_equal(db, np.full(4, 8.0))


def test_affine_parts_follow_the_shape_only_and_small_products_stay_whole():
    assert list(compiled_linear._parts(64, 64 * 400 * 120)) == [(0, 64)]  # LeNet's first FC at batch 64: ~3M MACs
    parts = compiled_linear._parts(256, 256 * 784 * 512)               # the MLP's first layer: 103M MACs
    assert list(parts) == [(0, 128), (128, 256)]
    assert len(compiled_linear._parts(512, 512 * 784 * 512)) == 4


def _centred_rows(a, out, r0, r1):
    """A product whose parts differ from its whole: each part subtracts its own mean."""
    out[r0:r1] = a[r0:r1] - a[r0:r1].mean()


def test_a_product_runs_whole_on_one_thread_only_where_the_whole_gives_its_parts_bits(monkeypatch):
    monkeypatch.setattr(compiled_linear, "_whole_matches", {})  # the probes' answers of this test only
    a, parts = np.arange(8.0).reshape(4, 2), ((0, 2), (2, 4))
    assert not compiled_linear._whole_gives_parts_bits(_centred_rows, (a,), np.empty((4, 2)), parts)
    out = np.empty((4, 2))
    with kernels.using("numba", threads=1):
        compiled_linear._run([(_centred_rows, (a,), out, parts)], macs=1)
    np.testing.assert_array_equal(out, np.vstack([a[:2] - a[:2].mean(), a[2:] - a[2:].mean()]))  # in parts

    calls = []

    def copy_rows(a, out, r0, r1):
        calls.append((r0, r1))
        out[r0:r1] = a[r0:r1]

    assert compiled_linear._whole_gives_parts_bits(copy_rows, (a,), out, parts)
    calls.clear()
    for threads, expected in ((1, [(0, 4)]), (2, [(0, 2), (2, 4)])):
        with kernels.using("numba", threads=threads):
            compiled_linear._run([(copy_rows, (a,), out, parts)], macs=compiled_linear.SHARE_MACS)
        assert sorted(calls) == expected  # whole on one thread, the parts shared on two
        calls.clear()

    fortran_operands = []

    def copy_rows_noting_order(a, out, r0, r1):
        fortran_operands.append(a.flags.f_contiguous and not a.flags.c_contiguous)
        out[r0:r1] = a[r0:r1]

    assert compiled_linear._whole_gives_parts_bits(copy_rows_noting_order, (np.asfortranarray(a),), out, parts)
    assert fortran_operands and all(fortran_operands)  # probed on operands in the caller's memory order
    fortran_operands.clear()
    assert not compiled_linear._whole_gives_parts_bits(copy_rows_noting_order, (np.arange(16.0).reshape(8, 2)[::2],),
                                                       out, parts)
    assert not fortran_operands  # a strided view is not probed: its product stays in parts
    monkeypatch.setattr(compiled_linear, "_whole_matches", {})
    monkeypatch.setattr(compiled_linear, "PROBE_MAX", a.size + out.size - 1)  # too large to probe: in parts
    assert not compiled_linear._whole_gives_parts_bits(copy_rows, (a,), out, parts)
    assert not calls  # not run to find out


def test_the_mlps_products_give_the_same_bits_whole_on_one_thread_as_in_parts_on_two():
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((256, 784), dtype=np.float32), rng.standard_normal((784, 512), dtype=np.float32), \
        rng.standard_normal(512, dtype=np.float32)
    dout = rng.standard_normal((256, 512), dtype=np.float32)
    assert len(compiled_linear._parts(256, 256 * 784 * 512)) == 2
    for a, c in zip(step(1, x, w, b, dout), step(2, x, w, b, dout)):
        np.testing.assert_array_equal(a, c)
