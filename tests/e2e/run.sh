#!/usr/bin/env bash
# End-to-end test of claude-pool against the REAL Claude Code binary, offline.
#
# Usage:
#   tests/e2e/run.sh BIN_DIR          full test; BIN_DIR holds pool, pool-stop, pool-session-start,
#                                     pool-query (e.g. target/release)
#   tests/e2e/run.sh --harness-only   checks the harness itself (mock model + Claude Code + hooks)
#                                     with a logging hook, without our binaries
#
# What it does (full test):
#   1. installs the pinned Claude Code native binary (tests/e2e/install_claude.sh, cached);
#   2. re-runs itself inside a fresh network namespace (`unshare -n`, loopback only) when it can,
#      so nothing can leave the machine; otherwise relies on the offline env vars set in make_world;
#   3. temp HOME, CLAUDE_CONFIG_DIR (deliberately NOT $HOME/.claude), POOL_DIR and project dir;
#      `pool install` (run twice: must be idempotent) must register our hooks in
#      $CLAUDE_CONFIG_DIR/settings.json with absolute paths;
#   4. instance A (CLAUDE_INSTANCE=A) runs `claude -p` against tests/e2e/mock_model.py following
#      scripts/instance_a.json: pool blocks in a text block, in two text blocks of the final message,
#      and (must NOT be pooled) in a thinking block, a Bash tool result and the user's prompt;
#   5. instance B runs a session: its first model request must carry A's topics (SessionStart
#      context), and the pool (`pool-query --json --all` and instance_state.jsonl) must hold each of
#      A's blocks and B's block exactly once, with the right fields, and none of the leaks;
#   6. a pool holding an entry with hostile text (a closing </system-reminder>, <system>, turn
#      prefixes, invisible characters): B's first model request must carry it, inert;
#   7. `claude plugin validate --strict` on the repo root; the repo (its git-visible files) added as a
#      local marketplace, the plugin installed into a fresh config dir, and a session with only the
#      plugin's hooks must pool its block.
# Every claude run must exit 0 with every hook (SessionEnd included) exiting 0.
#
# Env knobs: E2E_CACHE_DIR (where Claude Code is cached; default ~/.cache/claude-pool-e2e),
# E2E_KEEP=1 (keep the temp dir even on success), E2E_NETNS=0 (do not use a network namespace),
# E2E_INSTALL=manual (DEVELOPMENT ONLY: write settings.json ourselves instead of `pool install`),
# CLAUDE_CODE_VERSION (pin override, see install_claude.sh).
# Exit status: 0 when every check passed, 1 when any failed, 2 on a usage or set-up error.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
START_TIME=$(date +%s)

die() { printf 'e2e: error: %s\n' "$*" >&2; exit 2; }

MODE=full
BIN_DIR=
case "${1:-}" in
  --harness-only) MODE=harness ;;
  ""|-h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
  *) BIN_DIR="$(cd "$1" 2>/dev/null && pwd)" || die "no such directory: $1" ;;
esac
if [ "$MODE" = full ]; then
  for b in pool pool-stop pool-session-start pool-prompt pool-guard pool-post-tool pool-query; do
    [ -x "$BIN_DIR/$b" ] || die "$BIN_DIR/$b missing or not executable (build with: cargo build --release)"
  done
fi
command -v python3 >/dev/null || die "python3 is required"

# --- 1. Claude Code (outside the namespace: this is the only step that needs the npm registry) ---
if [ -z "${E2E_CLAUDE_BIN:-}" ]; then
  CACHE_DIR="${E2E_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/claude-pool-e2e}"
  E2E_CLAUDE_BIN="$("$HERE/install_claude.sh" "$CACHE_DIR")" || die "could not install Claude Code"
  export E2E_CLAUDE_BIN
fi
CLAUDE="$E2E_CLAUDE_BIN"

# --- 2. Network namespace: loopback only ---
if [ -z "${E2E_IN_NETNS:-}" ] && [ "${E2E_NETNS:-1}" != 0 ] && command -v unshare >/dev/null \
   && command -v ip >/dev/null && unshare -n true 2>/dev/null; then
  exec unshare -n -- env E2E_IN_NETNS=1 bash "$0" "$@"
fi
if [ -n "${E2E_IN_NETNS:-}" ]; then
  ip link set lo up || die "could not bring up loopback in the network namespace"
  NET_NOTE="network namespace (loopback only)"
else
  NET_NOTE="no network namespace (E2E_NETNS=0 or unshare unavailable); offline via env vars only"
fi

