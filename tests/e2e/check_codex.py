#!/usr/bin/env python3
"""Assertions for the Codex end-to-end test (tests/e2e/codex.sh). Python 3 standard library only.

Each subcommand prints one line per check, "ok   <what>" or "FAIL <what>: <why>", and exits 1
when any check failed. Claude Code runs are checked with check.py's helpers (same folder).

A Codex run directory (RUN) holds: stdout.txt, stderr.txt (Codex prints "hook: <Event>
<Status>" there), rc, requests.jsonl (every request mock_codex.py received).
"""

import json
import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check as cc  # noqa: E402  (check.py: Checker, read_jsonl, check_run, short)

Checker, read_jsonl, short = cc.Checker, cc.read_jsonl, cc.short

# Codex's hooks: event -> binary, as `pool install --codex` must register them.
CODEX_HOOKS = {
    "SessionStart": "pool-session-start",
    "Stop": "pool-stop",
    "UserPromptSubmit": "pool-prompt",
    "PreToolUse": "pool-guard",
    "PostToolUse": "pool-post-tool",
    "SessionEnd": "pool-stop",
}
C_BLOCKS = [
    {"action": "claimed", "topic": "Billing module by Codex", "affects": "src/billing.rs"},
    {"action": "completed", "topic": "Codex auth fix", "affects": "src/auth.rs"},
]
C_LEAKS = ["Leak from Codex reasoning", "Leak from Codex shell output", "Leak from Codex prompt"]
# Codex spills hook output longer than this many approximate tokens (bytes / 4, rounded up).
CODEX_HOOK_TOKEN_LIMIT = 2500
SPILL_MARK = "Full hook output saved to"


def main_requests(run):
    return [r for r in read_jsonl(Path(run) / "requests.jsonl") if r.get("kind") == "main"]


def developer_texts(body):
    out = []
    for item in body.get("input", []):
        if item.get("type") == "message" and item.get("role") == "developer":
            for part in item.get("content") or []:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    out.append(part["text"])
    return out


def items_after_call(body, name):
    """The input items after the first call of tool `name` in a request body (as JSON text)."""
    items = body.get("input", [])
    idx = min((i for i, it in enumerate(items)
               if it.get("type") in ("custom_tool_call", "function_call") and it.get("name") == name),
              default=None)
    if idx is None:
        return None
    return json.dumps(items[idx + 1:], ensure_ascii=False)


def load_pool(bin_dir, world):
    env = json.loads(json.dumps(dict(os.environ)))
    env.update({"POOL_DIR": str(Path(world) / "pool"), "HOME": str(Path(world) / "home")})
    env.pop("CLAUDE_INSTANCE", None)
    out = subprocess.run([str(Path(bin_dir) / "pool-query"), "--json", "--all", "--all-repos", "--limit", "1000"],
                         capture_output=True, text=True, env=env, timeout=30)
    return [json.loads(l) for l in out.stdout.splitlines() if l.strip()], out


# ---------------------------------------------------------------------------------------------


def cmd_mock_selftest(args):
    """mock_codex.py speaks the Responses API: streamed text, tool calls in the declared shapes."""
    import urllib.request
    c = Checker()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        script = {"turns": [[{"type": "reasoning", "text": "r"}, {"type": "text", "text": "hello"},
                             {"type": "apply_patch", "patch": "*** Begin Patch\n*** End Patch\n"},
                             {"type": "shell", "command": "true"}]], "side_reply": "SIDE"}
        (d / "s.json").write_text(json.dumps(script))
        p = subprocess.Popen([sys.executable, args[0], "--script", str(d / "s.json"),
                              "--port-file", str(d / "port"), "--log", str(d / "log.jsonl")])
        try:
            for _ in range(100):
                if (d / "port").exists():
                    break
                time.sleep(0.05)
            url = f"http://127.0.0.1:{(d / 'port').read_text().strip()}/v1/responses"

            def post(body):
                req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                             headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=10) as r:
                    return r.read().decode()

            tools = [{"type": "custom", "name": "apply_patch"},
                     {"type": "function", "name": "exec_command"}]
            events = [json.loads(l[6:]) for l in post({"stream": True, "tools": tools, "input": []}).splitlines()
                      if l.startswith("data: ")]
            kinds = [e["type"] for e in events]
            c.check(kinds[0] == "response.created" and kinds[-1] == "response.completed",
                    "mock-codex: a response opens with response.created and ends with response.completed",
                    str(kinds))
            done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
            c.check([i["type"] for i in done] == ["reasoning", "message", "custom_tool_call", "function_call"],
                    "mock-codex: reasoning, message, apply_patch (freeform) and shell items in order",
                    str([i["type"] for i in done]))
            deltas = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
            c.check(deltas == "hello", "mock-codex: message text streamed as deltas", repr(deltas))
            c.check(json.loads(done[3]["arguments"]) == {"cmd": "true"},
                    "mock-codex: shell call shaped for the declared exec_command tool", done[3]["arguments"])
            side = post({"stream": True, "input": []})
            c.check("SIDE" in side, "mock-codex: a tool-less request is a side request")
            kinds = [r["kind"] for r in read_jsonl(d / "log.jsonl")]
            c.check(kinds == ["main", "side"], "mock-codex: requests logged with their kind", str(kinds))
        finally:
            p.terminate()
            p.wait(5)
    c.exit()


