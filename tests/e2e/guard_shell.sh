#!/usr/bin/env bash
# End-to-end test of the shell guard (issue 23, sections 1-2) against the REAL Claude Code binary,
# offline.
#
# Usage: tests/e2e/guard_shell.sh BIN_DIR      BIN_DIR holds the pool binaries (e.g. target/release)
#
# In a real git repository with the hooks registered by `pool install`, instance B claims
# src/auth.rs and src/db.rs (db.rs is staged) and has a live session in the same worktree on
# branch main. Instance A's model then runs, through the Bash tool: `sed -i` on src/auth.rs,
# `git checkout -b other`, `git commit -m wip` and `git push --force origin main`. Each must be
# refused once, with the details in the model's next request, and a read-only command after each
# shows that the file, the branch and the commit count are unchanged; the retried `sed -i` goes
# through and PostToolUse records it in edits.log.
# Same knobs as tests/e2e/run.sh: E2E_CACHE_DIR, E2E_KEEP=1, E2E_NETNS=0.
# Exit status: 0 when every check passed, 1 when any failed, 2 on a set-up error.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
die() { printf 'e2e-shell: error: %s\n' "$*" >&2; exit 2; }
case "${1:-}" in ""|-h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;; esac
BIN_DIR="$(cd "$1" 2>/dev/null && pwd)" || die "no such directory: $1"
. "$HERE/lib.sh"
need_bins "$BIN_DIR" "${E2E_BINARIES[@]}"
command -v python3 >/dev/null || die "python3 is required"
command -v git >/dev/null || die "git is required"

e2e_claude
CLAUDE="$E2E_CLAUDE_BIN"
e2e_netns "$@"
e2e_world shell

mkdir -p "$W/proj/src"
printf 'auth: a\n' >"$W/proj/src/auth.rs"
printf 'db: a\n' >"$W/proj/src/db.rs"
in_world git init -q -b main . && in_world git add . && in_world git commit -q -m "Initial commit" \
  || die "git set-up failed"
# Staged for the next commit: B's claimed db.rs.
sleep 1
printf 'db: staged\n' >"$W/proj/src/db.rs" && in_world git add src/db.rs || die "git add failed"
in_world "$BIN_DIR/pool" install >"$W/install.out" 2>&1 || { cat "$W/install.out"; die "pool install failed"; }
# B claims both files and has a live session here (any hook call records where it works).
in_world CLAUDE_INSTANCE=B "$BIN_DIR/pool" post --action claimed --topic "Auth rewrite" \
  --affects "src/auth.rs, src/db.rs" >/dev/null || die "B's claim failed"
printf '{"session_id":"b-session-e2e","hook_event_name":"UserPromptSubmit","prompt":"go","cwd":"%s"}' "$W/proj" \
  | in_world CLAUDE_INSTANCE=B "$BIN_DIR/pool-prompt" >/dev/null || die "B's hook failed"

run_claude() {
  e2e_session "$W/runs/$1" "$2" "$3" "Bash"
}

check() { check_with "$HERE/check_shell.py" "$@"; }

printf 'e2e-shell: Claude Code %s, work dir %s, %s\n' "$("$CLAUDE" --version | head -n1)" "$W" "$NET_NOTE"
printf '\n== settings registered by pool install\n'
check settings "$W/config/settings.json"
printf '\n== A runs shell commands against B'\''s claim and B'\''s worktree\n'
run_claude A A shell_a.json
check a "$W"
[ -s "$W/pool/errors.log" ] && { printf 'errors.log:\n'; sed 's/^/  /' "$W/pool/errors.log"; }

printf '\ne2e-shell: %d passed, %d failed\n' "$PASSED" "$FAILED"
[ "$FAILED" -eq 0 ]
