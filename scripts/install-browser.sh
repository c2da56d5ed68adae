#!/usr/bin/env bash
# Headless Chromium and its WebDriver for the report's browser test
# (tests/test_report_browser.py): Debian's `chromium` and `chromium-driver`, which come from one
# source package, so the driver always speaks the browser's version. Called by `make test` (and so
# by CI) before pytest runs.
#
#   scripts/install-browser.sh             install when missing and this machine allows it
#   AIMC_INSTALL_BROWSER=no make test      never install (the test then skips, or fails in CI)
#
# Quiet when both binaries are already there. Otherwise it installs them with apt-get when it runs
# as root (or with sudo that asks no password) on a machine with apt-get. It never fails: where it
# cannot install, it says so in one loud line and exits 0, and the browser test says the same when
# it skips (on a developer's machine) or fails (under CI=true, where the test must run).
set -uo pipefail

say() { echo "install-browser: $*" >&2; }
have_browser() {
    command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1
}

if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi
have_browser && exit 0
case "${AIMC_INSTALL_BROWSER:-yes}" in
    no | 0 | false)
        say "NOT INSTALLED: AIMC_INSTALL_BROWSER=${AIMC_INSTALL_BROWSER}; the report's browser test will skip (fail under CI=true)"
        exit 0
        ;;
esac
if ! command -v apt-get >/dev/null 2>&1; then
    say "NO BROWSER: chromium/chromedriver missing and no apt-get here; install Chromium and its driver by hand, or the report's browser test skips (fails under CI=true)"
    exit 0
fi
SUDO=()
if [[ $(id -u) != 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n)
    else
        say "NO BROWSER: chromium/chromedriver missing and no root rights for apt-get; run: sudo apt-get install chromium chromium-driver (else the report's browser test skips, and fails under CI=true)"
        exit 0
    fi
fi
say "installing Debian's chromium and chromium-driver with apt-get (once; the report's browser test)"
"${SUDO[@]}" apt-get update -qq >/dev/null 2>&1 || say "apt-get update failed; trying the package lists there are"
# -o DPkg::Lock::Timeout: wait for another apt (say, an unattended upgrade) rather than fail.
if ! DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=120 install -y \
    -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null; then
    say "NO BROWSER: apt-get install chromium chromium-driver failed (above); the report's browser test skips (fails under CI=true)"
    exit 0
fi
have_browser || say "NO BROWSER: apt-get ran, yet chromium or chromedriver is not on PATH"
exit 0
