#!/usr/bin/env bash
# Install the pinned Codex CLI native binary into CACHE_DIR and print the path of `codex`.
#
# Usage: tests/e2e/install_codex.sh CACHE_DIR
#
# The CLI is published on npm as @openai/codex; its native executable ships in a per-platform
# version of that package (`@openai/codex@<version>-linux-x64`: a static musl build under
# vendor/<target>/bin/codex, no Node needed to run it). We install only that package with
# --ignore-scripts, so nothing else is downloaded. Idempotent: when CACHE_DIR already holds the
# pinned version, nothing is fetched. Override the pin with CODEX_VERSION (the e2e test is only
# known to pass on the default).
set -euo pipefail

CODEX_VERSION="${CODEX_VERSION:-0.171.0}"

die() { printf 'install_codex.sh: %s\n' "$*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: install_codex.sh CACHE_DIR"
cache_dir="$1"

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=linux-x64; target=x86_64-unknown-linux-musl ;;
  Linux-aarch64) platform=linux-arm64; target=aarch64-unknown-linux-musl ;;
  Darwin-arm64) platform=darwin-arm64; target=aarch64-apple-darwin ;;
  Darwin-x86_64) platform=darwin-x64; target=x86_64-apple-darwin ;;
  *) die "unsupported platform $(uname -s)-$(uname -m)" ;;
esac
spec="@openai/codex@${CODEX_VERSION}-${platform}"

prefix="${cache_dir}/codex-${CODEX_VERSION}-${platform}"
pkg_dir="${prefix}/node_modules/@openai/codex"
exe="${pkg_dir}/vendor/${target}/bin/codex"

installed_version() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' \
    "${pkg_dir}/vendor/${target}/codex-package.json" 2>/dev/null || true
}

if [ "$(installed_version)" != "$CODEX_VERSION" ] || [ ! -f "$exe" ]; then
  command -v npm >/dev/null 2>&1 || die "npm not found (needed once to fetch ${spec})"
  mkdir -p "$prefix"
  # A private prefix with its own package.json, so npm never walks up into another project.
  [ -f "${prefix}/package.json" ] || printf '{"name":"codex-e2e-cache","private":true}\n' >"${prefix}/package.json"
  log="${prefix}/npm-install.log"
  if ! (cd "$prefix" && npm install --ignore-scripts --no-audit --no-fund --no-save \
          --prefix "$prefix" "$spec") >"$log" 2>&1; then
    cat "$log" >&2
    die "npm install ${spec} failed"
  fi
  [ "$(installed_version)" = "$CODEX_VERSION" ] \
    || die "installed ${spec} reports version '$(installed_version)', wanted ${CODEX_VERSION}"
  [ -f "$exe" ] || die "no codex executable at ${exe}"
fi

chmod +x "$exe" 2>/dev/null || true
[ -x "$exe" ] || die "${exe} is not executable"
printf '%s\n' "$exe"