# --- Tally ---
PASSED=0
FAILED=0
FAILURES=()
ok()   { PASSED=$((PASSED + 1)); printf 'ok   %s\n' "$1"; }
fail() { FAILED=$((FAILED + 1)); FAILURES+=("$1"); printf 'FAIL %s\n' "$1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/     | /'; }
# Runs check.py and folds its ok/FAIL lines into the tally.
check() {
  local out line
  out="$(python3 "$HERE/check.py" "$@" 2>&1)"
  printf '%s\n' "$out"
  while IFS= read -r line; do
    case "$line" in
      "ok   "*) PASSED=$((PASSED + 1)) ;;
      "FAIL "*) FAILED=$((FAILED + 1)); FAILURES+=("${line#FAIL }") ;;
      "check.py: "*|"Traceback"*) FAILED=$((FAILED + 1)); FAILURES+=("check.py $1 crashed: $line") ;;
    esac
  done <<<"$out"
}

# --- 3. Temp world ---
WORK="$(mktemp -d "${TMPDIR:-/tmp}/claude-pool-e2e.XXXXXX")"
MOCK_PID=
MOCK_URL=
cleanup() {
  stop_mock
  if [ "$FAILED" -eq 0 ] && [ "${E2E_KEEP:-0}" != 1 ]; then rm -rf "$WORK"; else printf 'e2e: kept %s\n' "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# make_world DIR: a HOME, a CLAUDE_CONFIG_DIR apart from it, a pool dir and a project dir, plus the
# environment every process of that world runs with (env.json, for check.py too).
make_world() {
  local d="$1" extra_path="${2:-}"
  mkdir -p "$d/home" "$d/config" "$d/pool" "$d/proj" "$d/tmp" "$d/runs"
  git -C "$d/proj" init -q 2>/dev/null || true
  printf '# Test project\n' >"$d/proj/README.md"
  WORLD_ENV=(
    "PATH=${extra_path:+$extra_path:}/usr/local/bin:/usr/bin:/bin"
    "HOME=$d/home"
    "CLAUDE_CONFIG_DIR=$d/config"
    "POOL_DIR=$d/pool"
    "TMPDIR=$d/tmp"
    "LANG=C.UTF-8"
    "SHELL=/bin/bash"
    "TERM=dumb"
    # Offline: Claude Code honours these (checked in the 2.1.329 binary): no telemetry, no
    # auto-update, no error reporting, and no nonessential traffic (without it the CLI resolves
    # external hosts and probes HEAD $ANTHROPIC_BASE_URL/api/hello at start).
    "DISABLE_TELEMETRY=1"
    "DISABLE_AUTOUPDATER=1"
    "DISABLE_ERROR_REPORTING=1"
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1"
    "ANTHROPIC_API_KEY=sk-ant-e2e-dummy-key"
  )
  python3 -c 'import json,sys; print(json.dumps(dict(a.split("=",1) for a in sys.argv[2:])))' x "${WORLD_ENV[@]}" >"$d/env.json"
}

# in_world DIR CMD...: runs CMD in world DIR's environment and project dir, with nothing inherited.
in_world() {
  local d="$1"; shift
  (cd "$d/proj" && env -i "${WORLD_ENV[@]}" "$@")
}

# start_mock DIR SCRIPT: a mock model server logging to DIR/requests.jsonl; sets MOCK_URL.
start_mock() {
  local dir="$1" script="$2" port
  mkdir -p "$dir"
  python3 "$HERE/mock_model.py" --script "$script" --port-file "$dir/port" --log "$dir/requests.jsonl" \
    2>"$dir/mock.stderr" &
  MOCK_PID=$!
  for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
  port="$(cat "$dir/port" 2>/dev/null)" || { fail "mock model server did not start ($dir)" "$(cat "$dir/mock.stderr")"; return 1; }
  MOCK_URL="http://127.0.0.1:$port"
}
stop_mock() {
  [ -n "$MOCK_PID" ] || return 0
  kill "$MOCK_PID" 2>/dev/null; wait "$MOCK_PID" 2>/dev/null; MOCK_PID=
}

# claude_cmd WORLD ARGS...: a claude subcommand (plugin ...) in world WORLD. ANTHROPIC_BASE_URL
# must point at loopback even here: with an API key and no base URL, `claude plugin install` and
# `marketplace add` try to reach the real API first and stall ~18 s when it is unreachable.
claude_cmd() {
  local d="$1"; shift
  in_world "$d" "ANTHROPIC_BASE_URL=$MOCK_URL" "$CLAUDE" "$@"
}

# run_claude WORLD LABEL INSTANCE SCRIPT PROMPT: one `claude -p` session against a fresh mock.
run_claude() {
  local d="$1" label="$2" instance="$3" script="$4" prompt="$5"
  local run="$d/runs/$label"
  start_mock "$run" "$script" || return
  in_world "$d" "CLAUDE_INSTANCE=$instance" "ANTHROPIC_BASE_URL=$MOCK_URL" \
    timeout 180 "$CLAUDE" -p "$prompt" \
      --allowedTools Bash \
      --output-format stream-json --verbose --include-hook-events \
      --debug-file "$run/debug.txt" \
      </dev/null >"$run/stream.jsonl" 2>"$run/stderr.txt"
  echo $? >"$run/rc"
  stop_mock
}

PROMPT_A='Refresh the auth tokens and check the build. For reference, a pool block looks like this (do not treat it as work done):
```pool
ACTION: completed
TOPIC: Leak from user prompt
SUMMARY: user text must not be pooled
AFFECTS: nothing
```'
PROMPT_B='What have the other sessions been doing?'

# ----------------------------------------------------------------------------------------------
# DEVELOPMENT ONLY hook installers. The real test uses `pool install` (install_hooks below).

# install_logging_hooks WORLD: a hook that appends its stdin to runs/*/hooks.jsonl (via
# $E2E_HOOK_LOG) and, on SessionStart, prints a marker that must reach the model request.
install_logging_hooks() {
  local d="$1"
  cat >"$d/log-hook.sh" <<'EOF'
#!/bin/sh
input=$(cat)
printf '{"event":"%s","instance":"%s","input":%s}\n' "$1" "$CLAUDE_INSTANCE" "$input" >>"$E2E_HOOK_LOG"
[ "$1" = SessionStart ] && echo "POOL-CONTEXT-MARKER"
exit 0
EOF
  chmod +x "$d/log-hook.sh"
  python3 - "$d/config/settings.json" "$d/log-hook.sh" <<'EOF'
import json, sys
events = ["SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop", "SessionEnd"]
hooks = {e: [{"hooks": [{"type": "command", "command": f"{sys.argv[2]} {e}"}]}] for e in events}
json.dump({"hooks": hooks}, open(sys.argv[1], "w"), indent=2)
EOF
}

# install_hooks_manually WORLD: what we expect `pool install` to write. Behind E2E_INSTALL=manual,
# for developing this harness before `pool install` existed; never the default.
install_hooks_manually() {
  local d="$1"
  python3 - "$d/config/settings.json" "$BIN_DIR" <<'EOF'
import json, sys
b = sys.argv[2]
cmd = {"SessionStart": f"{b}/pool-session-start", "Stop": f"{b}/pool-stop",
       "UserPromptSubmit": f"{b}/pool-prompt", "SessionEnd": f"{b}/pool-stop"}
hooks = {e: [{"hooks": [{"type": "command", "command": c}]}] for e, c in cmd.items()}
json.dump({"hooks": hooks}, open(sys.argv[1], "w"), indent=2)
EOF
}

# install_hooks WORLD: `pool install` (twice: the second run must change nothing).
install_hooks() {
  local d="$1" out
  if [ "${E2E_INSTALL:-pool}" = manual ]; then
    install_hooks_manually "$d"
    fail "hooks installed by install_hooks_manually (E2E_INSTALL=manual), not by pool install"
    return
  fi
  if out="$(in_world "$d" "$BIN_DIR/pool" install 2>&1)"; then ok "pool install exits 0"; else fail "pool install exits 0" "$out"; fi
  check settings "$d/config/settings.json" "$BIN_DIR"
  if [ -e "$d/home/.claude/settings.json" ]; then
    fail "pool install honours CLAUDE_CONFIG_DIR" "it (also) wrote $d/home/.claude/settings.json"
  else
    ok "pool install honours CLAUDE_CONFIG_DIR (nothing written to \$HOME/.claude)"
  fi
  cp "$d/config/settings.json" "$d/settings.first.json" 2>/dev/null
  if out="$(in_world "$d" "$BIN_DIR/pool" install 2>&1)"; then ok "pool install (second run) exits 0"; else fail "pool install (second run) exits 0" "$out"; fi
  [ -f "$d/settings.first.json" ] && check settings-idempotent "$d/settings.first.json" "$d/config/settings.json"
}

# ----------------------------------------------------------------------------------------------

printf 'e2e: Claude Code %s (%s)\ne2e: %s\ne2e: work dir %s\n' \
  "$("$CLAUDE" --version 2>/dev/null | head -n1)" "$CLAUDE" "$NET_NOTE" "$WORK"

printf '\n== mock model server self-test\n'
check mock-selftest "$HERE/mock_model.py"

if [ "$MODE" = harness ]; then
  printf '\n== harness: logging hooks, no pool binaries\n'
  W="$WORK/harness"
  make_world "$W"
  install_logging_hooks "$W"
  WORLD_ENV+=("E2E_HOOK_LOG=$W/runs/A/hooks.jsonl")
  mkdir -p "$W/runs/A"
  run_claude "$W" A A "$HERE/scripts/instance_a.json" "$PROMPT_A"
  check harness "$W/runs/A"
else
  printf '\n== pool install\n'
  W="$WORK/main"
  make_world "$W"
  install_hooks "$W"

  printf '\n== instance A writes pool blocks\n'
  run_claude "$W" A A "$HERE/scripts/instance_a.json" "$PROMPT_A"
  check run "$W/runs/A" A 2

  printf '\n== instance B starts and sees A'\''s work\n'
  run_claude "$W" B B "$HERE/scripts/instance_b.json" "$PROMPT_B"
  check run "$W/runs/B" B 1

  printf '\n== pool contents and injected context\n'
  check pool "$W" "$BIN_DIR"

  printf '\n== hostile text from another session stays inert in the model request\n'
  H="$WORK/hostile"
  make_world "$H"
  if out="$(in_world "$H" "$BIN_DIR/pool" install 2>&1)"; then ok "pool install (hostile world)"; else fail "pool install (hostile world)" "$out"; fi
  python3 "$HERE/check.py" plant-hostile "$H/pool"
  run_claude "$H" B B "$HERE/scripts/instance_b.json" "$PROMPT_B"
  check run "$H/runs/B" B 1
  check hostile "$H/runs/B"

  printf '\n== plugin: validate --strict\n'
  P="$WORK/plugin"
  make_world "$P" "$BIN_DIR"
  start_mock "$P/cli-mock" "$HERE/scripts/plugin_p.json"
  if out="$(claude_cmd "$P" plugin validate --strict "$REPO" 2>&1)"; then
    ok "claude plugin validate --strict $REPO"
  else
    fail "claude plugin validate --strict $REPO" "$out"
  fi

  printf '\n== plugin: install from the repository as a local marketplace\n'
  # The marketplace is a copy of the files git sees (tracked + untracked, not ignored): Claude Code
  # copies the whole plugin folder into its cache, and target/ does not belong there.
  SRC="$P/marketplace-src"
  mkdir -p "$SRC"
  if git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$REPO" && git ls-files -z --cached --others --exclude-standard \
       | xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh \
       | tar --null -T - -cf -) | tar -C "$SRC" -xf -
  else
    (cd "$REPO" && tar --exclude=./target --exclude=./.git -cf - .) | tar -C "$SRC" -xf -
  fi
  if names="$(python3 "$HERE/check.py" plugin-names "$SRC" 2>&1)"; then
    read -r MKT PLUGIN <<<"$names"
    if out="$(claude_cmd "$P" plugin marketplace add "$SRC" 2>&1)"; then ok "claude plugin marketplace add (local)"; else fail "claude plugin marketplace add (local)" "$out"; fi
    if out="$(claude_cmd "$P" plugin install "$PLUGIN@$MKT" 2>&1)"; then ok "claude plugin install $PLUGIN@$MKT"; else fail "claude plugin install $PLUGIN@$MKT" "$out"; fi
    claude_cmd "$P" plugin list --json >"$P/plugin-list.json" 2>"$P/plugin-list.err"
    stop_mock
    printf '\n== plugin: a session with only the plugin'\''s hooks (BIN_DIR on PATH)\n'
    run_claude "$P" P P "$HERE/scripts/plugin_p.json" "Record what you did."
    check run "$P/runs/P" "plugin" 1
    check plugin "$P/plugin-list.json" "$PLUGIN@$MKT" "$P/runs/P" "$P" "$BIN_DIR"
  else
    stop_mock
    fail "read .claude-plugin/marketplace.json" "$names"
  fi
fi

ELAPSED=$(( $(date +%s) - START_TIME ))
printf '\n'
if [ "$FAILED" -eq 0 ]; then
  printf 'PASS: claude-pool e2e (%s mode) against Claude Code %s in %ss\n' "$MODE" "$("$CLAUDE" --version | head -n1)" "$ELAPSED"
else
  printf 'FAILED checks:\n'
  printf '  - %s\n' "${FAILURES[@]}"
  printf 'artifacts (claude stream/stderr/debug log, mock request log) are under %s\n' "$WORK"
fi
printf 'e2e: %d passed, %d failed\n' "$PASSED" "$FAILED"
[ "$FAILED" -eq 0 ]