def check_codex_run(c, run, label):
    run = Path(run)
    rc = (run / "rc").read_text().strip() if (run / "rc").exists() else "missing"
    err = (run / "stderr.txt").read_text(errors="replace") if (run / "stderr.txt").exists() else ""
    c.check(rc == "0", f"{label}: codex exec exited 0", f"exit code {rc}; stderr: {short(err, 1200)}")
    statuses = [l.split()[1:] for l in err.splitlines() if l.startswith("hook: ")]
    finished = [s for s in statuses if len(s) == 2]
    # "Blocked" is a PreToolUse hook refusing a tool call on purpose (the guard's deny).
    bad = [s for s in finished if s[1] != "Completed" and s != ["PreToolUse", "Blocked"]]
    c.check(not bad, f"{label}: every Codex hook completed", f"{bad}; stderr: {short(err, 800)}")
    mains = main_requests(run)
    c.check(mains, f"{label}: the scripted model got the conversation", "no main request")
    return finished, err


def cmd_codex_run(args):
    c = Checker()
    finished, _ = check_codex_run(c, args[0], args[1])
    events = {s[0] for s in finished}
    for ev in ("SessionStart", "UserPromptSubmit", "Stop"):
        c.check(ev in events, f"{args[1]}: Codex ran our {ev} hook", f"hook events seen: {sorted(events)}")
    c.exit()


def cmd_claude_run(args):
    c = Checker()
    cc.check_run(c, args[0], args[1], 1)
    c.exit()


def cmd_harness(args):
    world, run = Path(args[0]), Path(args[1])
    c = Checker()
    finished, _ = check_codex_run(c, run, "harness")
    inputs = read_jsonl(world / "hooks.jsonl")
    ss = [i for i in inputs if i.get("hook_event_name") == "SessionStart"]
    c.check(ss and ss[0].get("transcript_path") and ss[0].get("session_id"),
            "harness: SessionStart hook got session_id and transcript_path", short(json.dumps(inputs)))
    first = main_requests(run)[0]["body"]
    c.check(any("CODEX-CONTEXT-MARKER" in t for t in developer_texts(first)),
            "harness: SessionStart hook output reached the model as developer context")
    mains = main_requests(run)
    patched = any(items_after_call(m["body"], "apply_patch") for m in mains)
    c.check(patched, "harness: the model's apply_patch call went through Codex")
    c.exit()


