#!/usr/bin/env bash
# Browser test of `pool dashboard`: Debian's chromium, headless, driven by
# playwright-core (pinned in package-lock.json; no browser download).
# Usage: tests/browser/run.sh BIN_DIR   (the folder holding pool and pool-query)
# The screenshot goes to $SCREENSHOT (default: target/browser/dashboard.png).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin_dir="$(cd "${1:?usage: tests/browser/run.sh BIN_DIR}" && pwd)"
cd "$here"
if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
export BIN_DIR="$bin_dir"
export SCREENSHOT="${SCREENSHOT:-$root/target/browser/dashboard.png}"
node --test --test-reporter=spec dashboard.test.mjs
echo "screenshot: $SCREENSHOT"
