#!/usr/bin/env bash
# Installs verdaccio (a local npm registry, from the npm registry) into
# CACHE_DIR once and prints the path of its executable.
#
# Usage: tests/dist/install_verdaccio.sh CACHE_DIR
#
# 6.8.0 with node-fetch pinned to 2.7.0: later verdaccio wants Node 22, and
# without the override its node-fetch does not install on Node 20.
set -euo pipefail
VERSION=6.8.0
die() { printf 'install_verdaccio.sh: %s\n' "$*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: install_verdaccio.sh CACHE_DIR"
prefix="$1/verdaccio-$VERSION"
exe="$prefix/node_modules/.bin/verdaccio"
if [ ! -x "$exe" ]; then
  command -v npm >/dev/null 2>&1 || die "npm not found"
  mkdir -p "$prefix"
  printf '{"name":"claude-pool-verdaccio","private":true,"dependencies":{"verdaccio":"%s"},"overrides":{"node-fetch":"2.7.0"}}\n' \
    "$VERSION" >"$prefix/package.json"
  if ! (cd "$prefix" && npm install --no-audit --no-fund --ignore-scripts) >"$prefix/npm-install.log" 2>&1; then
    cat "$prefix/npm-install.log" >&2
    die "npm install verdaccio@$VERSION failed"
  fi
  [ -x "$exe" ] || die "no verdaccio executable in $prefix"
fi
printf '%s\n' "$exe"
