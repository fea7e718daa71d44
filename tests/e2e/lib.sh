# Sourced by the end-to-end scripts (tests/e2e/run.sh, auto.sh, codex.sh and
# tests/dist/run.sh): the binaries they need, Claude Code, the network namespace
# they run in, and the tally of their `ok` / `FAIL` lines. The sourcing script
# defines `die`.

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Every binary the crate builds (a checkout's or an archive's layout).
E2E_BINARIES=(pool pool-stop pool-session-start pool-prompt pool-guard pool-post-tool pool-query)
E2E_CACHE_DIR="${E2E_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/claude-pool-e2e}"

# need_bins DIR NAME...: dies unless DIR holds each NAME, executable.
need_bins() {
  local dir="$1" b
  shift
  for b in "$@"; do
    [ -x "$dir/$b" ] || die "$dir/$b missing or not executable (build with: cargo build --release)"
  done
}

# e2e_claude: sets and exports E2E_CLAUDE_BIN, the pinned Claude Code installed
# into E2E_CACHE_DIR unless it is set already. Outside the namespace: it is the
# only step that needs the npm registry.
e2e_claude() {
  if [ -z "${E2E_CLAUDE_BIN:-}" ]; then
    E2E_CLAUDE_BIN="$("$E2E_DIR/install_claude.sh" "$E2E_CACHE_DIR")" || die "could not install Claude Code"
    export E2E_CLAUDE_BIN
  fi
}

# e2e_netns "$@": re-runs the calling script in a network namespace with only
# loopback, when the machine allows it (E2E_NETNS=0 turns that off), and brings
# loopback up inside it. Sets NET_NOTE to say which it was.
e2e_netns() {
  if [ -z "${E2E_IN_NETNS:-}" ] && [ "${E2E_NETNS:-1}" != 0 ] && command -v unshare >/dev/null \
     && command -v ip >/dev/null && unshare -n true 2>/dev/null; then
    exec unshare -n -- env E2E_IN_NETNS=1 bash "$0" "$@"
  fi
  if [ -n "${E2E_IN_NETNS:-}" ]; then
    ip link set lo up || die "could not bring up loopback in the network namespace"
    NET_NOTE="network namespace (loopback only)"
  else
    NET_NOTE="no network namespace (E2E_NETNS=0 or unshare unavailable); offline by env vars only"
  fi
}

# The tally: ok NAME, fail NAME [DETAIL], and check_with CHECKER ARGS..., which
# runs a Python checker and folds its `ok` / `FAIL` lines in (a crash counts as
# a failure).
PASSED=0
FAILED=0
FAILURES=()
ok()   { PASSED=$((PASSED + 1)); printf 'ok   %s\n' "$1"; }
fail() { FAILED=$((FAILED + 1)); FAILURES+=("$1"); printf 'FAIL %s\n' "$1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/     | /'; }
check_with() {
  local py="$1" name out line
  shift
  name="$(basename "$py")"
  out="$(python3 "$py" "$@" 2>&1)"
  printf '%s\n' "$out"
  while IFS= read -r line; do
    case "$line" in
      "ok   "*) PASSED=$((PASSED + 1)) ;;
      "FAIL "*) FAILED=$((FAILED + 1)); FAILURES+=("${line#FAIL }") ;;
      "$name: "*|"check.py: "*|"Traceback"*) FAILED=$((FAILED + 1)); FAILURES+=("$name $1 crashed: $line") ;;
    esac
  done <<<"$out"
}
