#!/usr/bin/env bash
# Debian's chromium and its chromedriver, for the browser tests of `glassnet explain`
# (tests/test_explain_browser.py drives them headless through Selenium; nothing downloads a browser).
# Safe to run again: installed pieces are kept.
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    bash "$(dirname "$0")/apt_install.sh" chromium chromium-driver
fi
chromium --version
chromedriver --version
