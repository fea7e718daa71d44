#!/usr/bin/env python3
"""Checks for tests/e2e/auto.sh (automatic entries against the real Claude Code).

Usage: check_auto.py {settings|a1|a2|b} ARGS...   Prints one "ok   ..." or "FAIL ..." line per check.
"""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check import Checker, check_run, main_requests, read_jsonl, short  # noqa: E402


def entries(work):
    return read_jsonl(Path(work) / "pool" / "instance_state.jsonl")


def session_of(c, work, label):
    sid = check_run(c, Path(work) / "runs" / label, label, 2)
    c.check(sid, f"{label}: session id known")
    return sid


def head(work, rev="HEAD"):
    return subprocess.run(["git", "-C", str(Path(work) / "proj"), "rev-parse", rev],
                          capture_output=True, text=True, check=True).stdout.strip()


def auto(es, sid=None):
    return [e for e in es if e.get("origin") == "auto" and (sid is None or e.get("session_id") == sid)]


def digests(es, sid):
    return [e for e in auto(es, sid) if e.get("id", "").startswith("auto-digest-")]


def no_errors(c, work, label):
    log = Path(work) / "pool" / "errors.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    c.check("pool-post-tool" not in text, f"{label}: pool-post-tool logged no error", short(text, 600))


def cmd_settings(args):
    c = Checker()
    settings = json.loads(Path(args[0]).read_text())
    bin_dir = Path(args[1]).resolve()
    groups = settings.get("hooks", {}).get("PostToolUse", [])
    hit = [(g.get("matcher"), h.get("command", "")) for g in groups for h in g.get("hooks", [])
           if os.path.basename(shlex.split(h.get("command", "x"))[0]) == "pool-post-tool"]
    c.check(len(hit) == 1, "settings.json: PostToolUse runs pool-post-tool once", str(groups))
    if hit:
        c.check(hit[0][0] == "Bash", "settings.json: pool-post-tool matches the Bash tool only", str(hit))
        exe = Path(shlex.split(hit[0][1])[0])
        c.check(exe.is_absolute() and exe.resolve().parent == bin_dir,
                "settings.json: pool-post-tool is the tested binary, by an absolute path", str(exe))
    c.exit()


def cmd_a1(args):
    c = Checker()
    work = args[0]
    sid = session_of(c, work, "A1")
    es = entries(work)
    commit = head(work)
    commits = [e for e in auto(es, sid) if e.get("id", "").startswith("auto-commit-")]
    c.check(len(commits) == 1, "A1: exactly one automatic commit entry",
            json.dumps(auto(es, sid), indent=1))
    if commits:
        e = commits[0]
        c.check(e.get("action") == "completed", "A1: the commit entry is `completed`", e.get("action"))
        c.check(e.get("topic") == "Add greeting", "A1: its topic is the commit's subject", e.get("topic"))
        c.check(e.get("affects") == "src/greet.txt", "A1: its AFFECTS is the file the session edited",
                e.get("affects"))
        c.check(commit[:7] in e.get("summary", "") and "main" in e.get("summary", ""),
                "A1: it carries the short hash and the branch", f"{e.get('summary')!r}, HEAD {commit}")
        c.check(e.get("source_instance") == "A", "A1: it is A's", e.get("source_instance"))
    leaks = [e for e in es if any(t in json.dumps(e) for t in ("Nothing to commit", "Dry run", "not a commit"))]
    c.check(not leaks, "A1: a failed commit, a dry run and `echo git commit` posted nothing",
            json.dumps(leaks))
    # Its commit's entry says everything it did: a digest would only repeat it (issue 25 §6).
    ds = digests(es, sid)
    c.check(not ds, "A1: SessionEnd posted no digest (nothing edited after the commit)",
            json.dumps(ds, indent=1))
    other = [e for e in es if e.get("session_id") == sid and e.get("origin") != "auto"]
    c.check(not other, "A1: no other entry from A's session (it wrote no block)", json.dumps(other))
    no_errors(c, work, "A1")
    c.exit()


def cmd_a2(args):
    c = Checker()
    work = args[0]
    sid = session_of(c, work, "A2")
    es = [e for e in entries(work) if e.get("session_id") == sid]
    blocks = [e for e in es if e.get("topic") == "Farewell message"]
    c.check(len(blocks) == 1 and blocks[0].get("origin") != "auto",
            "A2: the block about the commit is in the pool once", json.dumps(blocks))
    commits = [e for e in auto(es) if e.get("id", "").startswith("auto-commit-")]
    c.check(not commits, "A2: no automatic entry doubles the block about the same work",
            json.dumps(commits, indent=1))
    about = [e for e in es if "farewell" in (e.get("topic", "") + e.get("affects", "")).lower()
             and not e.get("id", "").startswith("auto-digest-")]
    c.check(len(about) == 1, "A2: one entry about the farewell commit, not two", json.dumps(about, indent=1))
    c.check(not digests(es, sid), "A2: its SessionEnd posted no digest (the block and the commit say it all)",
            json.dumps(digests(es, sid)))
    no_errors(c, work, "A2")
    c.exit()


def cmd_b(args):
    c = Checker()
    work = args[0]
    check_run(c, Path(work) / "runs" / "B", "B", 1)
    mains = main_requests(Path(work) / "runs" / "B")
    first = json.dumps(mains[0]["body"]) if mains else ""
    context = first.replace("\\n", "\n")
    context = context[context.find("## Session Context"):]
    line = next((l for l in context.splitlines() if "Add greeting" in l), "")
    c.check(line, "B: its first request shows A's commit subject", short(first, 2000))
    c.check("src/greet.txt" in line and "[A]" in line and "auto" in line,
            "B: one compact line marked automatic, with A's name and the files", line)
    c.check(head(work, "HEAD~1")[:7] in line, "B: the line carries the commit's short hash", line)
    c.exit()


COMMANDS = {"settings": cmd_settings, "a1": cmd_a1, "a2": cmd_a2, "b": cmd_b}

if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in COMMANDS:
        print(f"usage: check_auto.py {{{'|'.join(COMMANDS)}}} ARGS...", file=sys.stderr)
        sys.exit(2)
    COMMANDS[sys.argv[1]](sys.argv[2:])
