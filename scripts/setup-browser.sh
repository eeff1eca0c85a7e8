#!/usr/bin/env bash
# Installs Debian's Chromium for the dashboard's end-to-end test (test/dashboard.test.ts drives it
# with playwright-core; playwright's own browser downloads are not used). Without it that test is
# skipped with the reason printed.
#
# Idempotent: does nothing when /usr/bin/chromium (or $SIMLOOM_CHROMIUM) exists.
# Usage: sudo bash scripts/setup-browser.sh
set -euo pipefail

BIN="${SIMLOOM_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$BIN" ]; then
  echo "setup-browser: $BIN already installed ($("$BIN" --version 2>/dev/null | head -n 1)); nothing to do."
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  cat <<MSG
setup-browser: not root, so nothing was installed. To install Chromium run:
  sudo bash scripts/setup-browser.sh
or by hand:
  sudo apt-get update && sudo apt-get install -y chromium
MSG
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends chromium fonts-dejavu-core

if [ ! -x /usr/bin/chromium ]; then
  echo "setup-browser: error: apt-get installed chromium but /usr/bin/chromium is missing." >&2
  exit 1
fi
echo "setup-browser: installed $(/usr/bin/chromium --version 2>/dev/null | head -n 1)"
