#!/usr/bin/env bash
# End-to-end test of one pool shared by the REAL Claude Code and the REAL Codex CLI, offline.
#
# Usage:
#   tests/e2e/codex.sh BIN_DIR          full test; BIN_DIR holds pool, pool-stop, pool-session-start,
#                                       pool-prompt, pool-guard, pool-query (e.g. target/release)
#   tests/e2e/codex.sh --harness-only   checks the harness itself (scripted Responses-API server +
#                                       Codex + a logging hook), without our binaries
#
# What it does (full test), in one world (HOME, CLAUDE_CONFIG_DIR, CODEX_HOME, POOL_DIR, project):
#   1. installs the pinned Claude Code (install_claude.sh) and Codex (install_codex.sh) binaries;
#   2. re-runs itself in a fresh network namespace (`unshare -n`, loopback only) when it can;
#   3. `pool install` and `pool install --codex` (each twice: idempotent); Codex must list every
#      hook of ours as trusted (`codex app-server`, hooks/list), so no run below bypasses trust;
#   4. Claude Code instance A claims src/auth.rs and reports work with BLOCKS;
#   5. Codex instance C (codex exec against mock_codex.py) starts: A's entries must be in its
#      first request (SessionStart context); it claims src/billing.rs in a pool block, then
#      apply_patches A's src/auth.rs: the guard must act (A's claim in the request after the call)
#      and record the edit under the absolute path; its blocks are pooled exactly once and none of
#      the leaks (reasoning, shell output, prompt);
#   6. Claude Code instance B edits src/billing.rs: the guard must act on C's claim;
#   7. `pool status --json` tells the agents apart;
#   8. `pool uninstall --codex` takes exactly our hooks and trust entries out again;
#      the repository installed as a Codex plugin registers each hook exactly once (hooks/codex.json,
#      never Claude Code's hooks/hooks.json);
#   9. session start for Codex with a pool far over its output limit stays under it (no spill),
#      while a hook that prints more than the limit is spilled by Codex (the limit is real);
#  10. the shell guard: B claims src/auth.rs; Codex instance G's `sed -i` on it through Codex's
#      shell tool is refused once (the file is unchanged, the next request carries B's claim),
#      the retry goes through and PostToolUse records the edit.
# Every Codex run must exit 0 with every hook completed; every Claude Code run as in run.sh.
#
# Env knobs: E2E_CACHE_DIR (shared with run.sh), E2E_KEEP=1, E2E_NETNS=0, CODEX_VERSION and
# CLAUDE_CODE_VERSION (pin overrides; see install_codex.sh, install_claude.sh).
# Exit status: 0 when every check passed, 1 when any failed, 2 on a usage or set-up error.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
START_TIME=$(date +%s)

die() { printf 'e2e-codex: error: %s\n' "$*" >&2; exit 2; }

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

# --- 1. The clients (outside the namespace: the only step that needs the npm registry) ---
if [ -z "${E2E_CODEX_BIN:-}" ]; then
  E2E_CODEX_BIN="$("$HERE/install_codex.sh" "$E2E_CACHE_DIR")" || die "could not install Codex"
  export E2E_CODEX_BIN
fi
[ "$MODE" = full ] && e2e_claude
CODEX="$E2E_CODEX_BIN"
CLAUDE="${E2E_CLAUDE_BIN:-}"

# --- 2. Network namespace (loopback only), and the tally ---
e2e_netns "$@"
check() { check_with "$HERE/check_codex.py" "$@"; }