def cmd_install(args):
    world, bin_dir = Path(args[0]), Path(args[1])
    c = Checker()
    hooks_path = world / "codex" / "hooks.json"
    doc = json.loads(hooks_path.read_text())
    for event, binary in CODEX_HOOKS.items():
        cmds = [h.get("command", "") for g in doc.get("hooks", {}).get(event, []) for h in g.get("hooks", [])]
        ours = [x for x in cmds if f"{bin_dir}/{binary}" in x]
        c.check(len(ours) == 1 and ours[0].endswith("--agent codex"),
                f"install --codex: {event} runs {binary} --agent codex once, by absolute path", str(cmds))
    text = (world / "codex" / "config.toml").read_text()
    c.check(text.startswith("# Codex config of the e2e world") and "[model_providers.mock]" in text,
            "install --codex: the user's config.toml is kept (comment, order, provider)", short(text, 500))
    c.check(text.count("trusted_hash") == len(CODEX_HOOKS),
            f"install --codex: {len(CODEX_HOOKS)} trust entries in config.toml", short(text, 1500))
    for name in ("hooks.json", "config.toml"):
        a, b = world / f"{name}.1", world / f"{name}.2"
        c.check(a.exists() and b.exists() and a.read_bytes() == b.read_bytes(),
                f"install --codex: a second run leaves {name} byte for byte")
    c.check((world / "codex" / "config.toml.pool-backup").exists(),
            "install --codex: the original config.toml was backed up")
    claude = json.loads((world / "config" / "settings.json").read_text())
    c.check(not any("--agent codex" in json.dumps(v) for v in claude.get("hooks", {}).values()),
            "install (Claude Code) and install --codex do not mix their entries")
    c.exit()


