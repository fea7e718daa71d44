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

# On Linux, a static build (musl): a hook's cost is mostly starting its
# process, and a static binary starts in about two thirds of the time of one
# that glibc's loader links at every start (docs/benchmarks.md, "Process
# start"). It needs rustup's musl standard library; without it (no rustup,
# offline), or with POOL_INSTALL_TARGET=host, the toolchain's default target.
target=
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64 | Linux-aarch64)
    if [ "${POOL_INSTALL_TARGET:-}" != host ]; then
      want="$(uname -m)-unknown-linux-musl"
      rustup=$(command -v rustup 2>/dev/null) || rustup=${cargo%/cargo}/rustup
      if [ -x "$rustup" ] && { "$rustup" target list --installed 2>/dev/null | grep -qx "$want" \
           || { say "adding the Rust standard library for $want (rustup target add)"; "$rustup" target add "$want" >/dev/null 2>&1; }; }; then
        target=$want
      else
        say "note: no $want standard library (rustup target add $want failed or no rustup): building for the default target; hooks start slower"
      fi
    fi
    ;;
esac

say "building and installing the binaries: cargo install --locked --path $repo${target:+ --target $target}"
if ! "$cargo" install --locked --path "$repo" ${target:+--target "$target"}; then
  [ -n "$target" ] || die "cargo install failed (see above)"
  say "the $target build failed (see above): building for the default target instead"
  "$cargo" install --locked --path "$repo" || die "cargo install failed (see above)"
fi

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
