"""InferencePlan: batch norm folded, conv + bias + ReLU + max pool fused, buffers reused - and the
scores equal the layer-by-layer eval forward (float64 within 1e-9, float32 within 1e-5, relative to
the largest score) on every zoo model, at batch 1 and larger, on one and two threads, on the
compiled kernels and on the NumPy reference."""
import numpy as np
import pytest

from glassnet import backend, kernels, nn
from glassnet.inference import InferencePlan
from glassnet.inference import fold as ops
from glassnet.models.zoo import MODELS, build_model

TOL = {np.float64: 1e-9, np.float32: 1e-5}
INPUTS = {"two_layer_net": (1, 8, 8), "classic_cnn": (1, 12, 12), "lenet5": (1, 28, 28), "vgg_small": (3, 16, 16),
          "resnet20": (3, 8, 8), "cnn1d": (2, 40)}


def randomize_batchnorm(model, rng):
    """Running statistics and affine parameters far from their initial 0/1, so folding them matters."""
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            dtype = m.weight.data.dtype
            m.running_mean[...] = rng.standard_normal(m.num_features).astype(dtype)
            m.running_var[...] = rng.uniform(0.3, 3.0, m.num_features).astype(dtype)
            m.weight.data[...] = rng.uniform(0.5, 2.0, m.num_features).astype(dtype)
            m.bias.data[...] = rng.standard_normal(m.num_features).astype(dtype)
    return model


def eval_forward(model, x):
    model.eval()
    with model.no_grad():
        return model(x)


def assert_close_to_layer_by_layer(model, x, dtype):
    plan = InferencePlan(model)
    out, ref = plan(x), eval_forward(model, x)
    assert out.dtype == ref.dtype == dtype
    assert np.max(np.abs(out - ref)) <= TOL[dtype] * max(1.0, np.max(np.abs(ref)))


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request):
    with kernels.using(threads=request.param):
        yield request.param


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch", [1, 5])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_plan_equals_layer_by_layer_eval_forward_on_every_zoo_model(name, batch, dtype, threads):
    backend.set_default_dtype(dtype)
    rng = np.random.default_rng(batch)
    model = randomize_batchnorm(build_model(name, INPUTS[name], 10, seed=batch), rng)
    x = rng.standard_normal((batch, *INPUTS[name])).astype(dtype)
    assert_close_to_layer_by_layer(model, x, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_plan_gathers_convolutions_little_narrower_than_their_input_as_full_width_rows_and_equals_the_forward(
        dtype, threads):
    """Stride-1 convolutions with W <= WIDE_MAX * Wo compute the W - Wo wrapped columns too and drop
    them; whether pooled afterwards or copied out, the result is the layer-by-layer forward."""
    from glassnet.inference import plan as plan_module  # noqa: PLC0415

    backend.set_default_dtype(dtype)
    rng = np.random.default_rng(3)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 5, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),  # 24 -> 22 -> 11: wide, pooled
        nn.Conv2d(8, 12, 3, rng=rng),                                        # 11 -> 9 (W/Wo 1.22): wide, copied out
        nn.Conv2d(12, 6, 3, padding=(1, 0), rng=rng), nn.ReLU(),             # 9x9 -> 9x7 (W/Wo 1.29): columns
        nn.Flatten(), nn.Linear(6 * 9 * 7, 4, rng=rng))
    x = rng.standard_normal((3, 3, 24, 24)).astype(dtype)
    plan = InferencePlan(model)
    convs = [step for step in plan.program(x.shape).steps if hasattr(step, "wide")]
    assert 11 / 9 <= plan_module.WIDE_MAX < 9 / 7
    assert [step.wide for step in convs] == [True, True, False]
    assert_close_to_layer_by_layer(model, x, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_plan_runs_convolutions_before_a_2x2_pool_by_kernel_rows_where_the_rule_says_and_equals_the_forward(
        dtype, threads):
    """Kernel rows (the kernel's columns as shifts of the outputs): without and with padding (unequal
    on the two axes), a kernel taller than wide and wider than tall, an odd output (its last row and
    column are not pooled), without ReLU; a NaN in the input reaches the same outputs as layer by layer."""
    backend.set_default_dtype(dtype)
    rng = np.random.default_rng(4)
    model = nn.Sequential(
        nn.Conv2d(6, 8, 5, rng=rng), nn.ReLU(), nn.MaxPool2d(2),                    # 17 -> 13 -> 6: odd output
        nn.Conv2d(8, 10, (3, 5), padding=(1, 2), rng=rng), nn.MaxPool2d(2),         # 6 -> 6 -> 3, no ReLU
        nn.Conv2d(10, 4, (2, 1), padding=(1, 0), rng=rng), nn.ReLU(), nn.MaxPool2d(2),  # 3 -> 4x3 -> 2x1
        nn.Flatten(), nn.Linear(4 * 2 * 1, 3, rng=rng))
    x = rng.standard_normal((3, 6, 17, 17)).astype(dtype)
    plan = InferencePlan(model)
    steps = [step.describe() for step in plan.program(x.shape).steps]
    assert steps[:3] == ["conv+bias+relu+maxpool (kernel rows)", "conv+bias+maxpool (kernel rows)",
                         "conv+bias+relu+maxpool (kernel rows)"]
    assert_close_to_layer_by_layer(model, x, dtype)
    x[1, 2, 8, 4] = np.nan
    out, ref = plan(x), eval_forward(model, x)
    assert np.array_equal(np.isnan(out), np.isnan(ref)) and np.isnan(ref[1]).all() and not np.isnan(ref[[0, 2]]).any()
    assert np.max(np.abs(out[[0, 2]] - ref[[0, 2]])) <= TOL[dtype] * max(1.0, np.max(np.abs(ref[[0, 2]])))


@pytest.mark.parametrize("pool", [nn.MaxPool2d(3), nn.MaxPool2d(2, stride=1)], ids=["3x3", "2x2-stride1"])
def test_plan_keeps_the_columns_for_a_convolution_that_another_pool_follows(pool, threads):
    """Kernel rows take their pool from the shifted sums for 2x2 windows of stride 2 only."""
    backend.set_default_dtype(np.float64)
    rng = np.random.default_rng(5)
    model = nn.Sequential(nn.Conv2d(6, 8, 5, rng=rng), nn.ReLU(), pool, nn.Flatten())
    x = rng.standard_normal((2, 6, 17, 17))
    step = InferencePlan(model).program(x.shape).steps[0]
    assert step.describe() == "conv+bias+relu+maxpool"
    assert_close_to_layer_by_layer(model, x, np.float64)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_plan_on_the_numpy_reference_kernels_equals_the_layer_by_layer_forward(name):
    backend.set_default_dtype(np.float64)
    rng = np.random.default_rng(0)
    model = randomize_batchnorm(build_model(name, INPUTS[name], 10), rng)
    x = rng.standard_normal((3, *INPUTS[name]))
    with kernels.using("numpy"):
        assert_close_to_layer_by_layer(model, x, np.float64)


def test_plan_folds_linear_bn1d_and_fuses_strided_convs_pools_without_relu_and_standalone_batchnorm(threads):
    backend.set_default_dtype(np.float64)
    rng = np.random.default_rng(1)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, stride=2, padding=1, rng=rng), nn.MaxPool2d(2),       # strided conv, pool without ReLU
        nn.BatchNorm2d(4), nn.ReLU(),                                               # BN with no conv before it
        nn.Conv2d(4, 5, (3, 1), padding=(0, 1), bias=False, rng=rng), nn.BatchNorm2d(5), nn.LeakyReLU(0.1),
        nn.MaxPool2d(2, stride=1), nn.Flatten(), nn.Dropout(0.5),
        nn.Linear(5 * 1 * 5, 6, rng=rng), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3, rng=rng))
    randomize_batchnorm(model, rng)
    kinds = [type(op).__name__ for op in ops.fold(model)]
    assert kinds == ["Conv", "ChannelAffine", "Conv", "Layer", "Layer", "Flatten", "Linear", "Linear"]
    assert_close_to_layer_by_layer(model, rng.standard_normal((4, 3, 16, 16)), np.float64)


