# Sourced by the end-to-end scripts (tests/e2e/*.sh and
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

# e2e_world TAG: a work folder W for one script (removed at exit unless a check failed or
# E2E_KEEP=1; the scripted model MOCK_PID and any pid in E2E_PIDS are killed at exit), the
# folders every world has ($W/home, config, pool, tmp, runs, proj), the offline environment
# ENV of a user whose Claude Code config is $W/config and whose pool is $W/pool, and
# in_world CMD..., which runs CMD in $W/proj with only ENV.
e2e_world() {
  E2E_TAG="$1"
  W="$(mktemp -d "${TMPDIR:-/tmp}/claude-pool-e2e-$1.XXXXXX")" || die "mktemp failed"
  W="$(cd "$W" && pwd -P)"
  MOCK_PID=
  E2E_PIDS=()
  trap e2e_cleanup EXIT
  trap 'exit 130' INT TERM
  mkdir -p "$W/home" "$W/config" "$W/pool" "$W/tmp" "$W/runs" "$W/proj"
  ENV=(
    "PATH=/usr/local/bin:/usr/bin:/bin" "HOME=$W/home" "CLAUDE_CONFIG_DIR=$W/config"
    "POOL_DIR=$W/pool" "TMPDIR=$W/tmp" "LANG=C.UTF-8" "SHELL=/bin/bash" "TERM=dumb"
    "DISABLE_TELEMETRY=1" "DISABLE_AUTOUPDATER=1" "DISABLE_ERROR_REPORTING=1"
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1" "ANTHROPIC_API_KEY=sk-ant-e2e-dummy-key"
    "GIT_AUTHOR_NAME=E2E" "GIT_AUTHOR_EMAIL=e2e@example.invalid"
    "GIT_COMMITTER_NAME=E2E" "GIT_COMMITTER_EMAIL=e2e@example.invalid"
  )
}
in_world() { (cd "$W/proj" && env -i "${ENV[@]}" "$@"); }
e2e_cleanup() {
  local p
  [ -n "${MOCK_PID:-}" ] && kill "$MOCK_PID" 2>/dev/null
  for p in "${E2E_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  if [ "$FAILED" -eq 0 ] && [ "${E2E_KEEP:-0}" != 1 ]; then rm -rf "$W"; else printf 'e2e-%s: kept %s\n' "$E2E_TAG" "$W"; fi
}

# e2e_session RUN INSTANCE SCRIPT TOOLS [PROMPT]: one `claude -p` session of INSTANCE in
# $W/proj against a fresh scripted model following SCRIPT (a file under scripts/, @PROJ@
# replaced by $W/proj), with TOOLS allowed. RUN (a folder) gets script.json, requests.jsonl,
# stream.jsonl, debug.txt, stderr.txt and rc.
e2e_session() {
  local run="$1" instance="$2" script="$3" tools="$4" prompt="${5:-Do the task.}" port
  mkdir -p "$run"
  sed "s#@PROJ@#$W/proj#g" "$E2E_DIR/scripts/$script" >"$run/script.json"
  python3 "$E2E_DIR/mock_model.py" --script "$run/script.json" --port-file "$run/port" \
    --log "$run/requests.jsonl" 2>"$run/mock.stderr" &
  MOCK_PID=$!
  for _ in $(seq 100); do [ -s "$run/port" ] && break; sleep 0.05; done
  port="$(cat "$run/port")" || die "mock model did not start"
  in_world "CLAUDE_INSTANCE=$instance" "ANTHROPIC_BASE_URL=http://127.0.0.1:$port" \
    timeout 180 "$E2E_CLAUDE_BIN" -p "$prompt" --allowedTools "$tools" \
      --output-format stream-json --verbose --include-hook-events \
      --debug-file "$run/debug.txt" </dev/null >"$run/stream.jsonl" 2>"$run/stderr.txt"
  echo $? >"$run/rc"
  kill "$MOCK_PID" 2>/dev/null; wait "$MOCK_PID" 2>/dev/null; MOCK_PID=
}
