"""The explain page in a real browser: Debian's chromium, headless, driven by Selenium through the
system chromedriver (nothing is downloaded). The page loads from file:// with no console error and
no network request, draws every layer, its unit panels add up, and its controls work.

In CI (CI=true) a missing chromium is a failure; on a developer machine these tests are skipped
(install with `bash .ci/install_browser.sh`).

The README's screenshot is written by
    GLASSNET_SCREENSHOT=docs/figures/explain.png python -m pytest tests/test_explain_browser.py -k screenshot
"""
import os
import shutil

import numpy as np
import pytest

from glassnet import nn
from glassnet.cli import main
from glassnet.explain import decode, read_data, write_page
from glassnet.models import build_model

DIGIT = (1, 8, 8)


def _browser_paths():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None)
    return chromium, driver


@pytest.fixture(scope="module")
def browser():
    """Headless chromium with the console and network logs on; fails in CI if it is not installed."""
    chromium, driver_path = _browser_paths()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        webdriver = None
    if webdriver is None or chromium is None or driver_path is None:
        why = "the browser tests need selenium, chromium and chromedriver (bash .ci/install_browser.sh)"
        if os.environ.get("CI"):
            pytest.fail(f"CI: {why}")
        pytest.skip(why)
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download a driver or a browser
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1500,1100",
                "--force-device-scale-factor=1", "--lang=en-US"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    yield driver
    driver.quit()


def _open(driver, path):
    driver.get(path.resolve().as_uri())
    assert driver.execute_script("return document.body.dataset.ready") == "true"
    driver.get_log("browser")  # clear what an earlier page left
    return driver


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """Pages of untrained zoo models on a random input, with their data: classic_cnn (Conv2d, ReLU,
    MaxPool2d, Linear) and vgg_small (BatchNorm2d, GlobalAvgPool2d) on an 8x8 image, resnet20
    (Residual) on a 3x8x8 image, cnn1d (Conv1d, BatchNorm1d, MaxPool1d, GlobalAvgPool1d) on a signal."""
    folder = tmp_path_factory.mktemp("pages")
    out = {}
    for name, shape in (("classic_cnn", DIGIT), ("vgg_small", DIGIT), ("resnet20", (3, 8, 8)), ("cnn1d", (2, 40))):
        path = folder / f"{name}.html"
        write_page(_with_trained_looking_state(build_model(name, shape, 10, seed=3)),
                   np.random.default_rng(4).standard_normal(shape), path)
        out[name] = path, read_data(path)
    return out


def _with_trained_looking_state(model):
    """Non-zero biases and batch-norm statistics (a fresh model has zeros and ones, which would let a
    formula that forgot a bias or a statistic still add up)."""
    rng = np.random.default_rng(5)
    for name, array in model.state_dict().items():
        if name.endswith(("bias", "running_mean")):
            array[...] = rng.normal(0, 0.3, array.shape)
        elif name.endswith(("running_var", "weight")) and array.ndim == 1:
            array[...] = rng.uniform(0.5, 2.0, array.shape)
    return model