# --- 3. Temp world ---
WORK="$(mktemp -d "${TMPDIR:-/tmp}/claude-pool-e2e-codex.XXXXXX")"
MOCK_PID=
MOCK_URL=
cleanup() {
  stop_mock
  if [ "$FAILED" -eq 0 ] && [ "${E2E_KEEP:-0}" != 1 ]; then rm -rf "$WORK"; else printf 'e2e-codex: kept %s\n' "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# make_world DIR: HOME, CLAUDE_CONFIG_DIR and CODEX_HOME apart from it, a pool dir and a git project
# with the files the scripts edit; Codex's config.toml names the scripted provider (its URL is set per
# run with -c, since each mock picks its own port).
make_world() {
  local d="$1"
  mkdir -p "$d/home" "$d/config" "$d/codex" "$d/pool" "$d/proj/src" "$d/proj/docs" "$d/tmp" "$d/runs"
  git -C "$d/proj" init -q 2>/dev/null || true
  printf '# Test project\n' >"$d/proj/README.md"
  printf 'fn validate() {}\n' >"$d/proj/src/auth.rs"
  printf 'fn charge() {}\n' >"$d/proj/src/billing.rs"
  printf 'old\n' >"$d/proj/docs/old.md"
  cat >"$d/codex/config.toml" <<'EOF'
# Codex config of the e2e world: a scripted model provider on loopback.
model = "gpt-5.5"
model_provider = "mock"

[model_providers.mock]
name = "scripted mock"
base_url = "http://127.0.0.1:9/v1"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
EOF
  WORLD_ENV=(
    "PATH=/usr/local/bin:/usr/bin:/bin"
    "HOME=$d/home"
    "CLAUDE_CONFIG_DIR=$d/config"
    "CODEX_HOME=$d/codex"
    "POOL_DIR=$d/pool"
    "TMPDIR=$d/tmp"
    "LANG=C.UTF-8"
    "SHELL=/bin/bash"
    "TERM=dumb"
    "DISABLE_TELEMETRY=1"
    "DISABLE_AUTOUPDATER=1"
    "DISABLE_ERROR_REPORTING=1"
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1"
    "ANTHROPIC_API_KEY=sk-ant-e2e-dummy-key"
  )
}

in_world() {
  local d="$1"; shift
  (cd "$d/proj" && env -i "${WORLD_ENV[@]}" "$@")
}

# start_mock KIND DIR SCRIPT: KIND is codex (mock_codex.py) or claude (mock_model.py); sets MOCK_URL.
start_mock() {
  local kind="$1" dir="$2" script="$3" port server
  mkdir -p "$dir"
  server="$HERE/mock_codex.py"; [ "$kind" = claude ] && server="$HERE/mock_model.py"
  python3 "$server" --script "$script" --port-file "$dir/port" --log "$dir/requests.jsonl" \
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

# script_for WORLD SCRIPT: the script with @PROJ@ replaced by the world's project path.
script_for() {
  local d="$1" src="$2" out
  out="$d/runs/$(basename "$src")"
  sed "s#@PROJ@#$d/proj#g" "$src" >"$out"
  printf '%s\n' "$out"
}

# run_codex WORLD LABEL INSTANCE SCRIPT PROMPT [EXTRA_ARGS...]: one `codex exec` session.
run_codex() {
  local d="$1" label="$2" instance="$3" script="$4" prompt="$5"; shift 5
  local run="$d/runs/$label"
  start_mock codex "$run" "$(script_for "$d" "$script")" || return
  in_world "$d" "CLAUDE_INSTANCE=$instance" \
    timeout 180 "$CODEX" exec --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox \
      -c "model_providers.mock.base_url=\"$MOCK_URL/v1\"" "$@" "$prompt" \
      </dev/null >"$run/stdout.txt" 2>"$run/stderr.txt"
  echo $? >"$run/rc"
  stop_mock
}

# run_claude WORLD LABEL INSTANCE SCRIPT PROMPT: one `claude -p` session (as in run.sh).
run_claude() {
  local d="$1" label="$2" instance="$3" script="$4" prompt="$5"
  local run="$d/runs/$label"
  start_mock claude "$run" "$(script_for "$d" "$script")" || return
  in_world "$d" "CLAUDE_INSTANCE=$instance" "ANTHROPIC_BASE_URL=$MOCK_URL" \
    timeout 180 "$CLAUDE" -p "$prompt" \
      --allowedTools Bash Read Edit --permission-mode acceptEdits \
      --output-format stream-json --verbose --include-hook-events \
      --debug-file "$run/debug.txt" \
      </dev/null >"$run/stream.jsonl" 2>"$run/stderr.txt"
  echo $? >"$run/rc"
  stop_mock
}

# install_logging_hook WORLD BYTES: a SessionStart hook in Codex's hooks.json printing a marker
# padded to BYTES bytes, for the harness and the spill check.
install_logging_hook() {
  local d="$1" bytes="$2"
  cat >"$d/log-hook.sh" <<EOF
#!/bin/sh
cat >>"$d/hooks.jsonl"; echo >>"$d/hooks.jsonl"
python3 -c 'import sys; n=int(sys.argv[1]); s="CODEX-CONTEXT-MARKER "; print(s + "x" * max(0, n - len(s) - 1))' $bytes
EOF
  chmod +x "$d/log-hook.sh"
  printf '{"hooks":{"SessionStart":[{"hooks":[{"type":"command","command":"%s"}]}]}}\n' "$d/log-hook.sh" >"$d/codex/hooks.json"
}

printf 'e2e-codex: %s (%s)\n' "$("$CODEX" --version 2>/dev/null | head -n1)" "$CODEX"
[ -n "$CLAUDE" ] && printf 'e2e-codex: Claude Code %s\n' "$("$CLAUDE" --version 2>/dev/null | head -n1)"
printf 'e2e-codex: %s\ne2e-codex: work dir %s\n' "$NET_NOTE" "$WORK"

printf '\n== scripted Responses-API server self-test\n'
check mock-selftest "$HERE/mock_codex.py"

if [ "$MODE" = harness ]; then
  printf '\n== harness: Codex + a logging SessionStart hook (trust bypassed), no pool binaries\n'
  H="$WORK/harness"
  make_world "$H"
  install_logging_hook "$H" 100
  run_codex "$H" H H "$HERE/scripts/codex_c.json" "Harness run" --dangerously-bypass-hook-trust
  check harness "$H" "$H/runs/H"
else
  W="$WORK/main"
  make_world "$W"

  printf '\n== pool install (Claude Code) and pool install --codex\n'
  for i in 1 2; do
    if out="$(in_world "$W" "$BIN_DIR/pool" install 2>&1)"; then ok "pool install (run $i) exits 0"; else fail "pool install (run $i) exits 0" "$out"; fi
    if out="$(in_world "$W" "$BIN_DIR/pool" install --codex 2>&1)"; then ok "pool install --codex (run $i) exits 0"; else fail "pool install --codex (run $i) exits 0" "$out"; fi
    printf '%s\n' "$out" | sed 's/^/     | /'
    cp "$W/codex/hooks.json" "$W/hooks.json.$i" 2>/dev/null; cp "$W/codex/config.toml" "$W/config.toml.$i"
  done
  check install "$W" "$BIN_DIR"
  check trusted "$W" "$CODEX"

  printf '\n== Claude Code instance A claims src/auth.rs\n'
  run_claude "$W" A A "$HERE/scripts/codex_claude_a.json" "Take the auth rewrite."
  check claude-run "$W/runs/A" A

  printf '\n== Codex instance C: sees A at start, claims billing, apply_patches A'\''s file\n'
  run_codex "$W" C C "$HERE/scripts/codex_c.json" 'Pick up billing. A sample block, not work done:
```pool
ACTION: completed
TOPIC: Leak from Codex prompt
SUMMARY: user text must not be pooled
```'
  check codex-run "$W/runs/C" C
  check codex-context "$W/runs/C" "Auth rewrite by Claude" "Token cache landed"
  check codex-guard "$W" "$W/runs/C"

  printf '\n== Claude Code instance B edits src/billing.rs, which Codex claimed\n'
  run_claude "$W" B B "$HERE/scripts/codex_claude_b.json" "Tidy billing."
  check claude-run "$W/runs/B" B
  check claude-guard "$W" "$W/runs/B"

  printf '\n== one pool: contents, presence\n'
  check pool "$W" "$BIN_DIR" "$W/runs/C"
  check status "$W" "$BIN_DIR"

  printf '\n== pool uninstall --codex\n'
  if out="$(in_world "$W" "$BIN_DIR/pool" uninstall --codex 2>&1)"; then ok "pool uninstall --codex exits 0"; else fail "pool uninstall --codex exits 0" "$out"; fi
  check uninstalled "$W"

  printf '\n== Codex plugin: installed from the repository as a local marketplace, each hook once\n'
  P="$WORK/plugin"
  make_world "$P"
  SRC="$P/marketplace-src"
  mkdir -p "$SRC"
  (cd "$REPO" && git ls-files -z --cached --others --exclude-standard \
     | xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh \
     | tar --null -T - -cf -) | tar -C "$SRC" -xf -
  if out="$(in_world "$P" "$CODEX" plugin marketplace add "$SRC" 2>&1)"; then ok "codex plugin marketplace add (local)"; else fail "codex plugin marketplace add (local)" "$out"; fi
  if out="$(in_world "$P" "$CODEX" plugin add session-pool@claude-pool 2>&1)"; then ok "codex plugin add session-pool@claude-pool"; else fail "codex plugin add session-pool@claude-pool" "$out"; fi
  check plugin "$P" "$CODEX"

  printf '\n== Codex output limit: our session start stays under it; a longer hook output is spilled\n'
  # (make_world replaces WORLD_ENV: every step of world W comes before this point.)
  S="$WORK/budget"
  make_world "$S"
  in_world "$S" "$BIN_DIR/pool" install --codex >/dev/null 2>&1 || fail "pool install --codex (budget world)"
  python3 "$HERE/check_codex.py" fill-pool "$S/pool" 600
  run_codex "$S" Z Z "$HERE/scripts/codex_text.json" "Anything new?"
  check codex-run "$S/runs/Z" Z
  check budget "$S/runs/Z"
  # The full summary of Japanese entries: 9,000 characters would be about 27,000 bytes, and
  # Codex counts bytes.
  J="$WORK/budget-bytes"
  make_world "$J"
  WORLD_ENV+=("POOL_COMPACT=0")
  in_world "$J" "$BIN_DIR/pool" install --codex >/dev/null 2>&1 || fail "pool install --codex (budget-bytes world)"
  python3 "$HERE/check_codex.py" fill-pool "$J/pool" 600 cjk
  run_codex "$J" J J "$HERE/scripts/codex_text.json" "Anything new?"
  check codex-run "$J/runs/J" J
  check budget "$J/runs/J"
  printf '\n== Codex commits through the shell: an automatic entry (PostToolUse), no block written\n'
  K="$WORK/commit"
  make_world "$K"
  printf '[user]\n\tname = K\n\temail = k@example.invalid\n' >"$K/home/.gitconfig"
  in_world "$K" sh -c 'git add -A && git commit -q -m "Initial commit"' || fail "initial commit (commit world)"
  in_world "$K" "$BIN_DIR/pool" install --codex >/dev/null 2>&1 || fail "pool install --codex (commit world)"
  run_codex "$K" K K "$HERE/scripts/codex_commit.json" "Add notes and commit them."
  check codex-run "$K/runs/K" K
  check codex-auto "$K" "$BIN_DIR"

  printf '\n== Codex shell guard: sed -i on a file B claimed is refused once, the retry goes through\n'
  G="$WORK/shell"
  make_world "$G"
  printf '[user]\n\tname = G\n\temail = g@example.invalid\n' >"$G/home/.gitconfig"
  in_world "$G" sh -c 'git add -A && git commit -q -m "Initial commit"' || fail "initial commit (shell world)"
  in_world "$G" "$BIN_DIR/pool" install --codex >/dev/null 2>&1 || fail "pool install --codex (shell world)"
  in_world "$G" CLAUDE_INSTANCE=B "$BIN_DIR/pool" post --action claimed --topic "Auth rewrite by B" \
    --affects src/auth.rs >/dev/null 2>&1 || fail "B's claim (shell world)"
  run_codex "$G" G G "$HERE/scripts/codex_shell.json" "Rename validate to check in src/auth.rs."
  check codex-run "$G/runs/G" G
  check shell-guard "$G" "$G/runs/G"

  printf '\n== Codex git commands under another live session: checkout, commit and push --force refused once\n'
  H="$WORK/gitops"
  make_world "$H"
  printf '[user]\n\tname = H\n\temail = h@example.invalid\n' >"$H/home/.gitconfig"
  printf 'fn connect() {}\n' >"$H/proj/src/db.rs"
  in_world "$H" sh -c 'git checkout -q -b main && git add -A && git commit -q -m "Initial commit"' || fail "initial commit (gitops world)"
  git init -q --bare "$H/remote.git" && in_world "$H" sh -c "git remote add origin '$H/remote.git' && git push -q origin main" \
    || fail "the remote (gitops world)"
  # Staged for the next commit: B's claimed src/db.rs.
  printf 'fn connect(url: &str) {}\n' >"$H/proj/src/db.rs" && in_world "$H" git add src/db.rs || fail "git add (gitops world)"
  in_world "$H" "$BIN_DIR/pool" install --codex >/dev/null 2>&1 || fail "pool install --codex (gitops world)"
  in_world "$H" CLAUDE_INSTANCE=B "$BIN_DIR/pool" post --action claimed --topic "DB rewrite by B" \
    --affects src/db.rs >/dev/null 2>&1 || fail "B's claim (gitops world)"
  # B has a live session in this worktree (any hook call records where it works).
  printf '{"session_id":"b-session-codex-e2e","hook_event_name":"UserPromptSubmit","prompt":"go","cwd":"%s"}' "$H/proj" \
    | in_world "$H" CLAUDE_INSTANCE=B "$BIN_DIR/pool-prompt" >/dev/null 2>&1 || fail "B's hook (gitops world)"
  run_codex "$H" H H "$HERE/scripts/codex_git.json" "Commit and push the staged change."
  check codex-run "$H/runs/H" H
  check git-guard "$H" "$H/runs/H"

  L="$WORK/spill"
  make_world "$L"
  install_logging_hook "$L" 12000
  run_codex "$L" L L "$HERE/scripts/codex_text.json" "Anything new?" --dangerously-bypass-hook-trust
  check spill "$L/runs/L"

fi

if [ "$MODE" = full ]; then
  printf '\n== Codex honours a PreToolUse deny before apply_patch (the envelope the guard sends for a denial)\n'
  D="$WORK/deny"
  make_world "$D"
  cat >"$D/deny-hook.sh" <<'EOF'
#!/bin/sh
cat >/dev/null
printf '%s\n' '{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"Pool: A claimed src/auth.rs (DENY-MARKER)"}}'
EOF
  chmod +x "$D/deny-hook.sh"
  printf '{"hooks":{"PreToolUse":[{"matcher":"apply_patch","hooks":[{"type":"command","command":"%s"}]}]}}\n' "$D/deny-hook.sh" >"$D/codex/hooks.json"
  run_codex "$D" D D "$HERE/scripts/codex_patch.json" "Fix auth." --dangerously-bypass-hook-trust
  check deny "$D" "$D/runs/D"
fi

ELAPSED=$(( $(date +%s) - START_TIME ))
printf '\n'
if [ "$FAILED" -eq 0 ]; then
  printf 'PASS: claude-pool e2e with Codex (%s mode) against %s in %ss\n' "$MODE" "$("$CODEX" --version | head -n1)" "$ELAPSED"
else
  printf 'FAILED checks:\n'
  printf '  - %s\n' "${FAILURES[@]}"
  printf 'artifacts (codex/claude output, mock request logs) are under %s\n' "$WORK"
fi
printf 'e2e-codex: %d passed, %d failed\n' "$PASSED" "$FAILED"
[ "$FAILED" -eq 0 ]