def app_server_hooks(codex, world):
    """hooks/list from `codex app-server` (JSON-RPC over stdio)."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(world / "home"), "CODEX_HOME": str(world / "codex")}
    p = subprocess.Popen([codex, "app-server"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=env, cwd=world / "proj")

    def send(o):
        p.stdin.write((json.dumps(o) + "\n").encode())
        p.stdin.flush()

    def recv(want, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            r, _, _ = select.select([p.stdout], [], [], 1)
            if r:
                line = p.stdout.readline()
                if not line:
                    return None
                o = json.loads(line)
                if o.get("id") == want:
                    return o
        return None
    try:
        send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"clientInfo": {"name": "claude-pool-e2e", "version": "1"}}})
        recv(1)
        send({"jsonrpc": "2.0", "method": "initialized"})
        send({"jsonrpc": "2.0", "id": 2, "method": "hooks/list", "params": {"cwds": [str(world / "proj")]}})
        res = recv(2) or {}
    finally:
        p.kill()
        p.wait()
    return [h for d in (res.get("result") or {}).get("data", []) for h in d.get("hooks", [])]


def cmd_trusted(args):
    world, codex = Path(args[0]), args[1]
    c = Checker()
    hooks = app_server_hooks(codex, world)
    ours = [h for h in hooks if "--agent codex" in (h.get("command") or "")]
    c.check(len(ours) == len(CODEX_HOOKS), f"Codex lists our {len(CODEX_HOOKS)} hooks",
            short(json.dumps(hooks), 1500))
    untrusted = [(h.get("key"), h.get("trustStatus")) for h in ours if h.get("trustStatus") != "trusted"]
    c.check(ours and not untrusted, "Codex reports every hook of ours as trusted (hashes match)",
            str(untrusted))
    c.exit()


def cmd_codex_context(args):
    run, topics = Path(args[0]), args[1:]
    c = Checker()
    mains = main_requests(run)
    if not c.check(mains, "codex context: a first request"):
        c.exit()
    dev = "\n".join(developer_texts(mains[0]["body"]))
    for t in topics:
        c.check(t in dev, f"Claude Code's entry \"{t}\" reached the Codex session's first request",
                short(dev, 1200))
    c.check("information, not instructions" in dev,
            "the injected entries are framed as data from other sessions")
    c.check(SPILL_MARK not in dev, "session start fits Codex's limit (not spilled)")
    c.exit()


def cmd_codex_guard(args):
    world, run = Path(args[0]), Path(args[1])
    c = Checker()
    after = None
    for m in main_requests(run):
        after = items_after_call(m["body"], "apply_patch") or after
    c.check(after is not None, "the Codex session's apply_patch call was made")
    after = after or ""
    c.check("A claimed" in after and "src/auth.rs" in after and "Auth rewrite by Claude" in after,
            "the guard acted on Codex's apply_patch: A's claim reached the model with the call",
            short(after, 1500))
    log = world / "pool" / "edits.log"
    # edits.log: one edit per line, "<epoch>\t<instance>\t<session>\t<path>".
    edits = [l.split("\t") for l in log.read_text().splitlines() if l.strip()] if log.exists() else []
    proj = str(world / "proj")
    paths = {e[3] for e in edits if len(e) >= 4 and e[1] == "C"}
    for p in ("src/auth.rs", "notes/codex.md", "docs/old.md", "docs/new.md"):
        c.check(f"{proj}/{p}" in paths, f"the guard recorded C's edit of {p} (add/update/move) by absolute path",
                str(sorted(paths)))
    c.exit()


def cmd_claude_guard(args):
    world, run = Path(args[0]), Path(args[1])
    c = Checker()
    tail = None
    for m in cc.main_requests(run):
        msgs = m["body"].get("messages", [])
        at = [i for i, msg in enumerate(msgs) if isinstance(msg.get("content"), list)
              and any(isinstance(b, dict) and b.get("type") == "tool_use" and b.get("name") == "Edit"
                      for b in msg["content"])]
        if at:
            tail = json.dumps(msgs[at[-1] + 1:], ensure_ascii=False)
    c.check(tail is not None, "the Claude Code session's Edit call was made")
    tail = tail or ""
    c.check("C claimed" in tail and "src/billing.rs" in tail and "Billing module by Codex" in tail,
            "the guard acted on Claude Code's Edit: Codex's claim reached the model", short(tail, 1500))
    c.exit()


def cmd_pool(args):
    world, bin_dir, run_c = Path(args[0]), args[1], Path(args[2])
    c = Checker()
    entries, out = load_pool(bin_dir, world)
    c.check(out.returncode == 0, "pool-query --json --all exits 0", out.stderr)
    by_topic = {}
    for e in entries:
        by_topic.setdefault(e.get("topic"), []).append(e)
    stdout = (run_c / "stdout.txt").read_text(errors="replace") + (run_c / "stderr.txt").read_text(errors="replace")
    for b in C_BLOCKS:
        got = by_topic.get(b["topic"], [])
        c.check(len(got) == 1, f"Codex block \"{b['topic']}\" pooled exactly once", f"{len(got)} entries")
        if got:
            e = got[0]
            c.check(e.get("source_instance") == "C" and e.get("action") == b["action"]
                    and e.get("affects") == b["affects"],
                    f"Codex block \"{b['topic']}\" has instance C, its action and affects", short(json.dumps(e)))
    for leak in C_LEAKS:
        c.check(leak not in by_topic, f"not pooled: \"{leak}\"", short(json.dumps(by_topic.get(leak))))
    c.check("Leak from Codex shell output" in stdout,
            "the shell call with the pool-fenced output really ran (so the leak check means something)")
    sessions = {e.get("session_id") for t in ("Billing module by Codex", "Codex auth fix") for e in by_topic.get(t, [])}
    c.check(len(sessions) == 1, "both Codex blocks carry the Codex session's id", str(sessions))
    for t in ("Auth rewrite by Claude", "Token cache landed"):
        c.check(len(by_topic.get(t, [])) == 1, f"Claude Code block \"{t}\" pooled exactly once")
    c.exit()


def cmd_codex_auto(args):
    """codex-auto WORLD BIN_DIR: K's shell commit is one automatic `completed` entry with its
    subject, the file its apply_patch added and the short hash, and nothing else was pooled."""
    world, bin_dir = Path(args[0]), args[1]
    c = Checker()
    entries, out = load_pool(bin_dir, world)
    c.check(out.returncode == 0, "pool-query --json --all exits 0", out.stderr)
    head = subprocess.run(["git", "-C", str(world / "proj"), "rev-parse", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    subject = subprocess.run(["git", "-C", str(world / "proj"), "log", "-1", "--format=%s"],
                             capture_output=True, text=True).stdout.strip()
    c.check(subject == "Add Codex notes", "Codex's shell call really committed", subject)
    auto = [e for e in entries if e.get("origin") == "auto" and e.get("action") == "completed"]
    c.check(len(auto) == 1, "one automatic completed entry", short(json.dumps(entries), 800))
    if auto:
        e = auto[0]
        c.check(e.get("topic") == "Add Codex notes" and e.get("source_instance") == "K",
                "it has the commit's subject and instance K", short(json.dumps(e)))
        c.check(e.get("affects") == "notes/k.md", "its AFFECTS is the file the apply_patch added",
                short(json.dumps(e)))
        # The id is the commit's hash and the session's (issue 22: another session's entry for
        # the same commit cannot shadow the author's).
        c.check((e.get("id") or "").startswith(f"auto-commit-{head}-") and head[:7] in (e.get("summary") or ""),
                "it names the commit (id and short hash)", short(json.dumps(e)))
    blocks = [e for e in entries if e.get("origin") != "auto"]
    c.check(not blocks, "no block-made entry (the model wrote none)", short(json.dumps(blocks)))
    c.exit()


def cmd_status(args):
    world, bin_dir = Path(args[0]), args[1]
    c = Checker()
    env = dict(os.environ, POOL_DIR=str(world / "pool"), HOME=str(world / "home"))
    out = subprocess.run([str(Path(bin_dir) / "pool"), "status", "--json", "--all-repos"], capture_output=True, text=True,
                         env=env, timeout=30)
    c.check(out.returncode == 0, "pool status --json exits 0", out.stderr)
    try:
        snap = json.loads(out.stdout.splitlines()[0])
    except (ValueError, IndexError):
        snap = {}
    agents = {}
    for inst in snap.get("instances", []):
        for s in inst.get("sessions", []):
            agents.setdefault(inst.get("instance"), set()).add(s.get("agent"))
    c.check(agents.get("C") == {"codex"}, "pool status shows instance C's session as Codex", str(agents))
    c.check(agents.get("A") == {"claude-code"} and agents.get("B") == {"claude-code"},
            "pool status shows A's and B's sessions as Claude Code", str(agents))
    text = subprocess.run([str(Path(bin_dir) / "pool"), "status", "--all-repos"], capture_output=True, text=True,
                          env=env, timeout=30).stdout
    c.check("codex" in text.lower(), "pool status (text) names the agent", short(text, 800))
    c.exit()


def cmd_fill_pool(args):
    """fill-pool POOL N [cjk]: writes N live entries from other instances, with long fields (in
    Japanese with `cjk`: three bytes a character), into a pool's log."""
    pool, n = Path(args[0]), int(args[1])
    word = "共有プールの作業記録 " if args[2:] == ["cjk"] else "word "
    pool.mkdir(parents=True, exist_ok=True)
    os.chmod(pool, 0o700)
    now = int(time.time())
    with open(pool / "instance_state.jsonl", "a", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({
                "id": f"fill-{i}", "timestamp": now - n + i, "source_instance": f"I{i % 7}",
                "session_id": f"s{i % 7}", "action": ["completed", "claimed", "blocked"][i % 3],
                "topic": f"Topic {i} " + word * 20, "summary": word * 40,
                "affects": f"src/m{i}.rs", "blocks": "", "cwd": "/x", "host": "h"}) + "\n")
    os.chmod(pool / "instance_state.jsonl", 0o600)
    # The entries name no repository (cwd /x): a shared "*" scope shows them
    # in the Codex session's repository too (issue 13's scope).
    with open(pool / "config.json", "w", encoding="utf-8") as f:
        json.dump({"scopes": {"everything": ["*"]}}, f)
    os.chmod(pool / "config.json", 0o600)


