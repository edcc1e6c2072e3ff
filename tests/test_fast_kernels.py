"""The compiled (numba) kernels against PyTorch, with the same tolerances as the NumPy reference
(1e-9 in float64, 1e-4 in float32): convolution (tiled im2col, both column builders, several tiles
and worker threads), max pooling (2x2 fast path, general and overlapping windows, ties, NaN),
ReLU and batch norm; float32 stays float32 everywhere; the kernel switch and its fallbacks.
Skipped as a whole when numba is not installed (it is the optional extra ``glassnet[fast]``).

``torch_parity.assert_matches_torch`` checks every implementation (NumPy and numba); the cases here
are chosen to reach the compiled code paths: tiny conv tiles (TILE_BYTES=512) so images split into
row bands, parallel kernels even on tiny arrays (PARALLEL_MIN=0), two worker threads."""
from functools import partial

import numpy as np
import pytest

pytest.importorskip("numba")

import torch  # noqa: E402
import torch.nn.functional as TF  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch_parity import assert_close, assert_matches_torch, randn, seeds  # noqa: E402

import glassnet.functional as F  # noqa: E402
from glassnet import nn  # noqa: E402
from glassnet import kernels  # noqa: E402
from glassnet.functional import _numba  # noqa: E402
from glassnet.functional._numba import activation as compiled_activation  # noqa: E402
from glassnet.functional._numba import conv as compiled_conv  # noqa: E402
from glassnet.functional._numba import norm as compiled_norm  # noqa: E402
from glassnet.functional._numba import pool as compiled_pool  # noqa: E402
from glassnet.functional._numba import threads  # noqa: E402


@pytest.fixture(autouse=True)
def compiled_kernels(monkeypatch):
    """Every test here runs the compiled kernels on two threads (work split between the caller and
    the pool), even on tiny arrays, with many small conv tiles."""
    monkeypatch.setattr(threads, "PARALLEL_MIN", 0)
    monkeypatch.setattr(compiled_conv, "TILE_BYTES", 512)
    with kernels.using("numba", threads=2):
        yield


def is_compiled(cache):
    return isinstance(cache, _numba.CompiledCache)


# ------------------------------------------------------------------ convolution
@st.composite
def conv_cases(draw):
    """Any kernel, stride and padding (padding below the kernel size), and 'same' layers often."""
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    same = draw(st.booleans())
    ph = (kh - 1) // 2 if same else draw(st.integers(0, kh - 1))
    pw = (kw - 1) // 2 if same else draw(st.integers(0, kw - 1))
    sh, sw = (1, 1) if same else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    return dict(
        n=draw(st.integers(1, 3)), c=draw(st.integers(1, 3)), f=draw(st.integers(1, 4)), kh=kh, kw=kw,
        sh=sh, sw=sw, ph=ph, pw=pw,
        h=draw(st.integers(max(1, kh - 2 * ph), kh + 6)), w=draw(st.integers(max(1, kw - 2 * pw), kw + 6)),
    )


@settings(max_examples=60, deadline=None)
@given(case=conv_cases(), seed=seeds)
def test_compiled_conv_matches_torch_any_stride_padding_and_kernel(case, seed):
    x = randn(seed, case["n"], case["c"], case["h"], case["w"])
    w, b = randn(seed + 1, case["f"], case["c"], case["kh"], case["kw"]), randn(seed + 2, case["f"])
    stride, pad = (case["sh"], case["sw"]), (case["ph"], case["pw"])
    assert is_compiled(F.conv_forward(x, w, b, stride, pad)[1])
    assert_matches_torch(partial(F.conv_forward, stride=stride, pad=pad), F.conv_backward,
                         partial(torch.conv2d, stride=stride, padding=pad), x, w, b, seed=seed)


@pytest.mark.parametrize("k, pad", [(3, 1), (5, 2), (1, 0), (3, 0), (5, 0)])
@pytest.mark.parametrize("tile_bytes", [512, 1 << 14, 1 << 22])
def test_compiled_conv_matches_torch_for_lenet_and_cifar_layer_shapes_and_tile_sizes(monkeypatch, k, pad, tile_bytes):
    """Whole-image tiles, several images per tile and bands of rows of one image."""
    monkeypatch.setattr(compiled_conv, "TILE_BYTES", tile_bytes)
    x, w, b = randn(0, 5, 3, 12, 10), randn(1, 4, 3, k, k), randn(2, 4)
    assert_matches_torch(partial(F.conv_forward, stride=1, pad=pad), F.conv_backward,
                         partial(torch.conv2d, stride=1, padding=pad), x, w, b)


