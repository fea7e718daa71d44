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
e2e_world registry
mkdir -p "$W/out"
ENV+=("POOL_BIN=$BIN_DIR" "E2E_OUT=$W/out")
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

printf 'e2e-registry: Claude Code %s, work dir %s, %s\n' "$("$CLAUDE" --version | head -n1)" "$W" "$NET_NOTE"
run="$W/runs/A"
e2e_session "$run" A registry_a.json Bash
in_world "$BIN_DIR/pool" status --json >"$W/out/after.json" 2>"$W/out/after.err"

if [ "$(cat "$run/rc")" = 137 ]; then ok "the client was killed (exit 137, no SessionEnd)"; else fail "the client was killed" "rc $(cat "$run/rc")"; fi
check_with "$HERE/check_registry.py" "$W"
[ -s "$W/pool/errors.log" ] && { printf 'errors.log:\n'; sed 's/^/  /' "$W/pool/errors.log"; }

printf '\ne2e-registry: %d passed, %d failed\n' "$PASSED" "$FAILED"
[ "$FAILED" -eq 0 ]
