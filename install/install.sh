#!/bin/sh
# Builds and installs the claude-pool binaries (pool, pool-stop,
# pool-session-start, pool-prompt, pool-guard, pool-post-tool, pool-query) with cargo, then registers the hooks in
# Claude Code's settings with `pool install`. Arguments go to `pool install`
# (e.g. --project, --dry-run). Safe to run again: cargo replaces the
# binaries, and `pool install` leaves settings that are already right alone.
set -eu

say() { printf 'install.sh: %s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

case $0 in
  */*) here=${0%/*} ;;
  *) here=. ;;
esac
repo=$(cd "$here/.." && pwd) || die "cannot find the repository around $0"
[ -f "$repo/Cargo.toml" ] && [ -f "$repo/Cargo.lock" ] || die "$repo does not look like a claude-pool checkout (no Cargo.toml or Cargo.lock)"

cargo=$(command -v cargo 2>/dev/null) || cargo=
if [ -z "$cargo" ]; then
  for c in "${CARGO_HOME:+$CARGO_HOME/bin/cargo}" "${HOME:+$HOME/.cargo/bin/cargo}"; do
    if [ -n "$c" ] && [ -x "$c" ]; then cargo=$c; break; fi
  done
fi
[ -n "$cargo" ] || die "cargo not found (not on PATH, not in \$CARGO_HOME/bin or ~/.cargo/bin). Install the Rust toolchain (https://rustup.rs), then run $0 again."

say "building and installing the binaries: cargo install --locked --path $repo"
"$cargo" install --locked --path "$repo" || die "cargo install failed (see above)"

# Where cargo install put them: --root, else $CARGO_INSTALL_ROOT, else $CARGO_HOME, else ~/.cargo.
bin=${CARGO_INSTALL_ROOT:-${CARGO_HOME:-${HOME:-}/.cargo}}/bin
[ -x "$bin/pool" ] || die "cargo install finished but $bin/pool is missing"
say "installed pool, pool-stop, pool-session-start, pool-prompt, pool-guard, pool-post-tool and pool-query in $bin"

say "registering the hooks: $bin/pool install${*:+ $*}"
"$bin/pool" install "$@" || die "pool install failed (see above)"

case ":${PATH:-}:" in
  *":$bin:"*) ;;
  *) say "note: $bin is not on your PATH; add it to run pool and pool-query by name (the hooks use absolute paths and do not need it)" ;;
esac
say "done. Start each Claude Code session with its own name, e.g. CLAUDE_INSTANCE=A claude; check the set-up with: pool doctor"