def test_plan_runs_layers_without_a_fused_form_through_their_own_forward():
    backend.set_default_dtype(np.float64)
    rng = np.random.default_rng(2)
    block = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, rng=rng), nn.BatchNorm2d(4))  # a nested container
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, rng=rng), nn.ReLU(), block, nn.Tanh(),
                          nn.GlobalAvgPool2d(), nn.Linear(4, 3, rng=rng), nn.Softmax())
    randomize_batchnorm(model, rng)
    model.train()
    assert_close_to_layer_by_layer(model.train(), rng.standard_normal((3, 2, 6, 6)), np.float64)


@pytest.mark.parametrize("layers", [
    lambda rng: [nn.Flatten()],                                                        # views only
    lambda rng: [nn.Flatten(), nn.Flatten(), nn.Linear(2 * 6 * 6, 3, rng=rng)],        # views before the first call
    lambda rng: [nn.Conv2d(2, 3, 3, rng=rng), nn.GlobalAvgPool2d(), nn.Flatten()],    # a view after the last one
    lambda rng: [nn.Tanh(), nn.Conv2d(2, 3, 3, rng=rng), nn.ReLU(), nn.Flatten(), nn.Softmax()],  # own forward first
], ids=["flatten", "flatten-flatten-linear", "conv-gap-flatten", "tanh-conv-relu-flatten-softmax"])
def test_plan_reads_each_new_input_whatever_step_comes_first_or_last(layers, threads):
    """The calls after the first computing step are bound once per program; the first reads each call's input."""
    backend.set_default_dtype(np.float64)
    rng = np.random.default_rng(6)
    model = nn.Sequential(*layers(rng))
    plan = InferencePlan(model)
    for x in rng.standard_normal((3, 5, 2, 6, 6)):
        out = plan(x)
        np.testing.assert_allclose(out, eval_forward(model, x), rtol=0, atol=1e-12)


