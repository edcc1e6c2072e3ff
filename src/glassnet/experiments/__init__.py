"""Reproducible demonstrations of the textbook claims: each experiment measures one claim and
turns the numbers into a verdict (holds / holds partly / does not hold) by explicit thresholds.

One module per experiment (its docstring states the claim), :mod:`.common` for what they share,
:mod:`.registry` to run them by name, :mod:`.report` for results.json and report.md. From the
command line: ``glassnet experiments [NAME...] [--quick] [--out DIR] [--seed S]``.
"""
from .registry import EXPERIMENTS, get, run_experiment, run_experiments
from .report import render_report, write_report

__all__ = ["EXPERIMENTS", "get", "run_experiment", "run_experiments", "render_report", "write_report"]
