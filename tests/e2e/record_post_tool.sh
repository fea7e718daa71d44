#!/usr/bin/env bash
# Records the hook inputs the REAL Claude Code sends for Bash calls that commit, push and open
# pull requests (and for calls that only look like it), offline against tests/e2e/mock_model.py.
#
# Usage: tests/e2e/record_post_tool.sh OUT_DIR
#
# A logging hook on every event appends its stdin to a file; the session runs the calls in
# tests/e2e/scripts/record_post_tool.json, one per turn, in a real repository `proj` with a bare
# remote and a fake `gh` on PATH. Each recorded input is written to OUT_DIR as
# NN-<event>-<label>.json, with the temp world's path replaced by /WORLD (tests substitute their
# own). Research tooling: the fixtures in tests/fixtures/post_tool/ came from it; not run in CI.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
die() { printf 'record: error: %s\n' "$*" >&2; exit 2; }
[ $# -eq 1 ] || die "usage: record_post_tool.sh OUT_DIR"
OUT="$(mkdir -p "$1" && cd "$1" && pwd)" || die "cannot create $1"

CACHE_DIR="${E2E_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/claude-pool-e2e}"
CLAUDE="${E2E_CLAUDE_BIN:-$("$HERE/install_claude.sh" "$CACHE_DIR")}" || die "could not install Claude Code"

if [ -z "${E2E_IN_NETNS:-}" ] && [ "${E2E_NETNS:-1}" != 0 ] && command -v unshare >/dev/null \
   && unshare -n true 2>/dev/null; then
  exec unshare -n -- env E2E_IN_NETNS=1 E2E_CLAUDE_BIN="$CLAUDE" bash "$0" "$@"
fi
[ -n "${E2E_IN_NETNS:-}" ] && ip link set lo up

W="$(mktemp -d "${TMPDIR:-/tmp}/claude-pool-record.XXXXXX")"
mkdir -p "$W/home" "$W/config" "$W/pool" "$W/tmp" "$W/bin" "$W/run"
ENV=(
  "PATH=$W/bin:/usr/local/bin:/usr/bin:/bin" "HOME=$W/home" "CLAUDE_CONFIG_DIR=$W/config"
  "TMPDIR=$W/tmp" "LANG=C.UTF-8" "SHELL=/bin/bash" "TERM=dumb"
  "DISABLE_TELEMETRY=1" "DISABLE_AUTOUPDATER=1" "DISABLE_ERROR_REPORTING=1"
  "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1" "ANTHROPIC_API_KEY=sk-ant-e2e-dummy-key"
  "GIT_AUTHOR_NAME=Rec" "GIT_AUTHOR_EMAIL=rec@example.invalid"
  "GIT_COMMITTER_NAME=Rec" "GIT_COMMITTER_EMAIL=rec@example.invalid"
  "E2E_HOOK_LOG=$W/run/hooks.jsonl" "CLAUDE_INSTANCE=A"
)
g() { env -i "${ENV[@]}" git "$@"; }

# The repository, its bare remote, a second repository, and a fake gh.
g init -q -b main "$W/proj" && printf '# proj\n' >"$W/proj/README.md"
g -C "$W/proj" add README.md && g -C "$W/proj" commit -q -m "Initial commit"
g init -q --bare -b main "$W/origin.git" && g -C "$W/proj" remote add origin "$W/origin.git"
g init -q -b main "$W/other"
cat >"$W/bin/gh" <<'GH'
#!/bin/sh
# Stand-in for the GitHub CLI: `gh pr create` prints what the real one prints.
if [ "$1 $2" = "pr create" ]; then
  echo "Creating pull request for main into main in example/proj" >&2
  echo "https://github.com/example/proj/pull/42"
  exit 0
fi
echo "gh: unsupported in this test: $*" >&2; exit 1
GH
chmod +x "$W/bin/gh"

cat >"$W/log-hook.sh" <<'HOOK'
#!/bin/sh
input=$(cat)
printf '{"event":"%s","input":%s}\n' "$1" "$input" >>"$E2E_HOOK_LOG"
exit 0
HOOK
chmod +x "$W/log-hook.sh"
python3 - "$W/config/settings.json" "$W/log-hook.sh" <<'PY'
import json, sys
events = ["SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PostToolUseFailure",
          "Stop", "SessionEnd"]
hooks = {e: [{"hooks": [{"type": "command", "command": f"{sys.argv[2]} {e}"}]}] for e in events}
json.dump({"hooks": hooks}, open(sys.argv[1], "w"), indent=2)
PY

sed "s#@PROJ@#$W/proj#g" "$HERE/scripts/record_post_tool.json" >"$W/run/script.json"
python3 "$HERE/mock_model.py" --script "$W/run/script.json" --port-file "$W/run/port" \
  --log "$W/run/requests.jsonl" 2>"$W/run/mock.stderr" &
MOCK=$!
trap 'kill $MOCK 2>/dev/null' EXIT
for _ in $(seq 100); do [ -s "$W/run/port" ] && break; sleep 0.05; done
PORT="$(cat "$W/run/port")" || die "mock did not start"

(cd "$W/proj" && env -i "${ENV[@]}" "ANTHROPIC_BASE_URL=http://127.0.0.1:$PORT" \
  timeout 300 "$CLAUDE" -p "Do the recording steps." --allowedTools "Bash Write" \
  --output-format stream-json --verbose --include-hook-events \
  --debug-file "$W/run/debug.txt" </dev/null >"$W/run/stream.jsonl" 2>"$W/run/stderr.txt")
echo "claude exit: $?"

python3 - "$W/run/hooks.jsonl" "$OUT" "$W" <<'PY'
import json, os, re, sys
log, out, world = sys.argv[1:]
n = 0
for line in open(log, encoding="utf-8"):
    rec = json.loads(line.replace(world, "/WORLD"))
    ev, inp = rec["event"], rec["input"]
    if ev in ("PreToolUse",):
        continue
    label = ""
    if "tool_input" in inp:
        ti = inp["tool_input"]
        label = ti.get("description") or inp.get("tool_name", "")
    n += 1
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
    name = f"{n:02d}-{ev}" + (f"-{slug}" if slug else "") + ".json"
    with open(os.path.join(out, name), "w", encoding="utf-8") as f:
        json.dump(inp, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(name)
PY
printf 'record: world kept in %s\n' "$W"
