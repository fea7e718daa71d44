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
#   7. scope (issue 13): A claims notes/ in repository X; B, writing notes/plan.md in repository Y
#      (same pool), is not warned, while C in X is; a session with no CLAUDE_INSTANCE in a folder
#      that did not opt in (a non-member) gets no pool text in any model request and writes nothing;
#   8. `claude plugin validate --strict` on the repo root, plugin/ and dist/marketplace; the repo (its
#      git-visible files) added as a local marketplace, the plugin (plugin/) installed into a fresh
#      config dir with at most 10 MB in the plugin cache, and a session with only the plugin's
#      hooks must pool its block.
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
. "$HERE/lib.sh"
if [ "$MODE" = full ]; then
  need_bins "$BIN_DIR" "${E2E_BINARIES[@]}"
fi
command -v python3 >/dev/null || die "python3 is required"

# --- 1. Claude Code (outside the namespace: this is the only step that needs the npm registry) ---
e2e_claude
CLAUDE="$E2E_CLAUDE_BIN"

# --- 2. Network namespace (loopback only), and the tally ---
e2e_netns "$@"
check() { check_with "$HERE/check.py" "$@"; }

# --- 3. Temp world ---
WORK="$(mktemp -d "${TMPDIR:-/tmp}/claude-pool-e2e.XXXXXX")"
MOCK_PID=
MOCK_URL=
TMUX_L=
cleanup() {
  [ -n "$TMUX_L" ] && tmux -L "$TMUX_L" kill-server 2>/dev/null
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
# RUN_ENV (array of NAME=value) and RUN_ARGS (array of claude flags) add to that one run.
RUN_ENV=()
RUN_ARGS=()
run_claude() {
  local d="$1" label="$2" instance="$3" script="$4" prompt="$5"
  local run="$d/runs/$label"
  start_mock "$run" "$script" || return
  in_world "$d" "CLAUDE_INSTANCE=$instance" "ANTHROPIC_BASE_URL=$MOCK_URL" ${RUN_ENV[@]+"${RUN_ENV[@]}"} \
    timeout 180 "$CLAUDE" -p "$prompt" \
      --allowedTools Bash ${RUN_ARGS[@]+"${RUN_ARGS[@]}"} \
      --output-format stream-json --verbose --include-hook-events \
      --debug-file "$run/debug.txt" \
      </dev/null >"$run/stream.jsonl" 2>"$run/stderr.txt"
  echo $? >"$run/rc"
  stop_mock
}

# template SRC DEST PROJ: a mock script with __PROJ__ replaced by the project dir.
template() {
  sed "s|__PROJ__|$3|g" "$1" >"$2"
}

# trust_world WORLD: what an interactive session asks once per machine (onboarding, the API key,
# trusting the project folder), answered in advance in $CLAUDE_CONFIG_DIR/.claude.json.
trust_world() {
  python3 - "$1" <<'EOF2'
import json, sys
d = sys.argv[1]
key = "sk-ant-e2e-dummy-key"
json.dump({"hasCompletedOnboarding": True, "theme": "dark",
           "customApiKeyResponses": {"approved": [key[-20:]], "rejected": []},
           "projects": {f"{d}/proj": {"hasTrustDialogAccepted": True,
                                      "hasCompletedProjectOnboarding": True}}},
          open(f"{d}/config/.claude.json", "w"))
EOF2
}

# wait_for SECONDS CMD...: polls CMD every 0.2 s until it succeeds; 1 on time-out.
wait_for() {
  local limit=$(( $1 * 5 )); shift
  local i
  for ((i = 0; i < limit; i++)); do "$@" && return 0; sleep 0.2; done
  return 1
}
# mains_at_least RUN N: the mock logged at least N main requests.
mains_at_least() {
  local n
  n="$(grep -c '"kind": "main"' "$1/requests.jsonl" 2>/dev/null)"
  [ "${n:-0}" -ge "$2" ]
}
# stops_at_least RUN N: the debug log shows at least N finished Stop hooks (a turn ended).
stops_at_least() {
  local n
  n="$(grep -cE '(Hooks: )?Stop \[.*\] (finished|completed) with status' "$1/debug.txt" 2>/dev/null)"
  [ "${n:-0}" -ge "$2" ]
}
# presence_has_socket WORLD INSTANCE: the instance's presence records an inbox socket.
presence_has_socket() {
  grep -ls '"socket":"' "$1/pool/presence/"*.json 2>/dev/null | xargs -r grep -l "\"instance\":\"$2\"" | grep -q .
}

# in_dir WORLD DIR CMD...: like in_world, in DIR instead of the world's project dir.
in_dir() {
  local d="$1" dir="$2"; shift 2
  (cd "$dir" && env -i "${WORLD_ENV[@]}" "$@")
}

# run_claude_in WORLD LABEL DIR INSTANCE SCRIPT PROMPT: one `claude -p` session in DIR, with
# CLAUDE_INSTANCE=INSTANCE (unset when INSTANCE is empty), allowed to use Bash and Write.
run_claude_in() {
  local d="$1" label="$2" dir="$3" instance="$4" script="$5" prompt="$6"
  local run="$d/runs/$label" inst=()
  [ -n "$instance" ] && inst=("CLAUDE_INSTANCE=$instance")
  start_mock "$run" "$script" || return
  in_dir "$d" "$dir" "${inst[@]}" "ANTHROPIC_BASE_URL=$MOCK_URL" \
    timeout 180 "$CLAUDE" -p "$prompt" \
      --allowedTools Bash Write \
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
  python3 "$HERE/check.py" plant-hostile "$H/pool" "$H/proj"
  run_claude "$H" B B "$HERE/scripts/instance_b.json" "$PROMPT_B"
  check run "$H/runs/B" B 1
  check hostile "$H/runs/B"

  printf '\n== scope: two repositories share one pool; a session that is not a member\n'
  S="$WORK/scope"
  make_world "$S"
  if out="$(in_world "$S" "$BIN_DIR/pool" install 2>&1)"; then ok "scope world: pool install exits 0"; else fail "scope world: pool install exits 0" "$out"; fi
  mkdir -p "$S/x" "$S/y" "$S/alone"
  git -C "$S/x" init -q && git -C "$S/x" remote add origin https://github.com/e2e/x.git
  git -C "$S/y" init -q && git -C "$S/y" remote add origin git@github.com:e2e/y.git
  if out="$(in_dir "$S" "$S/x" CLAUDE_INSTANCE=A "$BIN_DIR/pool" post --action claimed \
              --topic "X planning notes" --affects notes/ 2>&1)"; then
    ok "A claims notes/ in repository X"
  else
    fail "A claims notes/ in repository X" "$out"
  fi
  for who in y x; do
    python3 - "$S/write_$who.json" "$S/$who/notes/plan.md" <<'EOF'
import json, sys
turns = [[{"type": "text", "text": "Writing the plan."},
          {"type": "tool_use", "name": "Write", "input": {"file_path": sys.argv[2], "content": "# Plan\n"}}],
         [{"type": "text", "text": "The plan is written."}]]
json.dump({"turns": turns, "side_reply": "Scope test", "exhausted_reply": "Done."}, open(sys.argv[1], "w"))
EOF
  done
  python3 - "$S/alone.json" <<'EOF'
import json, sys
turns = [[{"type": "text", "text": "Hello.\n\n```pool\nACTION: completed\nTOPIC: Lonely session\n```\n"}]]
json.dump({"turns": turns, "side_reply": "Scope test", "exhausted_reply": "Done."}, open(sys.argv[1], "w"))
EOF
  run_claude_in "$S" B "$S/y" B "$S/write_y.json" "Write the plan in notes/plan.md."
  check run "$S/runs/B" "scope B (repository Y)" 2
  run_claude_in "$S" C "$S/x" C "$S/write_x.json" "Write the plan in notes/plan.md."
  check run "$S/runs/C" "scope C (repository X)" 2
  run_claude_in "$S" N "$S/alone" "" "$S/alone.json" "Say hello."
  check run "$S/runs/N" "non-member N" 1
  check scope "$S"

  printf '\n== plugin: validate --strict\n'
  P="$WORK/plugin"
  make_world "$P" "$BIN_DIR"
  start_mock "$P/cli-mock" "$HERE/scripts/plugin_p.json"
  for dir in "$REPO" "$REPO/plugin" "$REPO/dist/marketplace"; do
    if out="$(claude_cmd "$P" plugin validate --strict "$dir" 2>&1)"; then
      ok "claude plugin validate --strict $dir"
    else
      fail "claude plugin validate --strict $dir" "$out"
    fi
  done

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
    # The plugin is its own folder (plugin/), so the cache gets a few KB, not the repository.
    bytes=$(du -sb "$P/config/plugins/cache" 2>/dev/null | cut -f1)
    if [ -n "$bytes" ] && [ "$bytes" -le $((10 * 1024 * 1024)) ]; then
      ok "plugin cache after a local install holds $bytes bytes (at most 10 MB)"
    else
      fail "plugin cache after a local install at most 10 MB" "${bytes:-no cache} bytes"
    fi
    if [ -n "$(find "$P/config/plugins/cache" -name Cargo.toml -o -name src -o -name target | head -1)" ]; then
      fail "plugin cache holds no sources or build" "$(find "$P/config/plugins/cache" -maxdepth 4 | head -20)"
    else
      ok "plugin cache holds no sources or build"
    fi
    printf '\n== plugin: a session with only the plugin'\''s hooks (BIN_DIR on PATH)\n'
    run_claude "$P" P P "$HERE/scripts/plugin_p.json" "Record what you did."
    check run "$P/runs/P" "plugin" 1
    check plugin "$P/plugin-list.json" "$PLUGIN@$MKT" "$P/runs/P" "$P" "$BIN_DIR"
  else
    stop_mock
    fail "read .claude-plugin/marketplace.json" "$names"
  fi
fi

if [ "$MODE" = full ]; then
  printf '\n== guard: the first edit of a claimed file is refused, the retry goes through (main thread and subagent)\n'
  G="$WORK/guard"
  make_world "$G"
  in_world "$G" "$BIN_DIR/pool" install >/dev/null 2>&1 || fail "pool install (guard world)"
  mkdir -p "$G/proj/src"
  printf 'fn refresh() {}\nfn login() {}\nfn logout() {}\n' >"$G/proj/src/auth.rs"
  if out="$(in_world "$G" "CLAUDE_INSTANCE=B" "$BIN_DIR/pool" post --action claimed --topic "Auth rewrite" \
              --summary "B is rewriting token handling" --affects src/auth.rs 2>&1)"; then
    ok "B claims src/auth.rs"
  else
    fail "B claims src/auth.rs" "$out"
  fi
  template "$HERE/scripts/guard_a.json" "$G/guard_a.json" "$G/proj"
  RUN_ARGS=(--permission-mode acceptEdits)
  run_claude "$G" GA A "$G/guard_a.json" "Fix refresh and login in src/auth.rs."
  RUN_ARGS=()
  check run "$G/runs/GA" GA 6
  check guard "$G/runs/GA" "$G/proj/src/auth.rs"

  printf '\n== guard: POOL_CLAIMS=ask with nobody attending (claude -p) refuses once instead\n'
  template "$HERE/scripts/guard_ask.json" "$G/guard_ask.json" "$G/proj"
  RUN_ENV=(POOL_CLAIMS=ask)
  RUN_ARGS=(--permission-mode acceptEdits)
  run_claude "$G" GD D "$G/guard_ask.json" "Fix logout in src/auth.rs."
  RUN_ENV=()
  RUN_ARGS=()
  check run "$G/runs/GD" GD 3
  check guard-ask "$G/runs/GD" "$G/proj/src/auth.rs"

  printf '\n== handoffs once per request; an idle interactive session woken by a handoff (tmux)\n'
  if command -v tmux >/dev/null; then
    H="$WORK/wake"
    make_world "$H"
    trust_world "$H"
    in_world "$H" "$BIN_DIR/pool" install >/dev/null 2>&1 || fail "pool install (wake world)"
    post_id() { sed -n 's/^posted //p' | head -n1; }
    H1="$(in_world "$H" "CLAUDE_INSTANCE=B" "$BIN_DIR/pool" post --action completed \
            --topic "Parser ready for review" --summary "see src/parser.rs" --to A 2>/dev/null | post_id)"
    W="$H/runs/W"
    start_mock "$W" "$HERE/scripts/wake_a.json"
    TMUX_L="claude-pool-e2e-$$"
    tmux -L "$TMUX_L" new-session -d -s wake -x 200 -y 50 -c "$H/proj" \
      env -i "${WORLD_ENV[@]}" TERM=xterm-256color CLAUDE_INSTANCE=A "ANTHROPIC_BASE_URL=$MOCK_URL" \
      "$CLAUDE" --debug-file "$W/debug.txt"
    screen() { tmux -L "$TMUX_L" capture-pane -p -t wake >"$W/screen-$1.txt" 2>&1; }
    if wait_for 60 presence_has_socket "$H" A; then
      ok "A's interactive session records its inbox socket in presence"
    else
      fail "A's interactive session records its inbox socket in presence" "$(ls -la "$H/pool/presence" 2>&1)"
    fi
    sleep 1
    tmux -L "$TMUX_L" send-keys -t wake "first prompt" Enter
    wait_for 60 mains_at_least "$W" 1 && wait_for 30 stops_at_least "$W" 1 \
      || fail "A's first prompt was answered" "$(screen 1; cat "$W/screen-1.txt")"
    in_world "$H" "$BIN_DIR/pool" status >"$W/status.txt" 2>&1
    in_world "$H" "$BIN_DIR/pool" status --json >"$W/status.json" 2>&1
    # B hands off again while A is idle: `pool post` wakes A's session, nobody types.
    H2="$(in_world "$H" "CLAUDE_INSTANCE=B" "$BIN_DIR/pool" post --action signaling \
            --topic "Lexer ready too" --summary "src/lexer.rs passes" --to A 2>"$W/post-h2.err" | post_id)"
    t0=$(date +%s%N)
    wait_for 60 mains_at_least "$W" 2 && wait_for 30 stops_at_least "$W" 2 \
      || fail "the idle session started a turn of its own" "$(screen 2; cat "$W/screen-2.txt"; cat "$W/post-h2.err")"
    printf '%s\n' "$(( ($(date +%s%N) - t0) / 1000000 ))" >"$W/wake-ms"
    # A acknowledges the first handoff, then types again.
    in_world "$H" "CLAUDE_INSTANCE=A" "$BIN_DIR/pool" ack "$H1" >/dev/null 2>&1 || fail "pool ack $H1"
    tmux -L "$TMUX_L" send-keys -t wake "third prompt" Enter
    wait_for 60 mains_at_least "$W" 3 && wait_for 30 stops_at_least "$W" 3 \
      || fail "A's third prompt was answered" "$(screen 3; cat "$W/screen-3.txt")"
    screen end
    tmux -L "$TMUX_L" kill-server 2>/dev/null
    stop_mock
    # A new session of A after the acknowledgement.
    run_claude "$H" AFTER A "$HERE/scripts/after_ack.json" "What is pending for me?"
    check run "$H/runs/AFTER" AFTER 1
    check wake "$W" "$H/runs/AFTER" "$H1" "$H2" "$H/pool"

    printf '\n== a session that bypasses permissions holds the wake for its user (the documented limit)\n'
    python3 - "$H/config/settings.json" <<'EOF2'
import json, sys
p = sys.argv[1]
s = json.load(open(p))
s["skipDangerousModePermissionPrompt"] = True
json.dump(s, open(p, "w"), indent=2)
EOF2
    BY="$H/runs/BY"
    start_mock "$BY" "$HERE/scripts/wake_a.json"
    TMUX_L="claude-pool-e2e-by-$$"
    # IS_SANDBOX=1: Claude Code refuses --dangerously-skip-permissions as root otherwise (CI runs as root).
    tmux -L "$TMUX_L" new-session -d -s by -x 200 -y 50 -c "$H/proj" \
      env -i "${WORLD_ENV[@]}" TERM=xterm-256color IS_SANDBOX=1 CLAUDE_INSTANCE=C "ANTHROPIC_BASE_URL=$MOCK_URL" \
      "$CLAUDE" --dangerously-skip-permissions --debug-file "$BY/debug.txt"
    wait_for 60 presence_has_socket "$H" C || fail "C's bypass session records its inbox socket"
    sleep 1
    tmux -L "$TMUX_L" send-keys -t by "first prompt" Enter
    wait_for 60 mains_at_least "$BY" 1 && wait_for 30 stops_at_least "$BY" 1 \
      || fail "C's first prompt was answered"
    in_world "$H" "CLAUDE_INSTANCE=B" "$BIN_DIR/pool" post --action completed --topic "Schema ready" \
      --to C >/dev/null 2>&1
    if wait_for 8 mains_at_least "$BY" 2; then
      fail "a bypassPermissions session holds a wake for approval" "it started a turn: Claude Code changed; update README"
    else
      ok "a bypassPermissions session does not start a turn on a wake (held for its user)"
    fi
    tmux -L "$TMUX_L" capture-pane -p -t by >"$BY/screen.txt" 2>&1
    if grep -q "Held peer message" "$BY/screen.txt" && grep -q "crossSessionInbound" "$BY/screen.txt"; then
      ok "Claude Code shows the held message and names the crossSessionInbound setting"
    else
      fail "Claude Code shows the held message and names the crossSessionInbound setting" "$(cat "$BY/screen.txt")"
    fi
    if in_world "$H" "$BIN_DIR/pool" status 2>&1 | grep -q "wakes held (bypassPermissions)"; then
      ok "pool status says C's wakes are held in bypassPermissions mode"
    else
      fail "pool status says C's wakes are held in bypassPermissions mode" "$(in_world "$H" "$BIN_DIR/pool" status 2>&1)"
    fi
    tmux -L "$TMUX_L" kill-server 2>/dev/null
    stop_mock
  else
    fail "tmux is needed for the interactive wake test"
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
