#!/usr/bin/env bash
# Browser test of `pool dashboard`: Debian's chromium, headless, driven by
# playwright-core (pinned in package-lock.json; no browser download).
# Usage: tests/browser/run.sh BIN_DIR   (the folder holding pool and pool-query)
# Screenshots (each point at 1400 and 400 px wide) go to $SHOTS (default:
# target/browser/); README_SHOT=docs/dashboard.png also writes the README's,
# DOCS_SHOTS=docs writes docs/dashboard-1400.png and docs/dashboard-400.png.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin_dir="$(cd "${1:?usage: tests/browser/run.sh BIN_DIR}" && pwd)"
cd "$here"
if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
export BIN_DIR="$bin_dir"
export SHOTS="${SHOTS:-$root/target/browser}"
if [ -n "${DOCS_SHOTS:-}" ]; then
  case "$DOCS_SHOTS" in /*) ;; *) DOCS_SHOTS="$root/$DOCS_SHOTS" ;; esac
  export DOCS_SHOTS
fi
if [ -n "${README_SHOT:-}" ]; then
  case "$README_SHOT" in /*) ;; *) README_SHOT="$root/$README_SHOT" ;; esac
  export README_SHOT
fi
node --test --test-reporter=spec --test-concurrency=1 dashboard.test.mjs
echo "screenshots: $SHOTS"