def test_plan_reuses_its_buffers_and_returns_results_later_calls_do_not_overwrite():
    rng = np.random.default_rng(3)
    model = build_model("lenet5", (1, 28, 28), 10).eval()
    plan = InferencePlan(model)
    x1, x2 = rng.standard_normal((2, 4, 1, 28, 28)).astype(np.float32)
    out1 = plan(x1)
    program = plan.program(x1.shape)
    buffers = [step.out for step in program.steps]
    kept = out1.copy()
    out2 = plan(x2)
    assert plan.program(x2.shape) is program
    assert all(step.out is b for step, b in zip(program.steps, buffers))
    np.testing.assert_array_equal(out1, kept)
    assert not np.array_equal(out1, out2)
    assert plan(x1[:1]).shape == (1, 10)  # a new shape gets its own program
    assert len(plan._programs) == 2
    for n in range(2, 12):  # ... and only the latest few shapes keep their buffers
        plan(np.zeros((n, 1, 28, 28), np.float32))
    shapes = [shape for shape, _ in plan._programs]
    assert len(shapes) == 8 and (11, 1, 28, 28) in shapes and (4, 1, 28, 28) not in shapes


def test_plan_splits_the_batch_between_as_many_threads_as_are_set_when_it_runs():
    model = build_model("lenet5", (1, 28, 28), 10).eval()
    x = np.random.default_rng(5).standard_normal((6, 1, 28, 28)).astype(np.float32)
    plan = InferencePlan(model)
    with kernels.using("numba", threads=1):
        one = plan(x)
        assert len(plan.program(x.shape).shares) == 1
    with kernels.using("numba", threads=2):
        two = plan(x)
        assert len(plan.program(x.shape).shares) == 2
    np.testing.assert_allclose(one, two, rtol=1e-5, atol=1e-6)  # the BLAS may sum a 3-row product differently


def test_plan_runs_every_blas_product_on_one_thread_also_when_one_thread_runs_the_whole_batch(monkeypatch):
    """Convolution products run on a single-threaded BLAS (``kernels.set_num_threads``): a BLAS left
    on its own threads would split the products of a single-share call (batch 1, or one kernel
    thread) between threads glassnet was not given."""
    from glassnet.inference import plan as plan_module  # noqa: PLC0415

    entered = []
    real = plan_module.blas_one_thread

    def recording():
        entered.append(True)
        return real()

    monkeypatch.setattr(plan_module, "blas_one_thread", recording)
    plan = InferencePlan(build_model("lenet5", (1, 28, 28), 10).eval())
    for threads, batch in ((2, 1), (2, 4), (1, 4)):
        with kernels.using("numba", threads=threads):
            entered.clear()
            plan(np.zeros((batch, 1, 28, 28), np.float32))
            assert entered == [True], (threads, batch)


def test_plan_is_a_snapshot_that_leaves_the_model_as_it_was():
    rng = np.random.default_rng(4)
    model = randomize_batchnorm(build_model("vgg_small", (3, 8, 8), 10), rng).train()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    plan = InferencePlan(model)
    first = plan(x)
    assert model.training
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())
    model[0].weight.data[...] = 0  # later changes to the model do not reach the plan
    np.testing.assert_array_equal(plan(x), first)


def test_plan_refuses_arrays_that_are_not_numpy_and_says_what_to_use():
    plan = InferencePlan(build_model("two_layer_net", (1, 8, 8), 10))
    with pytest.raises(TypeError, match=r"runs on NumPy arrays, got builtins.list.*model.no_grad"):
        plan([[0.0] * 64])


def test_plan_names_the_layer_when_the_input_has_the_wrong_number_of_channels():
    model = build_model("lenet5", (1, 28, 28), 10)
    with pytest.raises(ValueError, match=r"layer 0 expects 1 input channels, got input of shape \(2, 3, 28, 28\)"):
        InferencePlan(model)(np.zeros((2, 3, 28, 28), np.float32))


def test_predict_scores_with_a_plan_equals_the_layer_by_layer_scores_over_several_batches():
    from glassnet.train import predict_scores

    rng = np.random.default_rng(5)
    model = randomize_batchnorm(build_model("vgg_small", (3, 8, 8), 10), rng)
    x = rng.standard_normal((7, 3, 8, 8)).astype(np.float32)
    fused, plain = predict_scores(model, x, batch_size=3, use_plan=True), predict_scores(model, x, batch_size=3)
    assert fused.shape == plain.shape == (7, 10)
    assert np.max(np.abs(fused - plain)) <= 1e-5 * max(1.0, np.max(np.abs(plain)))
