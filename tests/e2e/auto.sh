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
W="$(mktemp -d "${TMPDIR:-/tmp}/claude-pool-e2e-auto.XXXXXX")"
MOCK_PID=
cleanup() {
  [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null
  if [ "$FAILED" -eq 0 ] && [ "${E2E_KEEP:-0}" != 1 ]; then rm -rf "$W"; else printf 'e2e-auto: kept %s\n' "$W"; fi
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
in_world git init -q -b main . && printf '# proj\n' >"$W/proj/README.md" \
  && in_world git add README.md && in_world git commit -q -m "Initial commit" || die "git set-up failed"
in_world "$BIN_DIR/pool" install >"$W/install.out" 2>&1 || { cat "$W/install.out"; die "pool install failed"; }

# run_claude LABEL INSTANCE SCRIPT: one `claude -p` session against a fresh mock.
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
    timeout 180 "$CLAUDE" -p "Do the task." --allowedTools "Bash Write" \
      --output-format stream-json --verbose --include-hook-events \
      --debug-file "$run/debug.txt" </dev/null >"$run/stream.jsonl" 2>"$run/stderr.txt"
  echo $? >"$run/rc"
  kill "$MOCK_PID" 2>/dev/null; wait "$MOCK_PID" 2>/dev/null; MOCK_PID=
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
