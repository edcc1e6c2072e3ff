"""The optimizers' compiled updates (optim/_numba.py) against their NumPy references, bit for bit.

Parity with torch.optim is in test_optim.py (it runs whichever kernels are active, the compiled
ones by default); here: the compiled update equals the reference exactly (same float32/float64
arithmetic in the same order) for every variant, on one and two threads with the parameters cut
into pieces, and it steps aside where it must (NumPy kernels chosen, a subclass's own update,
non-contiguous arrays)."""
import numpy as np
import pytest

from glassnet import kernels
from glassnet.functional._numba import threads
from glassnet.nn.module import Parameter
from glassnet.optim import SGD, Adam, AdamW, RMSprop

VARIANTS = [
    pytest.param(SGD, dict(lr=0.1), id="sgd-plain"),
    pytest.param(SGD, dict(lr=0.1, weight_decay=0.1), id="sgd-weight_decay"),
    pytest.param(SGD, dict(lr=0.05, momentum=0.9), id="sgd-momentum"),
    pytest.param(SGD, dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01), id="sgd-dampening-decay"),
    pytest.param(SGD, dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.05), id="sgd-nesterov-decay"),
    pytest.param(Adam, dict(), id="adam-defaults"),
    pytest.param(Adam, dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1), id="adam-decay"),
    pytest.param(Adam, dict(lr=1e-2, amsgrad=True, weight_decay=0.05), id="adam-amsgrad-decay"),
    pytest.param(AdamW, dict(), id="adamw-defaults"),
    pytest.param(AdamW, dict(lr=1e-2, betas=(0.5, 0.9), amsgrad=True), id="adamw-amsgrad"),
    pytest.param(RMSprop, dict(), id="rmsprop-defaults"),
    pytest.param(RMSprop, dict(lr=1e-3, momentum=0.9, weight_decay=0.1), id="rmsprop-momentum-decay"),
    pytest.param(RMSprop, dict(lr=1e-3, momentum=0.5, centered=True, weight_decay=0.01), id="rmsprop-centered-momentum"),
]

SHAPES = [(37, 23), (23,), (4, 3, 5, 5)]


def run(cls, kwargs, choice, dtype, n_threads=1, steps=6, seed=0):
    """Parameters and optimizer state after ``steps`` steps with the ``choice`` kernels; checks that
    the compiled kernels did not fall back on the reference (but for SGD's first momentum step)."""
    rng = np.random.default_rng(seed)
    params = [Parameter(rng.standard_normal(s).astype(dtype)) for s in SHAPES]
    opt = cls(params, **kwargs)
    calls = []
    reference = opt._update
    opt._update = lambda *args: calls.append(1) or reference(*args)
    with kernels.using(choice, threads=n_threads):
        for _ in range(steps):
            for p in params:
                p.grad[...] = rng.standard_normal(p.data.shape)
            opt.step()
    first_step_by_reference = cls is SGD and kwargs.get("momentum", 0) != 0
    expected = steps * len(SHAPES) if choice == "numpy" else len(SHAPES) * first_step_by_reference
    assert len(calls) == expected
    return [p.data for p in params], opt.state


def assert_same(a, b):
    (wa, sa), (wb, sb) = a, b
    for x, y in zip(wa, wb):
        np.testing.assert_array_equal(x, y)
    assert [sorted(s) for s in sa] == [sorted(s) for s in sb]
    for s, t in zip(sa, sb):
        for name in s:
            np.testing.assert_array_equal(s[name], t[name], err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls,kwargs", VARIANTS)
def test_compiled_update_equals_the_numpy_reference_bit_for_bit(cls, kwargs, dtype):
    reference = run(cls, kwargs, "numpy", dtype)
    compiled = run(cls, kwargs, "numba", dtype)
    assert_same(compiled, reference)
    assert all(w.dtype == dtype for w in compiled[0])


@pytest.mark.parametrize("cls,kwargs", VARIANTS)
def test_compiled_update_cut_into_pieces_on_two_threads_equals_one_thread(cls, kwargs, monkeypatch):
    monkeypatch.setattr(threads, "PARALLEL_MIN", 16)  # test-sized parameters are shared between threads
    one = run(cls, kwargs, "numba", np.float32, n_threads=1)
    assert_same(run(cls, kwargs, "numba", np.float32, n_threads=2), one)
    assert_same(run(cls, kwargs, "numpy", np.float32), one)


@pytest.mark.parametrize("cls,kwargs", [VARIANTS[2], VARIANTS[7], VARIANTS[12]])
def test_compiled_update_spreads_nan_and_inf_like_the_reference(cls, kwargs):
    def with_bad_gradients(choice):
        params = [Parameter(np.linspace(-1, 1, 12).reshape(3, 4))]
        opt = cls(params, **kwargs)
        with kernels.using(choice):
            for bad in (np.nan, np.inf, 1.0):
                params[0].grad[...] = 0.5
                params[0].grad[1, ::2] = bad
                opt.step()
        return [params[0].data], opt.state

    assert_same(with_bad_gradients("numba"), with_bad_gradients("numpy"))


def count_reference_updates(opt, monkeypatch):
    """Count calls of the reference ``_update`` on this optimizer instance."""
    calls = []
    reference = opt._update

    def counted(*args):
        calls.append(1)
        return reference(*args)

    monkeypatch.setattr(opt, "_update", counted)
    return calls


def test_the_compiled_update_runs_instead_of_the_reference_after_sgds_first_momentum_step(monkeypatch):
    params = [Parameter(np.ones((5, 4), np.float32)), Parameter(np.ones(4, np.float32))]
    opt = SGD(params, lr=0.1, momentum=0.9)
    calls = count_reference_updates(opt, monkeypatch)
    with kernels.using("numba"):
        opt.step()  # the momentum buffer starts as a copy of the gradient: the reference does that
        assert len(calls) == 2
        opt.step()
        opt.step()
    assert len(calls) == 2
    with kernels.using("numpy"):
        opt.step()
    assert len(calls) == 4


def test_a_subclass_with_its_own_update_keeps_it():
    class HalfSGD(SGD):
        def _update(self, w, g, state, xp):
            w -= 0.5 * self.lr * g

    p = Parameter(np.ones(3))
    p.grad[...] = 1.0
    with kernels.using("numba"):
        HalfSGD([p], lr=1.0).step()
    np.testing.assert_array_equal(p.data, np.full(3, 0.5))


def test_non_contiguous_parameters_take_the_reference_and_still_agree(monkeypatch):
    def fortran_run(choice):
        params = [Parameter(np.asfortranarray(np.arange(12.0).reshape(3, 4)))]
        opt = Adam(params, lr=0.1)
        calls = count_reference_updates(opt, monkeypatch)
        with kernels.using(choice):
            for k in range(3):
                params[0].grad = np.asfortranarray(np.full((3, 4), 0.1 * (k + 1)))
                opt.step()
        assert len(calls) == 3
        return [params[0].data], opt.state

    assert_same(fortran_run("numba"), fortran_run("numpy"))
