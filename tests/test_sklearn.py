"""GlassnetClassifier: scikit-learn's estimator checks, digits in every input layout, labels of any
type, Pipeline and GridSearchCV, determinism from the seed, clear errors."""
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from glassnet import io, nn
from glassnet.sklearn import GlassnetClassifier

# scikit-learn's own checks, on three small configurations: an MLP (float32, the default), a CNN with
# batch norm and dropout (flat check data becomes D channels of a 1x1 image), and the 1-D CNN (flat
# check data becomes a one-channel signal of length D). Every applicable check
# passes: nothing is expected to fail. Two checks skip themselves in this environment, not because of
# the estimator: check_array_api_input (needs SCIPY_ARRAY_API=1 and an array-API library) and
# check_classifier_data_not_an_array (needs pandas).
# The CNN runs in float64: check_estimators_pickle(readonly_memmap=True) reloads the weights as read-only
# np.memmap arrays, which take the NumPy reference kernels while the original's plain arrays may take
# the compiled (numba) ones; in float32 the two summation orders differ by ~1e-7 relative, at the
# check's rtol=1e-7. In float64 both agree far inside it.
CHECKED = [
    GlassnetClassifier(model="two_layer_net", model_kwargs={"hidden": 16}, epochs=15, batch_size=16, lr=1e-2),
    GlassnetClassifier(model="vgg_small", model_kwargs={"channels": (8,), "convs_per_block": 1}, epochs=20,
                       batch_size=16, lr=1e-2, dtype="float64"),
    GlassnetClassifier(model="cnn1d", model_kwargs={"channels": (8,), "kernel_size": 3}, epochs=20, batch_size=16,
                       lr=1e-2, dtype="float64"),
]


@parametrize_with_checks(CHECKED, expected_failed_checks=lambda est: {})
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    """600 digits: flat (N, 64) pixels in [0, 16] and integer labels."""
    data = load_digits()
    return data.data[:600].astype(np.float32), data.target[:600]


def small_cnn(**kw):
    params = dict(model="classic_cnn", model_kwargs={"channels": (8, 16), "hidden": 32}, epochs=5, batch_size=16,
                  lr=1e-2, input_shape=(1, 8, 8))
    params.update(kw)
    return GlassnetClassifier(**params)


def test_learns_digits_from_images(digits):
    x, y = digits
    images = (x / 16.0).reshape(-1, 1, 8, 8)
    clf = small_cnn(input_shape=None).fit(images[:450], y[:450])
    assert clf.input_shape_ == (1, 8, 8) and clf.n_features_in_ == 1
    assert clf.score(images[450:], y[450:]) > 0.75  # 10 classes; a few epochs on 450 digits
    assert len(clf.history_["train_loss"]) == 5 and clf.history_["train_loss"][-1] < clf.history_["train_loss"][0]


def test_flat_input_with_input_shape_equals_image_input(digits):
    x, y = digits
    flat = small_cnn(epochs=1).fit(x[:200] / 16, y[:200])
    images = small_cnn(epochs=1, input_shape=None).fit((x[:200] / 16).reshape(-1, 1, 8, 8), y[:200])
    assert np.array_equal(flat.predict_proba(x[200:260] / 16),
                          images.predict_proba((x[200:260] / 16).reshape(-1, 1, 8, 8)))
    assert flat.n_features_in_ == 64
    with pytest.raises(ValueError, match="expecting 64 features"):
        flat.predict(x[:5, :32])


def test_three_axis_images_get_one_channel_and_flat_features_become_channels(digits):
    x, y = digits
    clf = small_cnn(input_shape=None, epochs=1).fit(x[:100].reshape(-1, 8, 8), y[:100])
    assert clf.input_shape_ == (1, 8, 8)
    mlp = GlassnetClassifier(model="two_layer_net", epochs=1).fit(x[:100], y[:100])
    assert mlp.input_shape_ == (64, 1, 1)


def test_labels_of_any_type_are_mapped_through_classes(digits):
    x, y = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    clf = small_cnn(epochs=2).fit(x[:300] / 16, names[y[:300]])
    assert list(clf.classes_) == sorted(names)
    pred = clf.predict(x[300:400] / 16)
    assert pred.dtype == names.dtype and set(pred) <= set(names)
    proba = clf.predict_proba(x[300:400] / 16)
    assert proba.shape == (100, 10) and np.allclose(proba.sum(axis=1), 1)
    assert np.array_equal(clf.classes_[proba.argmax(axis=1)], pred)
    assert clf.score(x[300:400] / 16, names[y[300:400]]) > 0.5


