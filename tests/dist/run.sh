#!/usr/bin/env bash
# Offline install test of the npm path, with the REAL Claude Code binary and no cargo on PATH.
#
# Usage: tests/dist/run.sh BIN_DIR     BIN_DIR holds the six release binaries (target/release)
#
#   1. installs Claude Code (tests/e2e/install_claude.sh) and verdaccio (install_verdaccio.sh),
#      both cached, then re-runs itself in a network namespace (loopback only) when it can;
#   2. starts verdaccio on 127.0.0.1:$DIST_REGISTRY_PORT (default 4901) with empty storage;
#   3. lays out the npm packages with dist/npm/pack.py (this platform's package from BIN_DIR, and
#      the plugin package claude-pool) and publishes them as a release does: the platform
#      package, then claude-pool with an npm-shrinkwrap.json resolved against the registry;
#   4. in a fresh world (HOME, CLAUDE_CONFIG_DIR, POOL_DIR; PATH=/usr/local/bin:/usr/bin:/bin, so
#      npm but no cargo; the registry as npm's default in HOME/.npmrc, which Claude Code requires
#      of an http registry), serves dist/marketplace's marketplace.json (the npm-source entry,
#      given the local registry) on 127.0.0.1:$DIST_HTTP_PORT (default 4902), adds it by URL with
#      `claude plugin marketplace add` and installs session-pool with `claude plugin install`;
#   5. checks the plugin cache: the plugin's files, this platform's binaries and no other
#      platform's, no sources, and nothing else past 256 KiB;
#   6. runs a `claude -p` session against the scripted model (tests/e2e/mock_model.py): the
#      plugin's hooks, through the launcher, run the npm-installed binaries and the session's
#      pool block reaches the pool exactly once.
#
# Env: E2E_CACHE_DIR (Claude Code cache, default ~/.cache/claude-pool-e2e), DIST_CACHE_DIR
# (verdaccio, default ~/.cache/claude-pool-dist), DIST_REGISTRY_PORT, E2E_KEEP=1, E2E_NETNS=0.
# Exit status: 0 when every check passed, 1 when any failed, 2 on a usage or set-up error.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
E2E="$REPO/tests/e2e"
START_TIME=$(date +%s)
die() { printf 'dist: error: %s\n' "$*" >&2; exit 2; }

[ $# -eq 1 ] || die "usage: tests/dist/run.sh BIN_DIR"
BIN_DIR="$(cd "$1" 2>/dev/null && pwd)" || die "no such directory: $1"
. "$E2E/lib.sh"
need_bins "$BIN_DIR" pool
command -v python3 >/dev/null || die "python3 is required"
command -v npm >/dev/null || die "npm is required (Claude Code installs npm plugins with it)"
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) PLATFORM=linux-x64 ;;
  Linux-aarch64) PLATFORM=linux-arm64 ;;
  Darwin-x86_64) PLATFORM=darwin-x64 ;;
  Darwin-arm64) PLATFORM=darwin-arm64 ;;
  *) die "unsupported platform $(uname -s)-$(uname -m)" ;;
esac
PORT="${DIST_REGISTRY_PORT:-4901}"
HTTP_PORT="${DIST_HTTP_PORT:-4902}"
REGISTRY="http://127.0.0.1:$PORT/"

# --- 1. Installs (outside the namespace: the only steps that need the npm registry) ---
e2e_claude
if [ -z "${DIST_VERDACCIO:-}" ]; then
  DIST_VERDACCIO="$("$HERE/install_verdaccio.sh" "${DIST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/claude-pool-dist}")" \
    || die "could not install verdaccio"
  export DIST_VERDACCIO