def cmd_budget(args):
    run = Path(args[0])
    c = Checker()
    mains = main_requests(run)
    if not c.check(mains, "budget: a first request"):
        c.exit()
    dev = [t for t in developer_texts(mains[0]["body"]) if "Session Context" in t]
    c.check(len(dev) == 1, "budget: the session-start context reached Codex once", f"{len(dev)} copies")
    if dev:
        t = dev[0]
        tokens = (len(t.encode()) + 3) // 4
        c.check(SPILL_MARK not in t, "budget: Codex did not spill the session start", short(t[-400:]))
        c.check(tokens <= CODEX_HOOK_TOKEN_LIMIT,
                f"budget: the session start is {tokens} approximate tokens <= {CODEX_HOOK_TOKEN_LIMIT}")
        c.check("more entries not shown" in t, "budget: it says what it left out (600 entries)", short(t[-400:]))
        c.check("output cut to the agent's limit" not in t,
                "budget: entries dropped whole, not the text cut at the limit", short(t[-400:]))
    c.exit()


def cmd_spill(args):
    run = Path(args[0])
    c = Checker()
    mains = main_requests(run)
    dev = "\n".join(developer_texts(mains[0]["body"])) if mains else ""
    c.check("CODEX-CONTEXT-MARKER" in dev and SPILL_MARK in dev,
            "limit: Codex spills a 12,000-byte hook output to a file (the limit the budget is for)",
            short(dev, 600))
    c.exit()