def test_in_a_pipeline_with_a_scaler_on_flat_pixels(digits):
    x, y = digits
    pipe = make_pipeline(StandardScaler(), small_cnn()).fit(x[:450], y[:450])
    assert pipe.score(x[450:], y[450:]) > 0.6


def test_grid_search_on_digits(digits):
    x, y = digits
    search = GridSearchCV(make_pipeline(StandardScaler(), small_cnn(epochs=2)),
                          {"glassnetclassifier__lr": [1e-4, 1e-2]}, cv=2)
    search.fit(x[:400], y[:400])
    assert search.best_params_ == {"glassnetclassifier__lr": 1e-2}
    assert search.best_score_ > 0.5
    assert isinstance(search.best_estimator_[-1].model_, nn.Sequential)


def test_cross_val_score_runs(digits):
    x, y = digits
    clf = GlassnetClassifier(model="two_layer_net", model_kwargs={"hidden": 32}, epochs=3, lr=1e-2)
    scores = cross_val_score(clf, x[:300] / 16, y[:300], cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.6


def test_fit_is_deterministic_from_the_seed(digits):
    x, y = digits
    args = dict(epochs=2, model_kwargs={"channels": (4, 8), "hidden": 16, "dropout": 0.5})
    a = small_cnn(**args).fit(x[:200], y[:200]).predict_proba(x[200:260])
    b = small_cnn(**args).fit(x[:200], y[:200]).predict_proba(x[200:260])
    c = small_cnn(seed=1, **args).fit(x[:200], y[:200]).predict_proba(x[200:260])
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
    unseeded = small_cnn(seed=None, **args).fit(x[:50], y[:50])
    assert isinstance(unseeded.seed_, int)


def test_get_set_params_and_clone():
    clf = GlassnetClassifier(model="lenet5", epochs=3, model_kwargs={"dropout": 0.1})
    params = clf.get_params()
    assert params["model"] == "lenet5" and params["epochs"] == 3 and params["seed"] == 0
    assert clf.set_params(lr=0.05, optimizer="sgd") is clf and clf.lr == 0.05
    twin = clone(clf)
    assert twin.get_params() == clf.get_params() and twin.model_kwargs is not clf.model_kwargs


def test_float64_training_and_the_fitted_model_saves_and_exports(digits, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    x, y = digits
    clf = small_cnn(epochs=1, dtype="float64").fit(x[:100] / 16, y[:100])
    assert clf.model_[0].weight.dtype == np.float64
    images = (x[100:120] / 16).reshape(-1, 1, 8, 8)
    io.save(clf.model_, tmp_path / "m.safetensors")
    loaded = io.load(tmp_path / "m.safetensors").eval()
    assert np.array_equal(loaded.forward(images.astype(np.float64)), clf.model_.forward(images.astype(np.float64)))
    io.to_onnx(clf.model_, tmp_path / "m.onnx", clf.input_shape_)
    sess = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    scores = sess.run(None, {"input": images.astype(np.float32)})[0]
    assert np.array_equal(clf.classes_[scores.argmax(1)], clf.predict(x[100:120] / 16))


def test_a_custom_builder_is_accepted(digits):
    x, y = digits

    seeds = []

    def builder(input_shape, num_classes, hidden=8, seed=None):
        seeds.append(seed)
        rng = np.random.default_rng(seed)
        return nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(input_shape)), hidden, rng=rng), nn.ReLU(),
                             nn.Linear(hidden, num_classes, rng=rng))

    clf = GlassnetClassifier(model=builder, model_kwargs={"hidden": 12}, epochs=1, seed=7).fit(x[:100], y[:100])
    assert clf.model_[1].out_features == 12 and seeds == [7]


def test_batch_norm_model_drops_a_last_batch_of_one_and_refuses_one_sample(digits):
    x, y = digits
    clf = GlassnetClassifier(model="vgg_small", model_kwargs={"channels": (4,), "convs_per_block": 1},
                             epochs=1, batch_size=16)
    clf.fit(x[:33], y[:33])  # 33 = 2 * 16 + 1: the lone last sample would break batch norm
    with pytest.raises(ValueError, match="n_samples=1"):
        clone(clf).fit(x[:1], y[:1])
    with pytest.raises(ValueError, match="batch_size=1"):
        clone(clf).set_params(batch_size=1).fit(x[:4], y[:4])