fi
CLAUDE="$E2E_CLAUDE_BIN"
# Network namespace (loopback only), and the tally.
e2e_netns "$@"
check() { check_with "$E2E/check.py" "$@"; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/claude-pool-dist.XXXXXX")"
REG_PID=
MOCK_PID=
HTTP_PID=
cleanup() {
  [ -n "$HTTP_PID" ] && { kill "$HTTP_PID" 2>/dev/null; wait "$HTTP_PID" 2>/dev/null; }
  [ -n "$MOCK_PID" ] && { kill "$MOCK_PID" 2>/dev/null; wait "$MOCK_PID" 2>/dev/null; }
  [ -n "$REG_PID" ] && { kill "$REG_PID" 2>/dev/null; wait "$REG_PID" 2>/dev/null; }
  if [ "$FAILED" -eq 0 ] && [ "${E2E_KEEP:-0}" != 1 ]; then rm -rf "$WORK"; else printf 'dist: kept %s\n' "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
printf 'dist: Claude Code %s\ndist: %s\ndist: work dir %s\n' "$("$CLAUDE" --version 2>/dev/null | head -n1)" "$NET_NOTE" "$WORK"

# --- 2. The local registry ---
printf '\n== local npm registry (verdaccio) on %s\n' "$REGISTRY"
mkdir -p "$WORK/registry"
cat >"$WORK/registry/config.yaml" <<EOF
storage: $WORK/registry/storage
auth:
  htpasswd:
    file: $WORK/registry/htpasswd
uplinks: {}
packages:
  '**':
    access: \$all
    publish: \$authenticated
log: { type: stdout, format: pretty, level: warn }
EOF
"$DIST_VERDACCIO" --config "$WORK/registry/config.yaml" --listen "127.0.0.1:$PORT" >"$WORK/registry/log" 2>&1 &
REG_PID=$!
for _ in $(seq 150); do curl -fs "${REGISTRY}-/ping" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fs "${REGISTRY}-/ping" >/dev/null 2>&1 || die "verdaccio did not start: $(cat "$WORK/registry/log")"
token=$(curl -fs -X PUT -H 'content-type: application/json' -d '{"name":"release","password":"release-pass"}' \
  "${REGISTRY}-/user/org.couchdb.user:release" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') \
  || die "could not create the publishing user"
printf 'registry=%s\n//127.0.0.1:%s/:_authToken=%s\n' "$REGISTRY" "$PORT" "$token" >"$WORK/publish.npmrc"
ok "verdaccio serves $REGISTRY"

# --- 3. Pack and publish as a release does ---
printf '\n== npm packages: pack and publish\n'
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$REPO/Cargo.toml" | head -n1)
PUB=(env "NPM_CONFIG_USERCONFIG=$WORK/publish.npmrc" "npm_config_cache=$WORK/npm-cache")
if out=$(python3 "$REPO/dist/npm/pack.py" --version "$VERSION" --out "$WORK/pkgs" --bin "$PLATFORM=$BIN_DIR" 2>&1); then
  ok "dist/npm/pack.py lays out @claude-pool/cli-$PLATFORM and claude-pool $VERSION"
else
  fail "dist/npm/pack.py" "$out"
fi
if out=$(cd "$WORK/pkgs/cli-$PLATFORM" && "${PUB[@]}" npm publish 2>&1); then
  ok "npm publish @claude-pool/cli-$PLATFORM"
else
  fail "npm publish @claude-pool/cli-$PLATFORM" "$out"
fi
if out=$(cd "$WORK/pkgs/claude-pool" && "${PUB[@]}" npm install --package-lock-only --ignore-scripts --no-audit --no-fund 2>&1 \
         && "${PUB[@]}" npm shrinkwrap 2>&1 && "${PUB[@]}" npm publish 2>&1); then
  ok "npm publish claude-pool (with npm-shrinkwrap.json)"
else
  fail "npm publish claude-pool" "$out"
fi

# --- 4. A world without cargo; the plugin from the npm marketplace entry ---
W="$WORK/world"
mkdir -p "$W/home" "$W/config" "$W/pool" "$W/proj" "$W/tmp" "$W/runs"
git -C "$W/proj" init -q 2>/dev/null || true
printf 'registry=%s\n' "$REGISTRY" >"$W/home/.npmrc"
WORLD_ENV=(
  "PATH=/usr/local/bin:/usr/bin:/bin" "HOME=$W/home" "CLAUDE_CONFIG_DIR=$W/config" "POOL_DIR=$W/pool"
  "TMPDIR=$W/tmp" "LANG=C.UTF-8" "SHELL=/bin/bash" "TERM=dumb"
  "DISABLE_TELEMETRY=1" "DISABLE_AUTOUPDATER=1" "DISABLE_ERROR_REPORTING=1"
  "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1" "ANTHROPIC_API_KEY=sk-ant-e2e-dummy-key"
)
python3 -c 'import json,sys; print(json.dumps(dict(a.split("=",1) for a in sys.argv[1:])))' "${WORLD_ENV[@]}" >"$W/env.json"
in_world() { (cd "$W/proj" && env -i "${WORLD_ENV[@]}" "$@"); }
if in_world sh -c 'command -v cargo' >/dev/null 2>&1; then
  fail "no cargo on the world's PATH" "$(in_world sh -c 'command -v cargo')"
else
  ok "no cargo on the world's PATH"
fi

start_mock() {
  local dir="$1" script="$2" port
  mkdir -p "$dir"
  python3 "$E2E/mock_model.py" --script "$script" --port-file "$dir/port" --log "$dir/requests.jsonl" 2>"$dir/mock.stderr" &
  MOCK_PID=$!
  for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
  port="$(cat "$dir/port" 2>/dev/null)" || die "mock model server did not start"
  MOCK_URL="http://127.0.0.1:$port"
}
stop_mock() { [ -n "$MOCK_PID" ] && { kill "$MOCK_PID" 2>/dev/null; wait "$MOCK_PID" 2>/dev/null; MOCK_PID=; }; }

printf '\n== claude plugin marketplace add / install (npm source, local registry)\n'
MKT="$WORK/marketplace"
mkdir -p "$MKT/.claude-plugin"
python3 - "$REPO/dist/marketplace/.claude-plugin/marketplace.json" "$MKT/.claude-plugin/marketplace.json" "$REGISTRY" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
for p in m["plugins"]:
    assert p["source"]["source"] == "npm", p
    p["source"]["registry"] = sys.argv[3].rstrip("/")
json.dump(m, open(sys.argv[2], "w"), indent=2)
EOF
read -r MKT_NAME PLUGIN <<<"$(python3 "$E2E/check.py" plugin-names "$MKT")"
start_mock "$W/runs/cli" "$E2E/scripts/plugin_p.json"
claude_cmd() { in_world "ANTHROPIC_BASE_URL=$MOCK_URL" "$CLAUDE" "$@"; }
# Added by URL, as the README's one line does (there an https URL of the file in the repository).
python3 -m http.server "$HTTP_PORT" --bind 127.0.0.1 --directory "$MKT/.claude-plugin" >"$WORK/http.log" 2>&1 &
HTTP_PID=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$HTTP_PORT/marketplace.json" >/dev/null 2>&1 && break; sleep 0.1; done
if out="$(claude_cmd plugin marketplace add "http://127.0.0.1:$HTTP_PORT/marketplace.json" 2>&1)"; then
  ok "claude plugin marketplace add <URL of dist/marketplace's marketplace.json> (npm entry)"
else
  fail "claude plugin marketplace add <URL> (npm entry)" "$out"
fi
if out="$(claude_cmd plugin install "$PLUGIN@$MKT_NAME" 2>&1)"; then ok "claude plugin install $PLUGIN@$MKT_NAME"; else fail "claude plugin install $PLUGIN@$MKT_NAME" "$out"; fi
claude_cmd plugin list --json >"$W/plugin-list.json" 2>"$W/plugin-list.err"
stop_mock

# --- 5. The plugin cache ---
printf '\n== plugin cache\n'
INSTALL_PATH=$(python3 -c 'import json,sys; l=[p for p in json.load(open(sys.argv[1])) if p.get("id")==sys.argv[2]]; print(l[0]["installPath"] if l else "")' \
  "$W/plugin-list.json" "$PLUGIN@$MKT_NAME" 2>/dev/null)
NPM_BIN="$INSTALL_PATH/node_modules/@claude-pool/cli-$PLATFORM/bin"
if [ -n "$INSTALL_PATH" ] && [ -d "$INSTALL_PATH" ]; then
  # The cache holds the plugin (a few KB), the package metadata and this platform's one
  # binary, `pool` (issue 14: at most 10 MB in all).
  bytes=$(du -sb "$W/config/plugins/cache" | cut -f1)
  bin_bytes=$(du -sb "$NPM_BIN" 2>/dev/null | cut -f1)
  rest=$((bytes - ${bin_bytes:-0}))
  printf 'dist: plugin cache %s bytes: binaries %s, the rest %s\n' "$bytes" "${bin_bytes:-0}" "$rest"
  if [ "$rest" -le $((256 * 1024)) ]; then ok "plugin cache: besides this platform's binaries, $rest bytes (at most 256 KiB)"; else fail "plugin cache: at most 256 KiB besides the binaries" "$rest bytes"; fi
  if [ "$bytes" -le 10000000 ]; then ok "plugin cache holds $bytes bytes (at most 10 MB)"; else fail "plugin cache holds at most 10 MB" "$bytes bytes"; fi
  for f in .claude-plugin/plugin.json hooks/hooks.json hooks/launch npm-shrinkwrap.json; do
    if [ -f "$INSTALL_PATH/$f" ]; then ok "cache has $f"; else fail "cache has $f" "$(cd "$INSTALL_PATH" && find . | head -30)"; fi
  done
  bins=$(ls "$NPM_BIN" 2>/dev/null | tr '\n' ' ')
  if [ "$bins" = "pool " ] && [ -x "$NPM_BIN/pool" ]; then ok "npm ci put this platform's one binary, pool, in node_modules/@claude-pool/cli-$PLATFORM/bin"; else fail "one binary from npm" "bin holds: $bins"; fi
  others=$(cd "$INSTALL_PATH" && { find . -name Cargo.toml -o -name '*.rs' -o -name target; ls node_modules/@claude-pool | grep -vx "cli-$PLATFORM"; } 2>/dev/null | head)
  if [ -z "$others" ]; then ok "no sources, no build, no other platform's package in the cache"; else fail "cache holds only the plugin" "$others"; fi
else
  fail "plugin installed with an installPath" "$(cat "$W/plugin-list.json" "$W/plugin-list.err")"
fi

# --- 6. A session: the plugin's hooks run the npm-installed binaries ---
printf '\n== a session with only the plugin'\''s hooks (no pool binaries on PATH)\n'
RUN="$W/runs/P"
mkdir -p "$RUN"
# A Write (PreToolUse: the guard), a real commit through Bash (PostToolUse), then a block (Stop).
sed "s#@PROJ@#$W/proj#g" "$E2E/scripts/plugin_tools.json" >"$RUN/script.json"
printf '[user]\n\tname = P\n\temail = p@example.com\n' >"$W/home/.gitconfig"
start_mock "$RUN" "$RUN/script.json"
in_world "CLAUDE_INSTANCE=P" "ANTHROPIC_BASE_URL=$MOCK_URL" \
  timeout 180 "$CLAUDE" -p "Record what you did." --allowedTools "Bash Write" \
    --output-format stream-json --verbose --include-hook-events --debug-file "$RUN/debug.txt" \
    </dev/null >"$RUN/stream.jsonl" 2>"$RUN/stderr.txt"
echo $? >"$RUN/rc"
stop_mock
check run "$RUN" plugin 1
check plugin "$W/plugin-list.json" "$PLUGIN@$MKT_NAME" "$RUN" "$W" "$NPM_BIN"
check plugin-tools "$RUN" "$W" "$NPM_BIN"
if grep -q "claude-pool: " "$RUN/debug.txt" "$RUN/stream.jsonl" 2>/dev/null && grep -q "is not installed" "$RUN/debug.txt" "$RUN/stream.jsonl"; then
  fail "the launcher found the binaries" "$(grep -h 'is not installed' "$RUN/debug.txt" "$RUN/stream.jsonl" | head -3)"
else
  ok "the launcher found the binaries (no 'is not installed' line)"
fi

# --- 7. The README's other npm line: npm install -g claude-pool && pool install ---
printf '\n== npm install -g claude-pool && pool install (hooks in settings.json)\n'
G="$W/npm-global"
if out=$(in_world "npm_config_prefix=$G" "npm_config_cache=$W/npm-cache" npm install -g --no-audit --no-fund claude-pool 2>&1); then
  ok "npm install -g claude-pool"
else
  fail "npm install -g claude-pool" "$out"
fi
W2="$W/global-world"
mkdir -p "$W2"
in_global() { in_world "PATH=$G/bin:/usr/local/bin:/usr/bin:/bin" "CLAUDE_CONFIG_DIR=$W2" "$@"; }
if out=$(in_global pool install 2>&1); then ok "pool install (from npm's global folder)"; else fail "pool install (from npm's global folder)" "$out"; fi
if out=$(python3 - "$W2/settings.json" <<'EOF2'
import json, shlex, sys
hooks = json.load(open(sys.argv[1]))["hooks"]
cmds = [h["command"] for groups in hooks.values() for g in groups for h in g["hooks"]]
assert len(cmds) >= 6, cmds
for c in cmds:
    w = shlex.split(c)
    assert w[1:2] == ["hook"] and w[0].endswith("/bin/pool") and w[2].startswith("pool-"), c
print(len(cmds), "commands, e.g.", cmds[0])
EOF2
); then ok "settings.json runs every hook as <npm's pool> hook <name>: $out"; else fail "settings.json hook commands" "$out"; fi
if out=$(in_global pool doctor 2>&1); then ok "pool doctor: no failures"; else fail "pool doctor after npm install -g" "$out"; fi
if out=$(in_global pool-query --all 2>&1) && printf '%s' "$out" | grep -q "Plugin hook path"; then
  ok "pool-query (pool query through npm's shim) lists the pool"
else
  fail "pool-query from npm install -g" "$out"
fi

ELAPSED=$(( $(date +%s) - START_TIME ))
printf '\n'
if [ "$FAILED" -eq 0 ]; then
  printf 'PASS: npm install path against Claude Code %s in %ss\n' "$("$CLAUDE" --version | head -n1)" "$ELAPSED"
else
  printf 'FAILED checks:\n'; printf '  - %s\n' "${FAILURES[@]}"
fi
printf 'dist: %d passed, %d failed\n' "$PASSED" "$FAILED"
[ "$FAILED" -eq 0 ]