def _click_unit(driver, layer, flat):
    """Click the heat-map cell of unit ``flat`` of ``layer``'s output (as a reader would) and return
    the numbers of the unit panel."""
    from selenium.webdriver.common.action_chains import ActionChains

    geometry = driver.execute_script("""
        const [layer, flat] = arguments;
        const canvases = [...document.querySelectorAll(`canvas.heat[data-kind="act"][data-layer="${layer}"]`)];
        const per = canvases[0].width * canvases[0].height, c = Math.floor(flat / per), q = flat % per;
        const canvas = canvases[c], r = canvas.getBoundingClientRect();
        canvas.scrollIntoView({block: "center"});
        const r2 = canvas.getBoundingClientRect();
        return {channel: c, x: ((q % canvas.width) + 0.5) * r2.width / canvas.width - r2.width / 2,
                y: (Math.floor(q / canvas.width) + 0.5) * r2.height / canvas.height - r2.height / 2};
    """, layer, flat)
    canvas = driver.find_elements("css selector", f'canvas.heat[data-kind="act"][data-layer="{layer}"]')[geometry["channel"]]
    ActionChains(driver).move_to_element_with_offset(canvas, int(round(geometry["x"])), int(round(geometry["y"]))).click().perform()
    return driver.execute_script("""
        const p = document.getElementById("unit-panel");
        const v = (sel) => [...p.querySelectorAll(sel)].map((e) => Number(e.dataset.v));
        return {layer: Number(p.dataset.layer), index: Number(p.dataset.index), unit: p.dataset.unit,
                value: v(".unit-value")[0], total: v(".unit-total")[0], bias: v(".unit-bias")[0],
                sum: v(".unit-sum")[0], rest: v(".unit-rest")[0], partials: v(".conv-channel"),
                body: v(".unit-body")[0], shortcut: v(".unit-shortcut")[0],
                products: [...p.querySelectorAll(".conv-channel")].map((row) =>
                    [...row.querySelectorAll("td.product")].map((e) => Number(e.dataset.v))),
                terms: v(".term"), hidden: p.hidden};
    """)


def _requests(driver):
    import json

    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_page_loads_from_file_url_without_console_errors_or_network_requests(browser, pages):
    path, _ = pages["classic_cnn"]
    browser.get_log("performance")
    browser.get(path.resolve().as_uri())
    assert browser.execute_script("return document.body.dataset.ready") == "true"
    problems = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert problems == []
    assert [u for u in _requests(browser) if u != path.resolve().as_uri() and not u.startswith("data:")] == []
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0


@pytest.mark.parametrize("name", ["classic_cnn", "vgg_small", "resnet20", "cnn1d"])
def test_every_layer_is_drawn_with_its_activations_and_gradients(browser, pages, name):
    path, data = pages[name]
    _open(browser, path)
    drawn = browser.execute_script("""
        return [...document.querySelectorAll("section.layer")].map((card) => ({
            type: card.dataset.type,
            act: card.querySelectorAll('.forward canvas.heat').length,
            grad: card.querySelectorAll('.backward canvas.heat').length,
            inked: [...card.querySelectorAll('canvas.heat')].some((c) => {
                const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
                for (let i = 0; i < d.length; i += 4) if (d[i] < 250 || d[i + 1] < 250 || d[i + 2] < 250) return true;
                return false;
            })}));
    """)
    assert [d["type"] for d in drawn] == ["Input"] + [layer["type"] for layer in data["layers"]]
    for d, layer in zip(drawn[1:], data["layers"]):
        channels = layer["out_shape"][0] if len(layer["out_shape"]) > 1 else 1
        assert d["act"] == d["grad"] == min(channels, data["caps"]["max_channels"]), d
        assert d["inked"], d
    chips = browser.execute_script("return [...document.querySelectorAll('#overview .chip b')].map((e) => e.textContent)")
    assert chips == ["Input"] + [layer["type"] for layer in data["layers"]]
    bars = browser.execute_script("return [...document.querySelectorAll('.bars[data-kind=probs] .bar-value')].map((e) => Number(e.dataset.v))")
    np.testing.assert_array_equal(bars, decode(data["probs"]))
    assert browser.get_log("browser") == []


def test_clicking_a_conv_unit_shows_products_that_add_up_to_the_activation_shown(browser, pages):
    path, data = pages["classic_cnn"]
    _open(browser, path)
    conv = 3  # the second Conv2d: 32 input channels
    assert data["layers"][conv]["type"] == "Conv2d"
    flat = 5 * 16 + 2 * 4 + 1  # filter 5, row 2, column 1 of (64, 4, 4)
    panel = _click_unit(browser, conv, flat)
    assert (panel["layer"], panel["index"], panel["unit"]) == (conv, flat, "conv")
    assert panel["value"] == decode(data["layers"][conv]["output"]).reshape(-1)[flat]
    assert len(panel["partials"]) == 32
    for partial, products in zip(panel["partials"], panel["products"]):
        if products:  # the first channels are drawn in full
            assert len(products) == 9 and abs(sum(products) - partial) < 1e-12
    assert abs(sum(panel["partials"]) + panel["bias"] - panel["total"]) < 1e-12
    assert abs(panel["total"] - panel["value"]) < 1e-4
    assert browser.get_log("browser") == []