def test_compiled_conv_without_bias_takes_the_scalar_zero_like_conv2d_does():
    x, w = randn(0, 2, 3, 6, 6), randn(1, 4, 3, 3, 3)
    out, cache = F.conv_forward(x, w, 0, 1, 1)
    expected = torch.conv2d(torch.tensor(x), torch.tensor(w), padding=1)
    assert_close(out, expected, 1e-12, "forward")
    dx, dw, db = F.conv_backward(np.ones_like(out), cache)
    assert db.shape == (4,)
    np.testing.assert_allclose(db, np.full(4, out[:, 0].size), rtol=1e-12)


def test_compiled_conv_with_two_worker_threads_equals_one_thread():
    x, w, b = randn(0, 6, 3, 9, 9), randn(1, 5, 3, 3, 3), randn(2, 5)
    out2, cache2 = F.conv_forward(x, w, b, 1, 1)
    grads2 = F.conv_backward(out2, cache2)
    kernels.set_num_threads(1)
    out1, cache1 = F.conv_forward(x, w, b, 1, 1)
    grads1 = F.conv_backward(out1, cache1)
    np.testing.assert_array_equal(out2, out1)  # each output tile is computed by one product either way
    for g2, g1 in zip(grads2, grads1):
        np.testing.assert_allclose(g2, g1, rtol=1e-12, atol=1e-12)  # dW sums the tiles in another order


def test_compiled_conv_on_the_cifar_shape_with_threads_and_row_bands_matches_torch():
    x = randn(3, 4, 3, 32, 32)
    w, b = randn(4, 8, 3, 3, 3), randn(5, 8)
    assert_matches_torch(partial(F.conv_forward, stride=1, pad=1), F.conv_backward,
                         partial(torch.conv2d, stride=1, padding=1), x, w, b)


# ------------------------------------------------------------------ pooling
@st.composite
def pool_cases(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    tiled = draw(st.booleans())
    sh, sw = (kh, kw) if tiled else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    return dict(n=draw(st.integers(1, 3)), c=draw(st.integers(1, 3)), kh=kh, kw=kw, sh=sh, sw=sw,
                h=draw(st.integers(kh, kh + 7)), w=draw(st.integers(kw, kw + 7)), ties=draw(st.booleans()))


@settings(max_examples=60, deadline=None)
@given(case=pool_cases(), seed=seeds)
def test_compiled_max_pool_matches_torch_including_ties(case, seed):
    size, stride = (case["kh"], case["kw"]), (case["sh"], case["sw"])
    x = randn(seed, case["n"], case["c"], case["h"], case["w"])
    if case["ties"]:
        x = np.round(x)  # many equal values: the gradient must go to the first maximum
    assert is_compiled(F.max_pool_forward(x, size, stride)[1])
    assert_matches_torch(partial(F.max_pool_forward, size=size, stride=stride), F.max_pool_backward,
                         partial(TF.max_pool2d, kernel_size=size, stride=stride), x, seed=seed)


@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (2, 3, 9, 7), (1, 1, 2, 2)])
def test_compiled_2x2_max_pool_fast_path_matches_torch_on_even_and_odd_sizes(shape):
    assert_matches_torch(partial(F.max_pool_forward, size=2, stride=2), F.max_pool_backward,
                         partial(TF.max_pool2d, kernel_size=2, stride=2), randn(0, *shape))


def test_compiled_max_pool_propagates_nan_like_torch():
    x = randn(0, 1, 1, 4, 4)
    x[0, 0, 1, 0] = np.nan
    out, _ = F.max_pool_forward(x, 2, 2)
    expected = TF.max_pool2d(torch.tensor(x), 2, 2).numpy()
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    np.testing.assert_array_equal(out[~np.isnan(out)], expected[~np.isnan(expected)])


def test_compiled_max_pool_caches_its_input_and_output_without_copies():
    """Backward finds the first maxima again from x and out, arrays a network keeps anyway."""
    x = randn(0, 2, 3, 8, 8).astype(np.float32)
    out, cache = F.max_pool_forward(x, 2, 2)
    assert np.shares_memory(cache[1], x) and np.shares_memory(cache[2], out)


# ------------------------------------------------------------------ ReLU
@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=4), seed=seeds)
def test_compiled_relu_matches_torch(shape, seed):
    assert_matches_torch(F.relu_forward, F.relu_backward, torch.relu, randn(seed, *shape), seed=seed)


