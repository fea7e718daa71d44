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
W="$(mktemp -d "${TMPDIR:-/tmp}/claude-pool-e2e-shell.XXXXXX")"
MOCK_PID=
cleanup() {
  [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null
  if [ "$FAILED" -eq 0 ] && [ "${E2E_KEEP:-0}" != 1 ]; then rm -rf "$W"; else printf 'e2e-shell: kept %s\n' "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$W/home" "$W/config" "$W/pool" "$W/tmp" "$W/runs" "$W/proj/src"
ENV=(
  "PATH=/usr/local/bin:/usr/bin:/bin" "HOME=$W/home" "CLAUDE_CONFIG_DIR=$W/config"
  "POOL_DIR=$W/pool" "TMPDIR=$W/tmp" "LANG=C.UTF-8" "SHELL=/bin/bash" "TERM=dumb"
  "DISABLE_TELEMETRY=1" "DISABLE_AUTOUPDATER=1" "DISABLE_ERROR_REPORTING=1"
  "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1" "ANTHROPIC_API_KEY=sk-ant-e2e-dummy-key"
  "GIT_AUTHOR_NAME=E2E" "GIT_AUTHOR_EMAIL=e2e@example.invalid"
  "GIT_COMMITTER_NAME=E2E" "GIT_COMMITTER_EMAIL=e2e@example.invalid"
)
in_world() { (cd "$W/proj" && env -i "${ENV[@]}" "$@"); }
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
  local label="$1" instance="$2" run="$W/runs/$1" port
  mkdir -p "$run"
  sed "s#@PROJ@#$W/proj#g" "$HERE/scripts/$3" >"$run/script.json"
  python3 "$HERE/mock_model.py" --script "$run/script.json" --port-file "$run/port" \
    --log "$run/requests.jsonl" 2>"$run/mock.stderr" &
  MOCK_PID=$!
  for _ in $(seq 100); do [ -s "$run/port" ] && break; sleep 0.05; done
  port="$(cat "$run/port")" || die "mock model did not start"
  in_world "CLAUDE_INSTANCE=$instance" "ANTHROPIC_BASE_URL=http://127.0.0.1:$port" \
    timeout 180 "$CLAUDE" -p "Do the task." --allowedTools "Bash" \
      --output-format stream-json --verbose --include-hook-events \
      --debug-file "$run/debug.txt" </dev/null >"$run/stream.jsonl" 2>"$run/stderr.txt"
  echo $? >"$run/rc"
  kill "$MOCK_PID" 2>/dev/null; wait "$MOCK_PID" 2>/dev/null; MOCK_PID=
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