@pytest.mark.parametrize("name", ["classic_cnn", "vgg_small", "resnet20", "cnn1d"])
def test_clicking_a_unit_of_each_layer_shows_a_computation_equal_to_its_value(browser, pages, name):
    path, data = pages[name]
    _open(browser, path)
    rng = np.random.default_rng(0)
    for k, layer in enumerate(data["layers"]):
        flat = int(rng.integers(int(np.prod(layer["out_shape"]))))
        panel = _click_unit(browser, k, flat)
        assert (panel["layer"], panel["index"], panel["unit"]) == (k, flat, layer["unit"])
        assert panel["value"] == decode(layer["output"]).reshape(-1)[flat]
        assert abs(panel["total"] - panel["value"]) < 1e-4 * max(1.0, abs(panel["value"])), (layer["type"], panel)
        if layer["unit"] == "affine":
            assert abs(panel["bias"] + sum(panel["terms"]) + panel["rest"] - panel["total"]) < 1e-12
        if layer["unit"] == "residual":
            parts = decode(layer["details"]["body"]).reshape(-1)[flat], decode(layer["details"]["shortcut"]).reshape(-1)[flat]
            assert (panel["body"], panel["shortcut"]) == parts and panel["total"] == sum(parts)
    assert browser.get_log("browser") == []


def test_one_dimensional_layers_are_drawn_as_rows_whose_units_add_up(browser, tmp_path):
    rng = np.random.default_rng(0)
    model = _with_trained_looking_state(nn.Sequential(
        nn.Conv1d(2, 4, 3, stride=2, padding=1, rng=rng), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(4, 4, 3, padding=2, dilation=2, groups=2, rng=rng), nn.AvgPool1d(2), nn.Flatten(),
        nn.Linear(8, 4, rng=rng)))
    path = tmp_path / "one_d.html"
    data = write_page(model, rng.standard_normal((2, 16)), path)
    assert data["layers"][0]["out_shape"] == [4, 8] and data["layers"][0]["details"]["pad"] == [0, 1]
    assert data["layers"][3]["details"]["dilation"] == [1, 2] and data["layers"][3]["details"]["groups"] == 2
    _open(browser, path)
    strips = browser.execute_script("""return [...document.querySelectorAll('canvas.heat[data-layer="0"]')].map((c) => {
        const r = c.getBoundingClientRect(); return [c.height, c.width, r.height, r.width]; })""")
    assert all(h == 1 and w == 8 and height >= 16 and width >= 8 * 12 for h, w, height, width in strips), strips
    for k, flat in ((0, 8 + 7), (0, 0), (1, 5), (2, 2 * 4 + 3), (3, 3 * 4 + 1), (3, 0), (4, 5), (6, 1)):
        panel = _click_unit(browser, k, flat)
        assert (panel["layer"], panel["index"]) == (k, flat)
        assert panel["value"] == decode(data["layers"][k]["output"]).reshape(-1)[flat]
        assert abs(panel["total"] - panel["value"]) < 1e-9 * max(1.0, abs(panel["value"])), (k, flat, panel)
    assert browser.get_log("browser") == []