@pytest.mark.parametrize("params, message", [
    ({"input_shape": (1, 4, 4)}, r"input_shape \(1, 4, 4\) needs 16 values per sample"),
    ({"input_shape": (8, 8)}, "input_shape must be"),
    ({"input_shape": (64, 1, 1)}, r"X holds images of shape \(1, 8, 8\) but input_shape is \(64, 1, 1\)"),
    ({"model": "resnet"}, "unknown model 'resnet'"),
    ({"model": 3}, "zoo model name or a callable"),
    ({"optimizer": "lbfgs"}, "unknown optimizer"),
    ({"schedule": "exponential"}, "unknown schedule"),
    ({"dtype": "float16"}, "dtype must be one of"),
    ({"epochs": 0}, "epochs must be a positive integer"),
    ({"batch_size": 2.5}, "batch_size must be a positive integer"),
])
def test_bad_parameters_are_reported_at_fit_and_leave_it_unfitted(digits, params, message):
    from sklearn.exceptions import NotFittedError

    x, y = digits
    clf = GlassnetClassifier(**params)
    with pytest.raises(ValueError, match=message):
        clf.fit(x[:20].reshape(-1, 1, 8, 8) if "X holds" in message else x[:20], y[:20])
    with pytest.raises(NotFittedError):
        clf.predict(x[:2])


def test_predict_refuses_samples_of_another_shape(digits):
    x, y = digits
    clf = small_cnn(input_shape=None, epochs=1).fit((x[:50] / 16).reshape(-1, 1, 8, 8), y[:50])
    with pytest.raises(ValueError, match=r"fitted on samples of shape \(1, 8, 8\)"):
        clf.predict((x[:5] / 16).reshape(-1, 1, 4, 16))


def test_cnn1d_learns_signals_given_as_n_c_l_or_flat(digits):
    """The digits' 8 rows as 8 channels of a length-8 signal, and flat as one channel of length 64."""
    x, y = digits
    signals = x.reshape(-1, 8, 8)
    clf = GlassnetClassifier(model="cnn1d", model_kwargs={"channels": (16, 32)}, epochs=8, batch_size=32, lr=1e-2)
    clf.fit(signals[:500], y[:500])
    assert clf.input_shape_ == (8, 8) and isinstance(clf.model_[0], nn.Conv1d)
    assert clf.score(signals[500:], y[500:]) > 0.8
    flat = GlassnetClassifier(model="cnn1d", model_kwargs={"channels": (8,)}, epochs=1).fit(x[:100], y[:100])
    assert flat.input_shape_ == (1, 64) and flat.predict(x[:5]).shape == (5,)
    with pytest.raises(ValueError, match=r"X must be \(N, L\) or \(N, C, L\) signals for cnn1d, got shape \(10, 1, 8, 8\)"):
        GlassnetClassifier(model="cnn1d").fit(x[:10].reshape(10, 1, 8, 8), y[:10])
    with pytest.raises(ValueError, match=r"input_shape must be \(C, L\) of positive sizes"):
        GlassnetClassifier(model="cnn1d", input_shape=(1, 8, 8)).fit(x[:10], y[:10])


def test_resnet20_fits_digit_images_and_its_model_saves_and_exports(digits, tmp_path):
    x, y = digits
    clf = GlassnetClassifier(model="resnet20", model_kwargs={"blocks": 1, "widths": (8, 16, 16)}, epochs=3,
                             batch_size=32, lr=1e-2, input_shape=(1, 8, 8))
    clf.fit(x[:400], y[:400])
    assert any(isinstance(m, nn.Residual) for m in clf.model_)
    assert clf.score(x[400:], y[400:]) > 0.5
    io.save(clf.model_, tmp_path / "m.safetensors")
    io.to_onnx(clf.model_, tmp_path / "m.onnx", clf.input_shape_)
    np.testing.assert_array_equal(io.load(tmp_path / "m.safetensors").eval()(x[:4].reshape(4, 1, 8, 8)),
                                  clf.model_(x[:4].reshape(4, 1, 8, 8)))
