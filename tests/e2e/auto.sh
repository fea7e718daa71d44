#!/usr/bin/env bash
# End-to-end test of automatic entries (issue 18) against the REAL Claude Code binary, offline.
#
# Usage: tests/e2e/auto.sh BIN_DIR      BIN_DIR holds the pool binaries (e.g. target/release)
#
# In a real git repository, with the hooks registered by `pool install`:
#   1. instance A's model edits a file (Write) and commits it through Bash, then runs a failing
#      commit, a dry run and `echo git commit`; it writes no pool block. The pool must then hold
#      exactly one automatic `completed` entry, with the commit's subject, the edited file, the
#      short hash and the branch, and no digest (it would only repeat the commit);
#   2. A's second session edits and commits again and, in the same turn, writes a pool block
#      about the same files: the pool holds the block and no automatic entry for that commit;
#   3. instance B's next session start (its first model request) shows A's automatic entry with
#      its subject and files.
# Same knobs as tests/e2e/run.sh: E2E_CACHE_DIR, E2E_KEEP=1, E2E_NETNS=0.
# Exit status: 0 when every check passed, 1 when any failed, 2 on a set-up error.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
die() { printf 'e2e-auto: error: %s\n' "$*" >&2; exit 2; }
case "${1:-}" in ""|-h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;; esac
BIN_DIR="$(cd "$1" 2>/dev/null && pwd)" || die "no such directory: $1"
. "$HERE/lib.sh"
need_bins "$BIN_DIR" "${E2E_BINARIES[@]}"
command -v python3 >/dev/null || die "python3 is required"
command -v git >/dev/null || die "git is required"

e2e_claude
CLAUDE="$E2E_CLAUDE_BIN"
e2e_netns "$@"
e2e_world auto

mkdir -p "$W/proj/src"
in_world git init -q -b main . && printf '# proj\n' >"$W/proj/README.md" \
  && in_world git add README.md && in_world git commit -q -m "Initial commit" || die "git set-up failed"
in_world "$BIN_DIR/pool" install >"$W/install.out" 2>&1 || { cat "$W/install.out"; die "pool install failed"; }

# run_claude LABEL INSTANCE SCRIPT: one `claude -p` session against a fresh mock.
run_claude() {
  local run="$W/runs/$1"
  e2e_session "$run" "$2" "$3" "Bash Write"
  cp "$W/pool/instance_state.jsonl" "$run/pool-after.jsonl" 2>/dev/null || : >"$run/pool-after.jsonl"
}

check() { check_with "$HERE/check_auto.py" "$@"; }

printf 'e2e-auto: Claude Code %s, work dir %s\n' "$("$CLAUDE" --version | head -n1)" "$W"
printf '\n== settings registered by pool install\n'
check settings "$W/config/settings.json" "$BIN_DIR"
printf '\n== A commits through Bash, without a block\n'
run_claude A1 A auto_a1.json
check a1 "$W"
printf '\n== A commits and writes a block about the same work in the same turn\n'
run_claude A2 A auto_a2.json
check a2 "$W"
printf '\n== B starts and sees A'\''s automatic entry\n'
run_claude B B auto_b.json
check b "$W"

printf '\ne2e-auto: %d passed, %d failed\n' "$PASSED" "$FAILED"
[ "$FAILED" -eq 0 ]