def test_switching_the_target_class_changes_the_gradients(browser, pages):
    from selenium.webdriver.support.select import Select

    path, data = pages["classic_cnn"]
    _open(browser, path)
    grads = "return [...document.querySelectorAll('.backward canvas.heat')].map((c) => c.toDataURL())"
    before = browser.execute_script(grads)
    other = data["targets"][1]["target"]
    Select(browser.find_element("id", "target-select")).select_by_value(str(other))
    after = browser.execute_script(grads)
    assert len(before) == len(after) and sum(a != b for a, b in zip(before, after)) > len(before) // 2
    shown = browser.execute_script("return [...document.querySelectorAll('.backward[data-target]')].map((e) => e.dataset.target)")
    assert set(shown) == {str(other)}
    dscores = browser.execute_script("return [...document.querySelectorAll('.bars[data-kind=dscores] .bar-value')].map((e) => Number(e.dataset.v))")
    np.testing.assert_array_equal(dscores, decode(data["targets"][1]["dscores"]))
    assert browser.get_log("browser") == []


def test_a_page_under_tight_caps_draws_notes_instead_of_what_was_left_out(browser, tmp_path):
    from selenium.webdriver.support.select import Select

    path = tmp_path / "capped.html"
    data = write_page(build_model("classic_cnn", DIGIT, 10), np.random.default_rng(4).standard_normal(DIGIT), path,
                      max_values=1500, max_channels=8, gradient_budget=0)
    _open(browser, path)
    assert data["layers"][1]["output"]["omitted"]  # the first ReLU's (32, 8, 8) output
    notes = browser.execute_script("return [...document.querySelectorAll('#layer-1 .note')].map((e) => e.textContent)")
    assert any("too large to embed" in n for n in notes)
    assert len(browser.find_elements("css selector", '#layer-3 .forward canvas.heat')) == 8
    assert "showing 8 of 64 channels" in browser.find_element("css selector", "#layer-3 .forward .note").text
    panel = _click_unit(browser, 2, 0)  # a max-pool unit: its input (the ReLU output) is not embedded
    assert panel["unit"] == "max_pool" and panel["total"] is None
    assert "too large to embed" in browser.find_element("id", "unit-panel").text
    Select(browser.find_element("id", "target-select")).select_by_value(str(data["targets"][1]["target"]))
    assert "not embedded" in browser.find_element("css selector", "#layer-0 .backward .note").text
    assert browser.get_log("browser") == []


def test_language_switch_shows_the_chinese_texts(browser, pages):
    path, data = pages["classic_cnn"]
    _open(browser, path)
    browser.find_element("id", "lang-switch").click()
    assert browser.execute_script("return document.documentElement.lang") == "zh"
    text = browser.find_element("css selector", "#layer-0 .explain-text").text
    assert text == data["texts"]["layers"]["Conv2d"]["zh"]
    browser.find_element("id", "lang-switch").click()
    assert browser.find_element("css selector", "#layer-0 .explain-text").text == data["texts"]["layers"]["Conv2d"]["en"]


def test_screenshot_of_a_trained_run_with_a_conv_unit_open(browser, tmp_path):
    """Writes the README's figure (to $GLASSNET_SCREENSHOT, else a temporary file)."""
    from PIL import Image
    from sklearn.datasets import load_digits

    run = tmp_path / "run"
    assert main(["train", "--model", "classic_cnn", "--limit", "600", "--epochs", "4", "--no-progress", "--out", str(run)]) == 0
    digits = load_digits()
    Image.fromarray(np.round(digits.images[7] * 255 / 16).astype(np.uint8), mode="L").save(tmp_path / "seven.png")
    page = tmp_path / "seven.html"
    assert main(["explain", str(run), str(tmp_path / "seven.png"), "--out", str(page)]) == 0
    _open(browser, page)
    panel = _click_unit(browser, 0, 6 * 64 + 3 * 8 + 4)
    assert abs(panel["total"] - panel["value"]) < 1e-4
    browser.execute_script("window.scrollTo(0, 0)")
    out = os.environ.get("GLASSNET_SCREENSHOT") or str(tmp_path / "explain.png")
    assert browser.save_screenshot(out)
    with Image.open(out) as shot:
        assert shot.size[0] >= 1000 and shot.size[1] >= 800