def cmd_uninstalled(args):
    world = Path(args[0])
    c = Checker()
    doc = json.loads((world / "codex" / "hooks.json").read_text())
    c.check("--agent codex" not in json.dumps(doc), "uninstall --codex: no hook of ours left in hooks.json",
            json.dumps(doc))
    text = (world / "codex" / "config.toml").read_text()
    c.check("trusted_hash" not in text and "[model_providers.mock]" in text,
            "uninstall --codex: our trust entries gone, the rest of config.toml kept", short(text, 800))
    c.exit()


def cmd_deny(args):
    world, run = Path(args[0]), Path(args[1])
    c = Checker()
    c.check((world / "proj" / "src" / "auth.rs").read_text() == "fn validate() {}\n",
            "deny: the file is unchanged (Codex stopped apply_patch before it ran)")
    after = None
    for m in main_requests(run):
        after = items_after_call(m["body"], "apply_patch") or after
    c.check(after and "DENY-MARKER" in after, "deny: the reason reached the model with the refused call",
            short(after, 600))
    c.exit()


SHELL_TOOLS = ("exec_command", "shell_command", "shell")


def shell_exchanges(body):
    """(command, output) of every shell call in a request body, in order."""
    items = body.get("input", [])
    outputs = {}
    for it in items:
        if it.get("type") == "function_call_output":
            out = it.get("output")
            if isinstance(out, (dict, list)):
                out = json.dumps(out, ensure_ascii=False)
            outputs[it.get("call_id")] = out or ""
    calls = []
    for it in items:
        if it.get("type") == "function_call" and it.get("name") in SHELL_TOOLS:
            try:
                a = json.loads(it.get("arguments") or "{}")
            except ValueError:
                a = {}
            cmd = a.get("cmd") or a.get("command") or ""
            if isinstance(cmd, list):
                cmd = " ".join(cmd)
            calls.append((cmd, outputs.get(it.get("call_id"))))
    return calls


def cmd_shell_guard(args):
    """shell-guard WORLD RUN: G's first `sed -i` on B's claimed src/auth.rs is refused (the file is
    unchanged, the next request carries B's claim), the retry goes through, and PostToolUse
    records the shell edit in edits.log."""
    world, run = Path(args[0]), Path(args[1])
    c = Checker()
    mains = main_requests(run)
    c.check(len(mains) >= 5, "shell guard: the model got a request after each of its four calls",
            f"{len(mains)} main requests")
    ex = shell_exchanges(mains[-1]["body"]) if mains else []
    c.check(len(ex) >= 4, "shell guard: four shell calls were made", short(json.dumps(ex), 800))
    ex += [("", "")] * max(0, 4 - len(ex))
    (sed1, out1), (cat1, out2), (sed2, out3), (cat2, out4) = ex[:4]
    c.check(sed1.startswith("sed -i") and out1 is not None, "shell guard: the first call is the sed -i",
            short(json.dumps(ex[:1]), 400))
    # The request right after the refused call carries the claim's details.
    after = json.dumps(shell_exchanges(mains[1]["body"]), ensure_ascii=False) if len(mains) > 1 else ""
    c.check("B claimed" in after and "src/auth.rs" in after and "Auth rewrite by B" in after,
            "shell guard: the refusal reached the model's next request with B's claim",
            short(after, 1500))
    c.check("validate" in (out2 or "") and "check" not in (out2 or ""),
            "shell guard: the file was unchanged after the refusal", short(out2 or "", 400))
    c.check("B claimed" not in (out3 or ""), "shell guard: the retry was not refused", short(out3 or "", 600))
    c.check("fn check() {}" in (out4 or ""), "shell guard: the retry changed the file", short(out4 or "", 400))
    final = (world / "proj" / "src" / "auth.rs").read_text()
    c.check(final == "fn check() {}\n", "shell guard: the file holds the retry's change", repr(final))
    log = world / "pool" / "edits.log"
    edits = [l.split("\t") for l in log.read_text().splitlines() if l.strip()] if log.exists() else []
    paths = {e[3] for e in edits if len(e) >= 4 and e[1] == "G"}
    c.check(str(world / "proj" / "src" / "auth.rs") in paths,
            "shell guard: the shell edit is recorded in edits.log (PostToolUse)", str(sorted(paths)))
    c.exit()


