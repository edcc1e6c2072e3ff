"""glassnet.explain and `glassnet explain`: the page's embedded numbers are the model's forward and
backward, every zoo model works, unsupported layers and bad inputs are refused by name, the page
is one self-contained file, and the size caps degrade gracefully. (The page in a real browser:
test_explain_browser.py.)"""
import re
from importlib import resources

import numpy as np
import pytest

from glassnet import backend, nn
from glassnet.cli import main
from glassnet.explain import decode, page_data, read_data, write_page
from glassnet.explain.arrays import encode
from glassnet.explain.checks import check_entries
from glassnet.explain.layers import REGISTRY, UNITS
from glassnet.explain.texts import LANGS, LAYERS
from glassnet.models import MODELS, build_model
from glassnet.nn import CrossEntropyLoss

DIGIT = (1, 8, 8)


def _digit(seed=0, shape=DIGIT):
    return np.random.default_rng(seed).standard_normal(shape)


def _reference(model, x, target):
    """An independent float64 forward/backward of ``model`` on one input: per-layer outputs, output gradients,
    parameter gradients (through the model's own modules, not the explain code)."""
    model.eval()
    model.zero_grad()
    h, outs = x[None], []
    for layer in model:
        h = layer.forward(h)
        outs.append(h[0].copy())
    loss, d = CrossEntropyLoss()(h, np.array([target]))
    grads = []
    for layer in reversed(list(model)):
        grads.append(d[0].copy())
        d = layer.backward(d)
    grads.reverse()
    return outs, grads, {n: p.grad.copy() for n, p in model.named_parameters()}, loss, d[0]


def test_arrays_round_trip_exactly_through_base64_float64():
    a = np.random.default_rng(0).standard_normal((3, 4, 5))
    entry = encode(a)
    assert entry["shape"] == [3, 4, 5]
    np.testing.assert_array_equal(decode(entry), a)


def test_embedded_forward_and_backward_equal_the_models_in_float64(float64):
    model = build_model("vgg_small", DIGIT, 10, seed=1)
    x = _digit()
    data = page_data(model, x, target=3)
    outs, grads, pgrads, loss, dx = _reference(model, x, 3)
    target = data["targets"][0]
    assert target["target"] == 3 and abs(target["loss"] - loss) < 1e-12
    for k, layer in enumerate(data["layers"]):
        assert np.max(np.abs(decode(layer["output"]) - outs[k])) < 1e-9, layer["name"]
        assert np.max(np.abs(decode(target["layers"][k]["output_grad"]) - grads[k])) < 1e-9, layer["name"]
        for name, g in target["layers"][k]["weight_grads"].items():
            assert np.max(np.abs(decode(g) - pgrads[f"{layer['name']}.{name}"])) < 1e-9, (layer["name"], name)
    assert np.max(np.abs(decode(target["input_grad"]) - dx)) < 1e-9
    np.testing.assert_allclose(decode(data["probs"]).sum(), 1.0, atol=1e-12)


def test_float32_model_is_explained_in_float64_and_left_unchanged():
    model = build_model("classic_cnn", DIGIT, 10).train()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    x = _digit().astype(np.float32)
    data = page_data(model, x)
    assert data["model"]["dtype"] == "float32"
    assert model.training and all(p.dtype == np.float32 for p in model.parameters())
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())
    with backend.default_dtype(np.float64):
        copy64 = build_model("classic_cnn", DIGIT, 10)
    copy64.load_state_dict(before)
    outs, *_ = _reference(copy64, x.astype(np.float64), data["default_target"])
    np.testing.assert_allclose(decode(data["layers"][-1]["output"]), outs[-1], rtol=0, atol=1e-12)


SIGNAL = (2, 40)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_zoo_model_is_explained_and_each_layers_backward_passes_the_numerical_check(name):
    shape = SIGNAL if name == "cnn1d" else DIGIT
    data = page_data(build_model(name, shape, 10), _digit(2, shape))
    assert len(data["layers"]) == len(build_model(name, shape, 10))
    assert data["default_target"] == data["predicted"]
    assert sorted(t["target"] for t in data["targets"]) == list(range(10))
    for entry in data["targets"]:
        for layer, g in zip(data["layers"], entry["layers"]):
            for array, check in g["check"].items():
                assert check["entries"] > 0, (layer["name"], array)
                assert check["error"] < 1e-6, (layer["name"], array, check)


