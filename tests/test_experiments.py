"""`glassnet experiments --quick`: run once for the module, then check the report, results.json and figures.

The run takes seconds to a minute on two cores; every test below reads its output. Determinism is
checked by re-running the cheapest experiments alone and comparing with the full run's records.
"""
import json

import numpy as np
import pytest

from glassnet.cli import main
from glassnet.experiments import EXPERIMENTS, get, run_experiment
from glassnet.experiments.common import VERDICTS
from glassnet.experiments.report import readme_excerpt, to_jsonable

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SEED = 0


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("experiments")
    assert main(["experiments", "--quick", "--out", str(out), "--seed", str(SEED)]) == 0
    return out, json.loads((out / "results.json").read_text())


@pytest.fixture(scope="module")
def records(quick_run):
    return quick_run[1]["experiments"]


def test_results_hold_every_experiment_in_report_order(quick_run):
    _, results = quick_run
    assert list(results["experiments"]) == list(EXPERIMENTS)
    assert results["seed"] == SEED and results["mode"] == "quick"


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_record_has_claim_setup_verdict_checks_and_numbers(records, name):
    r = records[name]
    assert r["verdict"] in VERDICTS
    assert r["claim"] == get(name).CLAIM and r["setup"] and r["headline"]
    assert r["checks"] and all(isinstance(c["passed"], bool) and c["text"] for c in r["checks"])
    assert r["numbers"] and r["figure"] == f"{name}.png"


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_verdict_is_recomputed_from_the_stored_numbers(records, name):
    r = records[name]
    v = get(name).verdict(r["numbers"])
    assert v.label == r["verdict"]
    assert [c.text for c in v.checks] == [c["text"] for c in r["checks"]]
    passed = [c["passed"] for c in r["checks"]]
    assert r["verdict"] == ("holds" if all(passed) else "does not hold" if not any(passed) else "holds partly")


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_figure_is_a_png(quick_run, name):
    path = quick_run[0] / f"{name}.png"
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 5000


def _values(obj, key_part, key=""):
    """Every number stored under a key containing ``key_part`` (nested lists and dicts included)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _values(v, key_part, k if key_part in k else key)
    elif isinstance(obj, list):
        for v in obj:
            yield from _values(v, key_part, key)
    elif key_part in key and isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield obj


def test_every_accuracy_and_fraction_lies_in_0_1(records):
    for part in ("acc", "sparsity", "zero_loss", "active", "zero_"):
        values = [v for r in records.values() for v in _values(r["numbers"], part)]
        assert values, part
        assert all(0.0 <= v <= 1.0 for v in values), part


def test_numbers_are_in_sane_ranges(records):
    n = {name: r["numbers"] for name, r in records.items()}
    v = n["vanishing"]
    assert all(g > 0 for g in v["grad_init_sigmoid"] + v["grad_init_relu"])
    assert len(v["grad_init_sigmoid"]) == v["depth"] + 1 >= 9  # >= 8 hidden layers + the output layer
    assert 0 < v["ratio_init_sigmoid"] < 1 and 0 < v["mean_sigma_prime_init"] <= 0.25
    assert 0 < n["ce_vs_mse"]["mean_sigma_prime_output_init"] <= 0.25
    assert n["svm_vs_softmax"]["example_hinge"] == 0.0
    assert n["svm_vs_softmax"]["example_softmax"] == pytest.approx(np.log(1 + 2 / np.e))
    assert n["l1_vs_l2"]["l2_step_factor_formula"] == pytest.approx(1 - n["l1_vs_l2"]["lr"] * n["l1_vs_l2"]["l2_strength"])
    assert n["batchnorm"]["lrs"] == sorted(n["batchnorm"]["lrs"])
    assert n["svm_on_features"]["softmax_test_acc"] > 0.8 and n["svm_on_features"]["svm_test_acc"] > 0.8
    f = n["fc_as_conv"]
    assert f["vgg16_fc6"] == 7 * 7 * 512 * 4096 + 4096 and f["vgg16_total"] == 138_357_544
    assert max(f["fc_vs_full_conv_max_diff"], f["conv1x1_vs_fc_per_position_max_diff"]) < 1e-6
    for stage, change in n["pooling"]["feature_change"].items():
        assert change[0] == 0.0 and all(c >= 0 for c in change), stage
    assert n["cross_correlation"]["vs_correlate2d_max_diff"] < 1e-10


def test_report_quotes_every_experiment_verdict_check_and_figure(quick_run, records):
    report = (quick_run[0] / "report.md").read_text()
    assert "glassnet experiments --quick --seed 0" in report
    for name, r in records.items():
        assert f"## {r['index']}. `{name}`" in report
        assert f"**Verdict: {r['verdict']}**" in report
        assert f"]({name}.png)" in report
        assert r["headline"].replace("|", "\\|") in report
        for c in r["checks"]:
            assert c["text"] in report


def test_readme_excerpt_has_the_headline_table_and_a_figure(quick_run):
    text = readme_excerpt(quick_run[1], "docs/figures/vanishing.png")
    assert text.count("\n| ") == len(EXPERIMENTS) + 1
    assert "![" in text and "docs/figures/vanishing.png" in text


@pytest.mark.parametrize("name", ["cross_correlation", "fc_as_conv", "svm_vs_softmax", "ce_vs_mse"])
def test_an_experiment_run_alone_gives_the_same_record_as_in_the_full_run(tmp_path, records, name):
    again = to_jsonable(run_experiment(name, seed=SEED, quick=True, out_dir=tmp_path))
    assert again == records[name]


def test_another_seed_changes_the_measured_numbers(tmp_path, records):
    other = to_jsonable(run_experiment("svm_vs_softmax", seed=SEED + 1, quick=True, out_dir=tmp_path))
    assert other["numbers"]["val_acc_svm"] != records["svm_vs_softmax"]["numbers"]["val_acc_svm"]


def test_cli_rejects_an_unknown_experiment(tmp_path, capsys):
    assert main(["experiments", "no_such_claim", "--quick", "--out", str(tmp_path)]) == 2
    assert "no_such_claim" in capsys.readouterr().err


def test_cli_lists_the_experiments(capsys):
    assert main(["experiments", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in EXPERIMENTS)


def test_experiments_pin_glassnets_kernel_threads_to_one_and_put_the_count_back():
    from glassnet import kernels
    from glassnet.experiments.registry import single_threaded

    with kernels.using(threads=3):
        with single_threaded():
            assert kernels.get_num_threads() == 1
        assert kernels.get_num_threads() == 3