def test_compiled_relu_keeps_nan_and_sends_no_gradient_through_it():
    x = np.array([-1.0, np.nan, 2.0, 0.0])
    out, cache = F.relu_forward(x)
    np.testing.assert_array_equal(out, [0.0, np.nan, 2.0, 0.0])
    np.testing.assert_array_equal(F.relu_backward(np.ones(4), cache), [0.0, 0.0, 1.0, 0.0])


# ------------------------------------------------------------------ batch norm
def bn_pair(train, momentum=0.1, eps=1e-5, c=3, seed=0):
    rng = np.random.default_rng(seed)
    rm, rv = rng.standard_normal(c), rng.uniform(0.5, 2.0, c)

    def forward(x, gamma, beta):
        running = {"mean": rm.astype(x.dtype), "var": rv.astype(x.dtype)}
        return F.batchnorm_forward(x, gamma, beta, running, train, momentum, eps)

    def torch_fn(x, gamma, beta):
        return TF.batch_norm(x, torch.tensor(rm, dtype=x.dtype), torch.tensor(rv, dtype=x.dtype), gamma, beta,
                             training=train, momentum=momentum, eps=eps)

    return forward, torch_fn


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 4), h=st.integers(1, 5), w=st.integers(1, 5), train=st.booleans(), seed=seeds)
def test_compiled_batchnorm_matches_torch_train_and_eval(n, h, w, train, seed):
    if train and n * h * w < 2:
        n = 2
    rng = np.random.default_rng(seed)
    x = rng.normal(rng.normal(0, 3, (1, 3, 1, 1)), rng.uniform(0.5, 3), (n, 3, h, w))
    forward, torch_fn = bn_pair(train, seed=seed)
    assert is_compiled(forward(x, np.ones(3), np.zeros(3))[1])
    assert_matches_torch(forward, F.batchnorm_backward, torch_fn, x, rng.uniform(0.5, 1.5, 3), rng.standard_normal(3),
                         seed=seed)


def test_compiled_batchnorm_running_statistics_follow_torch_with_an_offset_mean():
    """Shifted one-pass sums must not lose the variance of data far from zero."""
    x = 1000.0 + randn(0, 8, 3, 5, 5)
    running = {"mean": np.zeros(3), "var": np.ones(3)}
    F.batchnorm_forward(x, np.ones(3), np.zeros(3), running, True, 0.1, 1e-5)
    rm, rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    TF.batch_norm(torch.tensor(x), rm, rv, training=True, momentum=0.1, eps=1e-5)
    assert_close(running["mean"], rm, 1e-12, "running mean")
    assert_close(running["var"], rv, 1e-9, "running var")


# ------------------------------------------------------------------ float32 end to end
def test_compiled_kernels_keep_float32_in_every_output_gradient_and_cache():
    r = np.random.default_rng(0)
    x = r.standard_normal((2, 3, 8, 8)).astype(np.float32)
    w, b = r.standard_normal((4, 3, 3, 3)).astype(np.float32), r.standard_normal(4).astype(np.float32)
    out, cache = F.conv_forward(x, w, b, 1, 1)
    assert out.dtype == np.float32 and cache[2].dtype == np.float32
    assert all(g.dtype == np.float32 for g in F.conv_backward(np.ones_like(out), cache))
    out, cache = F.max_pool_forward(x, 2, 2)
    assert out.dtype == np.float32 and F.max_pool_backward(np.ones_like(out), cache).dtype == np.float32
    out, cache = F.relu_forward(x)
    assert out.dtype == np.float32 and F.relu_backward(np.ones_like(out), cache).dtype == np.float32
    running = {"mean": np.zeros(3, np.float32), "var": np.ones(3, np.float32)}
    g, beta = np.ones(3, np.float32), np.zeros(3, np.float32)
    for train in (True, False):
        out, cache = F.batchnorm_forward(x, g, beta, running, train)
        assert out.dtype == np.float32 and running["mean"].dtype == running["var"].dtype == np.float32
        assert all(a.dtype == np.float32 for a in F.batchnorm_backward(np.ones_like(out), cache))


def test_a_float32_cnn_training_step_under_compiled_kernels_stays_float32_and_matches_numpy_kernels():
    def step(choice):
        with kernels.using(choice):
            rng = np.random.default_rng(0)
            model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False, rng=rng), nn.BatchNorm2d(4), nn.ReLU(),
                                  nn.MaxPool2d(2),
                                  nn.Conv2d(4, 6, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Flatten(), nn.Linear(6 * 2 * 2, 5, rng=rng))
            x = rng.standard_normal((4, 3, 8, 8)).astype(np.float32)
            out = model(x)
            dx = model.backward(np.ones_like(out))
            return out, dx, {k: p.grad for k, p in model.named_parameters()}

    out, dx, grads = step("numba")
    out_ref, dx_ref, grads_ref = step("numpy")
    assert out.dtype == dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    assert_close(out, out_ref, 1e-5, "output")
    assert_close(dx, dx_ref, 1e-4, "input gradient")
    for k in grads:
        assert_close(grads[k], grads_ref[k], 1e-4, f"gradient of {k}")


