#!/usr/bin/env bash
# Debian's chromium and its chromedriver, for the browser tests of `glassnet explain`
# (tests/test_explain_browser.py drives them headless through Selenium; nothing downloads a browser).
# Safe to run again: installed pieces are kept.
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi
chromium --version
chromedriver --version
