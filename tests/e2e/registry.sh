#!/usr/bin/env bash
# End-to-end test of presence from Claude Code's registry of live sessions
# (<config dir>/sessions/<pid>.json) against the REAL Claude Code binary, offline.
#
# Usage: tests/e2e/registry.sh BIN_DIR      BIN_DIR holds the pool binaries (e.g. target/release)
#
# Instance A's session, with the hooks `pool install` registers, runs `pool status --json`
# from its Bash tool: once as it is, and once after its presence file is made two hours old
# (as if nobody had typed in it since lunch). Claude Code still lists the session, so it is
# idle (wakeable), not gone. Then the model's next command kills the client with SIGKILL: no
# SessionEnd runs and the registry file is left behind, but its process is gone, so
# `pool status` says the session is gone at once instead of "active" for five minutes.
# Same knobs as tests/e2e/run.sh: E2E_CACHE_DIR, E2E_KEEP=1, E2E_NETNS=0, E2E_CLAUDE_BIN.
# Exit status: 0 when every check passed, 1 when any failed, 2 on a set-up error.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
die() { printf 'e2e-registry: error: %s\n' "$*" >&2; exit 2; }
case "${1:-}" in ""|-h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;; esac
BIN_DIR="$(cd "$1" 2>/dev/null && pwd)" || die "no such directory: $1"
. "$HERE/lib.sh"
need_bins "$BIN_DIR" "${E2E_BINARIES[@]}"
command -v python3 >/dev/null || die "python3 is required"

e2e_claude
CLAUDE="$E2E_CLAUDE_BIN"
e2e_netns "$@"
W="$(mktemp -d "${TMPDIR:-/tmp}/claude-pool-e2e-registry.XXXXXX")"
MOCK_PID=
cleanup() {
  [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null
  if [ "$FAILED" -eq 0 ] && [ "${E2E_KEEP:-0}" != 1 ]; then rm -rf "$W"; else printf 'e2e-registry: kept %s\n' "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$W/home" "$W/config" "$W/pool" "$W/tmp" "$W/out" "$W/run" "$W/proj"
ENV=(
  "PATH=/usr/local/bin:/usr/bin:/bin" "HOME=$W/home" "CLAUDE_CONFIG_DIR=$W/config"
  "POOL_DIR=$W/pool" "TMPDIR=$W/tmp" "LANG=C.UTF-8" "SHELL=/bin/bash" "TERM=dumb"
  "DISABLE_TELEMETRY=1" "DISABLE_AUTOUPDATER=1" "DISABLE_ERROR_REPORTING=1"
  "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1" "ANTHROPIC_API_KEY=sk-ant-e2e-dummy-key"
  "POOL_BIN=$BIN_DIR" "E2E_OUT=$W/out"
)
in_world() { (cd "$W/proj" && env -i "${ENV[@]}" "$@"); }
in_world "$BIN_DIR/pool" install >"$W/install.out" 2>&1 || { cat "$W/install.out"; die "pool install failed"; }
# Makes every presence file two hours old (run from the session's Bash tool).
cat >"$W/out/age.py" <<'PY'
import glob, json, os
for f in glob.glob(os.path.join(os.environ["POOL_DIR"], "presence", "*.json")):
    p = json.load(open(f))
    p["first_seen"] -= 7200
    p["last_seen"] -= 7200
    json.dump(p, open(f, "w"))
PY

run="$W/run"
sed "s#@PROJ@#$W/proj#g" "$HERE/scripts/registry_a.json" >"$run/script.json"
python3 "$HERE/mock_model.py" --script "$run/script.json" --port-file "$run/port" \
  --log "$run/requests.jsonl" 2>"$run/mock.stderr" &
MOCK_PID=$!
for _ in $(seq 100); do [ -s "$run/port" ] && break; sleep 0.05; done
port="$(cat "$run/port")" || die "mock model did not start"
printf 'e2e-registry: Claude Code %s, work dir %s, %s\n' "$("$CLAUDE" --version | head -n1)" "$W" "$NET_NOTE"
in_world "CLAUDE_INSTANCE=A" "ANTHROPIC_BASE_URL=http://127.0.0.1:$port" \
  timeout 180 "$CLAUDE" -p "Do the task." --allowedTools "Bash" \
    --output-format stream-json --verbose --include-hook-events \
    --debug-file "$run/debug.txt" </dev/null >"$run/stream.jsonl" 2>"$run/stderr.txt"
echo $? >"$run/rc"
kill "$MOCK_PID" 2>/dev/null; wait "$MOCK_PID" 2>/dev/null; MOCK_PID=
in_world "$BIN_DIR/pool" status --json >"$W/out/after.json" 2>"$W/out/after.err"

if [ "$(cat "$run/rc")" = 137 ]; then ok "the client was killed (exit 137, no SessionEnd)"; else fail "the client was killed" "rc $(cat "$run/rc")"; fi
check_with "$HERE/check_registry.py" "$W"
[ -s "$W/pool/errors.log" ] && { printf 'errors.log:\n'; sed 's/^/  /' "$W/pool/errors.log"; }

printf '\ne2e-registry: %d passed, %d failed\n' "$PASSED" "$FAILED"
[ "$FAILED" -eq 0 ]