# ------------------------------------------------------------------ the switch
def test_numpy_choice_runs_the_reference_kernels():
    x = randn(0, 2, 3, 4, 4)
    with kernels.using("numpy"):
        _, cache = F.conv_forward(x, randn(1, 2, 3, 3, 3), randn(2, 2), 1, 1)
        assert not is_compiled(cache)
        assert not is_compiled(F.max_pool_forward(x, 2, 2)[1])


def test_only_numpy_float32_or_float64_arrays_of_one_dtype_take_the_compiled_path():
    a32, a64 = np.zeros(3, np.float32), np.zeros(3)
    assert _numba.twin("conv", a32) is compiled_conv and _numba.twin("norm", a64, a64) is compiled_norm
    assert _numba.twin("pool", a32) is compiled_pool and _numba.twin("activation", a64) is compiled_activation
    assert _numba.twin("conv", a32, a64) is None  # mixed dtypes: the reference decides what to do
    assert _numba.twin("conv", np.zeros(3, np.float16)) is None
    assert _numba.twin("conv", np.zeros(3, np.int64)) is None

    class NotNumpy(np.ndarray):  # stands in for an array type the compiled kernels cannot take
        pass

    assert _numba.twin("conv", np.zeros(3).view(NotNumpy)) is None


def test_unknown_kernel_choice_is_rejected():
    with pytest.raises(ValueError, match="unknown kernels"):
        kernels.use("fortran")


def test_compiled_batchnorm_refuses_training_on_one_value_per_channel_like_the_reference():
    running = {"mean": np.zeros(2), "var": np.ones(2)}
    with pytest.raises(ValueError, match="more than one value per channel"):
        F.batchnorm_forward(randn(0, 1, 2, 1, 1), np.ones(2), np.zeros(2), running, True)
    np.testing.assert_array_equal(running["mean"], 0.0)  # nothing was updated


# ------------------------------------------------------------------ the twins mirror the reference
TWINS = [("conv", F.conv_forward, F.conv_backward), ("pool", F.max_pool_forward, F.max_pool_backward),
         ("activation", F.relu_forward, F.relu_backward), ("norm", F.batchnorm_forward, F.batchnorm_backward)]


@pytest.mark.parametrize("family, forward, backward", TWINS, ids=[t[0] for t in TWINS])
def test_each_compiled_twin_has_the_reference_kernels_name_and_signature_one_directory_away(family, forward, backward):
    import importlib
    import inspect

    twin = importlib.import_module(f"glassnet.functional._numba.{family}")
    assert forward.__module__ == f"glassnet.functional.{family}"
    for reference in (forward, backward):
        compiled = getattr(twin, reference.__name__)
        assert inspect.signature(compiled) == inspect.signature(reference), reference.__name__


def test_compiled_backward_refuses_the_cache_of_another_kernel():
    x = randn(0, 2, 3, 4, 4)
    _, pool_cache = F.max_pool_forward(x, 2, 2)
    with pytest.raises(ValueError, match="conv_backward: got the cache of max_pool_forward"):
        F.conv_backward(np.ones((2, 4, 4, 4)), pool_cache)


def test_compiled_conv_gradients_are_bitwise_the_same_for_one_two_and_three_threads():
    """The weight gradient is summed over parts of the tiles fixed by the shapes, in one order."""
    x, w, b = randn(0, 7, 3, 9, 9), randn(1, 5, 3, 3, 3), randn(2, 5)
    results = []
    for n in (1, 2, 3):
        with kernels.using(threads=n):
            out, cache = F.conv_forward(x, w, b, 1, 1)
            results.append((out, *F.conv_backward(out, cache)))
    for other in results[1:]:
        for a, b_ in zip(results[0], other):
            np.testing.assert_array_equal(a, b_)


def test_kernels_using_restores_the_choice_and_the_thread_count():
    before = kernels.current(), kernels.get_num_threads()
    with kernels.using("numpy", threads=3):
        assert (kernels.current(), kernels.get_num_threads()) == ("numpy", 3)
    assert (kernels.current(), kernels.get_num_threads()) == before