def test_numerical_check_skips_entries_on_a_kink_and_counts_them():
    relu = nn.ReLU()
    x = np.array([[0.0, 0.0, 1.5, -2.0]])
    g = np.ones_like(x)
    relu.forward(x)
    dx = relu.backward(g)
    result = check_entries(lambda: float(np.sum(relu.forward(x) * g)), x, dx, np.random.default_rng(0), samples=4)
    assert result["kinks"] == 2 and result["entries"] == 2
    assert result["error"] < 1e-9


def test_linear_unit_terms_plus_rest_plus_bias_equal_its_output(float64):
    model = build_model("two_layer_net", DIGIT, 10)
    data = page_data(model, _digit())
    layer = data["layers"][1]
    d = layer["details"]
    listed = (decode(d["top_x"]) * decode(d["top_w"])).sum(axis=1)
    total = decode(layer["weights"]["bias"]) + listed + decode(d["rest"])
    np.testing.assert_allclose(total, decode(layer["output"]), rtol=0, atol=1e-12)
    x = decode(data["layers"][0]["output"])
    np.testing.assert_array_equal(decode(d["top_x"]), x[decode(d["top_index"]).astype(int)])


def test_linear_unit_terms_are_the_same_when_formed_in_blocks_of_output_units(float64):
    from glassnet.explain.layers import _affine

    layer = nn.Linear(12, 7, rng=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal(12)
    whole, blocks = _affine(layer, x, None), _affine(layer, x, None, block=25)  # 2 units per block
    for key in whole:
        np.testing.assert_allclose(decode(blocks[key]), decode(whole[key]), rtol=0, atol=1e-12)


class ScaledReLU(nn.ReLU):
    """A subclass of a supported layer (the page explains it as its registered base class)."""


def test_a_subclass_of_a_supported_layer_is_explained_as_its_base_class():
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 5), ScaledReLU(), nn.Linear(5, 3))
    layer = page_data(model, _digit())["layers"][2]
    assert (layer["type"], layer["text"], layer["unit"]) == ("ScaledReLU", "ReLU", "elementwise")


def test_a_model_ending_in_softmax_uses_the_negative_log_probability(float64):
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 4, rng=np.random.default_rng(0)), nn.Softmax())
    data = page_data(model, _digit(), target=2)
    probs = decode(data["layers"][-1]["output"])
    assert data["probabilities"]
    np.testing.assert_allclose(data["targets"][0]["loss"], -np.log(probs[2]), rtol=1e-12)
    np.testing.assert_array_equal(decode(data["probs"]), probs)


@pytest.mark.parametrize("dim", [1, -1])
def test_softmax_unit_axis_is_the_class_axis_whichever_way_dim_counts(dim):
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 4, rng=np.random.default_rng(0)), nn.Softmax(dim=dim))
    assert page_data(model, _digit())["layers"][-1]["details"] == {"axis": 0}


class Doubler(nn.Module):
    def forward(self, x):
        return 2 * x

    def backward(self, dout):
        return 2 * dout


