#!/usr/bin/env bash
# Install the pinned Claude Code native binary into CACHE_DIR and print the path of `claude`.
#
# Usage: tests/e2e/install_claude.sh CACHE_DIR
#
# The CLI is published on npm as @anthropic-ai/claude-code; its native executable ships in the
# per-platform package @anthropic-ai/claude-code-linux-x64 (no Node needed to run it). We install
# only that package with --ignore-scripts, so no postinstall step downloads anything else.
# Idempotent: when CACHE_DIR already holds the pinned version, nothing is fetched.
# Override the pin with CLAUDE_CODE_VERSION (the e2e test is only known to pass on the default).
set -euo pipefail

CLAUDE_CODE_VERSION="${CLAUDE_CODE_VERSION:-2.1.329}"

die() { printf 'install_claude.sh: %s\n' "$*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: install_claude.sh CACHE_DIR"
cache_dir="$1"

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=linux-x64 ;;
  Linux-aarch64) platform=linux-arm64 ;;
  Darwin-arm64) platform=darwin-arm64 ;;
  Darwin-x86_64) platform=darwin-x64 ;;
  *) die "unsupported platform $(uname -s)-$(uname -m)" ;;
esac
pkg="@anthropic-ai/claude-code-${platform}"

prefix="${cache_dir}/claude-code-${CLAUDE_CODE_VERSION}-${platform}"
pkg_dir="${prefix}/node_modules/${pkg}"

find_exe() {
  # The package ships the executable as `claude` at its root; look a little deeper in case a
  # future layout moves it.
  local f
  for f in "${pkg_dir}/claude" "${pkg_dir}/bin/claude"; do
    [ -f "$f" ] && { printf '%s\n' "$f"; return 0; }
  done
  f=$(find "$pkg_dir" -maxdepth 3 -type f -name claude 2>/dev/null | head -n 1)
  [ -n "$f" ] && { printf '%s\n' "$f"; return 0; }
  return 1
}

installed_version() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' \
    "${pkg_dir}/package.json" 2>/dev/null || true
}

if [ "$(installed_version)" != "$CLAUDE_CODE_VERSION" ] || ! exe=$(find_exe); then
  command -v npm >/dev/null 2>&1 || die "npm not found (needed once to fetch ${pkg}@${CLAUDE_CODE_VERSION})"
  mkdir -p "$prefix"
  # A private prefix with its own package.json, so npm never walks up into another project.
  [ -f "${prefix}/package.json" ] || printf '{"name":"claude-code-e2e-cache","private":true}\n' >"${prefix}/package.json"
  log="${prefix}/npm-install.log"
  if ! (cd "$prefix" && npm install --ignore-scripts --no-audit --no-fund --no-save \
          --prefix "$prefix" "${pkg}@${CLAUDE_CODE_VERSION}") >"$log" 2>&1; then
    cat "$log" >&2
    die "npm install ${pkg}@${CLAUDE_CODE_VERSION} failed"
  fi
  [ "$(installed_version)" = "$CLAUDE_CODE_VERSION" ] \
    || die "installed ${pkg} reports version '$(installed_version)', wanted ${CLAUDE_CODE_VERSION}"
  exe=$(find_exe) || die "no claude executable found under ${pkg_dir}"
fi

chmod +x "$exe" 2>/dev/null || true
[ -x "$exe" ] || die "${exe} is not executable"
printf '%s\n' "$exe"