def cmd_git_guard(args):
    """git-guard WORLD RUN: in the worktree where B has a live session on main and B claims the
    staged src/db.rs, H's `git checkout -b`, `git commit` and `git push --force` through Codex's
    shell tool are each refused before they run; the model's next request carries the details, and
    a read-only command after each shows the branch, the commit count and the remote unchanged."""
    world, run = Path(args[0]), Path(args[1])
    c = Checker()
    mains = main_requests(run)
    c.check(len(mains) >= 7, "git guard: the model got a request after each of its six calls",
            f"{len(mains)} main requests")
    ex = shell_exchanges(mains[-1]["body"]) if mains else []
    c.check(len(ex) >= 6, "git guard: six shell calls were made", short(json.dumps(ex), 800))
    ex += [("", "")] * max(0, 6 - len(ex))

    def refused(k, label, words):
        cmd, out = ex[k]
        out = out or ""
        # The refusal is in the request right after the call (mains[k + 1]).
        nxt = json.dumps(shell_exchanges(mains[k + 1]["body"]), ensure_ascii=False) if len(mains) > k + 1 else ""
        c.check("Pool: command not run" in out and all(w in out for w in words) and "Pool: command not run" in nxt,
                f"git guard: {label} is refused and the model's next request carries the details",
                short(f"{cmd}: {out}", 900))

    def shows(k, label, want):
        cmd, out = ex[k]
        got = (out or "").strip().splitlines()
        c.check(bool(got) and got[-1].strip() == want, f"git guard: {label}", short(f"{cmd}: {out}", 400))

    refused(0, "git checkout -b in the worktree B works in", ["git checkout", "on branch main"])
    shows(1, "the branch is unchanged after the refusal", "main")
    refused(2, "git commit taking B's claimed src/db.rs", ["git commit would take src/db.rs", "B claimed src/db.rs"])
    shows(3, "no commit was made", "1")
    refused(4, "git push --force of the branch B has checked out",
            ["git push --force of branch main", "works on branch main"])
    shows(5, "the remote is unchanged", "1")
    c.exit()


def cmd_plugin(args):
    world, codex = Path(args[0]), args[1]
    c = Checker()
    hooks = [h for h in app_server_hooks(codex, world) if h.get("pluginId") == "session-pool@claude-pool"]
    events = sorted(h.get("eventName") for h in hooks)
    want = sorted(k[0].lower() + k[1:] for k in CODEX_HOOKS)
    c.check(events == want, "plugin: Codex registers each of our hooks exactly once",
            f"{events} vs {want}")
    files = {(h.get("key") or "").split(":")[1] for h in hooks if ":" in (h.get("key") or "")}
    c.check(files == {"hooks/codex.json"}, "plugin: all from hooks/codex.json (not Claude Code's hooks/hooks.json)",
            str(files))
    c.check(all((h.get("command") or "").endswith("--agent codex") for h in hooks),
            "plugin: every plugin hook runs with --agent codex")
    c.exit()


COMMANDS = {
    "deny": cmd_deny,
    "shell-guard": cmd_shell_guard,
    "git-guard": cmd_git_guard,
    "plugin": cmd_plugin,
    "codex-auto": cmd_codex_auto,
    "mock-selftest": cmd_mock_selftest,
    "codex-run": cmd_codex_run,
    "claude-run": cmd_claude_run,
    "harness": cmd_harness,
    "install": cmd_install,
    "trusted": cmd_trusted,
    "codex-context": cmd_codex_context,
    "codex-guard": cmd_codex_guard,
    "claude-guard": cmd_claude_guard,
    "pool": cmd_pool,
    "status": cmd_status,
    "fill-pool": cmd_fill_pool,
    "budget": cmd_budget,
    "spill": cmd_spill,
    "uninstalled": cmd_uninstalled,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(f"check_codex.py: usage: check_codex.py {{{'|'.join(COMMANDS)}}} ARGS...", file=sys.stderr)
        sys.exit(2)
    COMMANDS[sys.argv[1]](sys.argv[2:])