def test_residual_unit_is_body_plus_shortcut_and_both_paths_pass_the_numerical_check(float64):
    rng = np.random.default_rng(3)
    projection = nn.Residual(nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, rng=rng), nn.ReLU()), nn.Conv2d(1, 2, 1, rng=rng))
    identity = nn.Residual(nn.Sequential(nn.Conv2d(2, 2, 3, padding=1, rng=rng), nn.Tanh()))
    model = nn.Sequential(projection, identity, nn.Flatten(), nn.Linear(128, 3, rng=rng))
    x = _digit(4)
    data = page_data(model, x)
    first, second = data["layers"][0], data["layers"][1]
    assert (first["unit"], first["details"]["identity"], second["details"]["identity"]) == ("residual", False, True)
    assert first["details"]["body_layers"] == ["Conv2d", "ReLU"] and first["details"]["shortcut_layers"] == ["Conv2d"]
    for layer in (first, second):
        np.testing.assert_allclose(decode(layer["details"]["body"]) + decode(layer["details"]["shortcut"]),
                                   decode(layer["output"]), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(decode(second["details"]["shortcut"]), decode(first["output"]))
    for entry in data["targets"]:
        for check in entry["layers"][0]["check"].values():
            assert check["entries"] > 0 and check["error"] < 1e-6


def test_unsupported_layer_is_refused_naming_it_and_the_supported_ones():
    model = nn.Sequential(nn.Flatten(), Doubler(), nn.Linear(64, 3))
    with pytest.raises(ValueError, match=r"layer '1' Doubler is not supported.*supported layers: .*Conv2d"):
        page_data(model, _digit())


@pytest.mark.parametrize("x, message", [
    (np.full(DIGIT, np.nan), "NaN"),
    (np.array(["a"]), "numeric array"),
    (np.zeros((2, 8, 8)), "Conv2d"),
])
def test_bad_input_is_refused_with_a_clear_message(x, message):
    with pytest.raises(ValueError, match=message):
        page_data(build_model("classic_cnn", DIGIT, 10), x)


def test_target_out_of_range_and_unknown_language_are_refused():
    model = build_model("two_layer_net", DIGIT, 10)
    with pytest.raises(ValueError, match="target class 10 is out of range"):
        page_data(model, _digit(), target=10)
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        page_data(model, _digit(), lang="fr")


def test_every_registered_layer_has_a_unit_panel_and_texts_in_both_languages():
    for cls, kind in REGISTRY.items():
        assert kind.unit in UNITS
        assert all(LAYERS[cls.__name__][lang] for lang in LANGS) and LAYERS[cls.__name__]["formula"]
    page_js = (resources.files("glassnet.explain") / "assets" / "page.js").read_text(encoding="utf-8")
    for unit in UNITS:
        assert re.search(rf"\b{unit}\(layer, k, x, xshape", page_js), unit


def test_page_is_one_self_contained_file_with_a_csp_that_forbids_the_network(tmp_path):
    path = tmp_path / "page.html"
    data = write_page(build_model("lenet5", DIGIT, 10), _digit(), path)
    html = path.read_text(encoding="utf-8")
    assert "default-src 'none'" in html
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:)""", html)
    assert "http://" not in html and "https://" not in html
    assert read_data(path) == data


def test_names_with_markup_are_text_on_the_page_never_markup(tmp_path):
    path = tmp_path / "page.html"
    title = "net </title><script>alert(1)</script> & co"
    label = "x</script><script>alert(2)</script>.npy"
    data = write_page(build_model("two_layer_net", DIGIT, 3), _digit(), path, title=title, input_label=label,
                      classes=["<b>a</b>", "b", "c"])
    html = path.read_text(encoding="utf-8")
    assert "<title>glassnet explain: net &lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</title>" in html
    assert "alert(1)</script>" not in html and "alert(2)</script>" not in html and "<b>a</b>" not in html
    assert read_data(path) == data
    assert (data["model"]["name"], data["input"]["label"], data["classes"][0]) == (title, label, "<b>a</b>")


def test_caps_leave_out_large_arrays_and_the_other_targets_weight_gradients():
    model = build_model("classic_cnn", DIGIT, 10)
    data = page_data(model, _digit(), max_values=5000, gradient_budget=200_000)
    weight = data["layers"][3]["weights"]["weight"]  # the second conv: 64*32*3*3 values
    assert weight["omitted"] and weight["shape"] == [64, 32, 3, 3] and weight["norm"] > 0
    default, *others = data["targets"]
    assert all(layer["weight_grads"] is not None for layer in default["layers"])
    assert any(layer["weight_grads"] is None for t in others for layer in t["layers"])
    assert all(layer["output_grad"] is not None for layer in others[0]["layers"])


# ---------------------------------------------------------------- the command
@pytest.fixture(scope="module")
def run_and_digit(tmp_path_factory):
    from PIL import Image
    from sklearn.datasets import load_digits

    folder = tmp_path_factory.mktemp("explain")
    assert main(["train", "--model", "classic_cnn", "--limit", "300", "--epochs", "1", "--no-progress",
                 "--out", str(folder / "run")]) == 0
    image = load_digits().images[7]
    Image.fromarray(np.round(image * 255 / 16).astype(np.uint8), mode="L").save(folder / "seven.png")
    return folder / "run", folder / "seven.png"


def test_explain_command_writes_the_page_of_a_run_for_an_image(capsys, run_and_digit, tmp_path):
    run, image = run_and_digit
    out = tmp_path / "seven.html"
    assert main(["explain", str(run), str(image), "--out", str(out), "--target", "3", "--lang", "zh"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    data = read_data(out)
    assert data["default_target"] == 3 and data["lang"] == "zh" and data["input"]["label"] == "seven.png"
    assert data["classes"] == [str(k) for k in range(10)]
    assert out.stat().st_size < 5e6


def test_explain_command_preprocesses_the_input_like_predict(run_and_digit, tmp_path):
    from glassnet.commands.predict import load_input
    from glassnet.train.run import load_run

    run, image = run_and_digit
    out = tmp_path / "page.html"
    assert main(["explain", str(run), str(image), "--out", str(out)]) == 0
    _, _, meta = load_run(run)
    np.testing.assert_array_equal(decode(read_data(out)["input"]["values"]), load_input(image, meta))


def test_explain_check_torch_shows_differences_from_autograd_near_rounding(run_and_digit, tmp_path):
    pytest.importorskip("torch")
    run, image = run_and_digit
    out = tmp_path / "page.html"
    assert main(["explain", str(run), str(image), "--out", str(out), "--check-torch"]) == 0
    target = read_data(out)["targets"][0]
    assert target["torch"]["input_grad"] < 1e-10 and target["torch"]["loss"] < 1e-10
    diffs = [v for layer in target["layers"] for v in layer["torch"].values()]
    assert len(diffs) >= 3 * 10 and max(diffs) < 1e-10


@pytest.mark.parametrize("args, message", [
    (["--target", "eleven"], "--target 'eleven': not a class of this run"),
    (["--lang", "fr"], None),
])
def test_explain_command_bad_option_is_an_error_message(capsys, run_and_digit, tmp_path, args, message):
    run, image = run_and_digit
    if message is None:
        with pytest.raises(SystemExit):
            main(["explain", str(run), str(image), *args])
        assert "invalid choice: 'fr'" in capsys.readouterr().err
        return
    assert main(["explain", str(run), str(image), "--out", str(tmp_path / "p.html"), *args]) == 2
    assert message in capsys.readouterr().err


def test_explain_command_missing_input_file_is_an_error_message(capsys, run_and_digit, tmp_path):
    run, _ = run_and_digit
    assert main(["explain", str(run), str(tmp_path / "nothing.png")]) == 2
    assert "nothing.png" in capsys.readouterr().err


def test_check_torch_without_pytorch_says_how_to_install_it(capsys, monkeypatch, run_and_digit, tmp_path):
    import sys

    run, digit = run_and_digit
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails as if it were not installed
    assert main(["explain", str(run), str(digit), "--check-torch", "--out", str(tmp_path / "p.html")]) == 1
    assert "--check-torch needs torch: install it with `pip install 'glassnet[torch]'" in capsys.readouterr().err
    assert not (tmp_path / "p.html").exists()
    with pytest.raises(ImportError, match=r"--check-torch\) needs torch"):
        page_data(build_model("two_layer_net", DIGIT, 3), _digit(), check_torch=True)


def test_explain_help_names_its_options(capsys):
    with pytest.raises(SystemExit) as info:
        main(["explain", "--help"])
    out = capsys.readouterr().out
    assert info.value.code == 0
    for option in ("--out", "--target", "--lang", "--check-torch", "--invert"):
        assert option in out


def test_explain_of_a_missing_run_from_a_fresh_process_is_one_line_without_traceback(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "glassnet.cli", "explain", str(tmp_path / "missing"), "x.png"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "glassnet explain: error:" in result.stderr and "no model.safetensors" in result.stderr
    assert "Traceback" not in result.stderr


def test_explain_refuses_raw_pixels_of_the_wrong_size_like_predict(capsys, run_and_digit, tmp_path):
    run, _ = run_and_digit
    np.save(tmp_path / "small.npy", np.zeros((4, 4)))
    assert main(["explain", str(run), str(tmp_path / "small.npy"), "--out", str(tmp_path / "p.html")]) == 2
    assert "expected 64 values for input shape (1, 8, 8)" in capsys.readouterr().err
