#!/usr/bin/env python3
"""What the pool adds to a model's context, per surface, for a team of 2, 5 and 20
instances (issue 25 §6). Runs the real hook binaries on a pool written through
`pool post`, as sessions would, and counts the characters each surface injects:

- session start: what `pool-session-start` prints for a new session of instance A;
- a prompt with news: what `pool-prompt` adds to A's next prompt after every other
  instance posted one entry since A's previous prompt;
- a prompt with nothing new: the same hook again right after;
- a guard refusal: the reason `pool-guard` gives when A edits a file another instance
  claimed (deny-once, the default).

The team's hour: each other instance claims a task (two files), completes one, and every
fifth is blocked on something. Texts are of the length real blocks have (a topic of about
40 characters, a summary of about 150). Tokens are estimated as characters / 4.

Usage: bench/context.py BIN_DIR [OUT.md]   (BIN_DIR holds pool, pool-session-start, ...)
Writes a Markdown table to OUT.md (default bench/out/context.md) and prints it.
"""
import json
import os
import subprocess
import sys
import tempfile

BIN = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "target/release"
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "out", "context.md")
TEAMS = (2, 5, 20)
SUMMARY = ("Moved the handler to the shared router, kept the old entry point as a thin wrapper "
           "and added tests for the empty and oversized bodies; no schema change.")


def run(env, args, stdin="", cwd=None):
    p = subprocess.run(args, input=stdin, capture_output=True, text=True, env=env, timeout=60,
                       cwd=cwd)
    if p.returncode != 0:
        raise SystemExit(f"{args[0]} exited {p.returncode}: {p.stderr[:500]}")
    return p.stdout


def context_of(out):
    """The text a hook's stdout adds: additionalContext / a denial's reason, or the plain text."""
    out = out.strip()
    if not out:
        return ""
    try:
        j = json.loads(out)
    except ValueError:
        return out
    h = j.get("hookSpecificOutput", {})
    return (h.get("additionalContext") or h.get("permissionDecisionReason")
            or j.get("reason") or j.get("systemMessage") or "")


def team(n, root):
    pool, proj = os.path.join(root, "pool"), os.path.join(root, "proj")
    os.makedirs(pool, mode=0o700)
    os.makedirs(os.path.join(proj, "src"))
    subprocess.run(["git", "init", "-q", proj], check=True)
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    base.update(POOL_DIR=pool, LANG="C.UTF-8")

    def env(inst):
        return dict(base, CLAUDE_INSTANCE=inst)

    def post(inst, action, topic, affects, **kw):
        args = [f"{BIN}/pool", "post", "--action", action, "--topic", topic,
                "--summary", SUMMARY, "--affects", affects]
        for k, v in kw.items():
            args += [f"--{k}", v]
        run(env(inst), args, cwd=proj)

    def hook(inst, prog, event):
        event = dict(event, cwd=proj)
        return context_of(run(env(inst), [f"{BIN}/{prog}"], json.dumps(event), cwd=proj))

    others = [f"I{i:02d}" for i in range(1, n)]
    for i, o in enumerate(others):
        post(o, "claimed", f"Rework the request router for module {i}",
             f"src/m{i}/router.rs, src/m{i}/handler.rs")
        post(o, "completed", f"Split the session cache in module {i}", f"src/m{i}/cache.rs")
        if i % 5 == 4:
            post(o, "blocked", f"Waiting for the schema migration of module {i}", f"src/m{i}/schema.rs")
    sid = "bench-a"
    start = hook("A", "pool-session-start",
                 {"session_id": sid, "hook_event_name": "SessionStart", "source": "startup"})
    first = hook("A", "pool-prompt",
                 {"session_id": sid, "hook_event_name": "UserPromptSubmit", "prompt": "go"})
    for i, o in enumerate(others):
        post(o, "completed", f"Router for module {i} done", f"src/m{i}/router.rs")
    news = hook("A", "pool-prompt",
                {"session_id": sid, "hook_event_name": "UserPromptSubmit", "prompt": "next"})
    quiet = hook("A", "pool-prompt",
                 {"session_id": sid, "hook_event_name": "UserPromptSubmit", "prompt": "again"})
    # A claimed file still open: module 0's handler (its router was completed).
    target = os.path.join(proj, "src/m0/handler.rs")
    refusal = hook("A", "pool-guard", {
        "session_id": sid, "hook_event_name": "PreToolUse", "tool_name": "Edit",
        "tool_input": {"file_path": target, "old_string": "a", "new_string": "b"}})
    return {"session start": start, "first prompt": first, "prompt with news": news,
            "prompt, nothing new": quiet, "guard refusal": refusal}


def main():
    rows = {}
    for n in TEAMS:
        with tempfile.TemporaryDirectory(prefix="pool-context-") as root:
            rows[n] = team(n, root)
    surfaces = list(rows[TEAMS[0]])
    lines = ["| surface | " + " | ".join(f"team of {n}" for n in TEAMS) + " |",
             "| --- | " + " | ".join("---" for _ in TEAMS) + " |"]
    for s in surfaces:
        cells = []
        for n in TEAMS:
            c = len(rows[n][s])
            cells.append(f"{c:,} chars (~{(c + 3) // 4:,} tokens)" if c else "nothing")
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    table = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write(table)
        f.write("\n<details><summary>The texts, team of 5</summary>\n\n")
        for s in surfaces:
            f.write(f"**{s}**\n\n```text\n{rows[5][s] or '(nothing)'}\n```\n\n")
        f.write("</details>\n")
    print(table, end="")
    if not rows[TEAMS[0]]["guard refusal"]:
        raise SystemExit("the guard did not refuse the claimed file: the scene is wrong")


if __name__ == "__main__":
    main()
