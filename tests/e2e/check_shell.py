#!/usr/bin/env python3
"""Checks for tests/e2e/guard_shell.sh (issue 23, the shell guard).

    check_shell.py settings SETTINGS_JSON   pool-guard is registered for Bash
    check_shell.py a WORK                   A's run: each refusal, what stayed unchanged, the retry
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check import Checker, last_result, read_jsonl, short  # noqa: E402

ORIGINAL_AUTH = "auth: a\n"


def cmd_settings(args):
    c = Checker()
    s = json.loads(Path(args[0]).read_text())
    pre = s.get("hooks", {}).get("PreToolUse", [])
    hit = [g.get("matcher", "") for g in pre
           if any("pool-guard" in h.get("command", "") for h in g.get("hooks", []))]
    c.check(hit and "Bash" in hit[0].split("|"), "settings.json: pool-guard is registered for Bash", str(hit))
    c.exit()


def cmd_a(args):
    c = Checker()
    work = Path(args[0])
    run = work / "runs" / "A"
    main = [r for r in read_jsonl(run / "requests.jsonl") if r.get("kind") == "main"]
    if not c.check(len(main) >= 9, "A: every scripted turn was requested", f"got {len(main)} main requests"):
        c.exit()
    # main[k] carries the result of turn k-1.
    def refused(k, label, words):
        err, text = last_result(main[k])
        c.check(err and "Pool: command not run" in text and all(w in text for w in words),
                f"A: {label} is refused and the model's next request carries the details",
                f"is_error={err}, text={short(text, 700)}")

    def shows(k, label, want):
        err, text = last_result(main[k])
        c.check(not err and text.strip() == want.strip(), f"A: {label}", f"got {short(text, 300)!r}")

    refused(1, "sed -i on B's claimed file", ["B claimed src/auth.rs", "Auth rewrite", "src/auth.rs (sed -i)"])
    shows(2, "the claimed file is unchanged after the refusal (cat shows the original)", ORIGINAL_AUTH)
    refused(3, "git checkout -b in the worktree B works in", ["git checkout", "B (session", "on branch main"])
    shows(4, "the branch is unchanged after the refusal", "main")
    refused(5, "git commit taking B's claimed src/db.rs", ["git commit would take src/db.rs", "B claimed src/db.rs"])
    shows(6, "no commit was made", "1")
    refused(7, "git push --force of the branch B has checked out",
            ["git push --force of branch main", "works on branch main"])
    err, text = last_result(main[8])
    c.check(not err and "Pool:" not in text, "A: the retry of the sed goes through", f"is_error={err}, text={short(text, 300)}")
    auth = (work / "proj" / "src" / "auth.rs").read_text()
    c.check(auth == "buth: a\n", "A: the retry changed the file", repr(auth))
    edits = (work / "pool" / "edits.log").read_text() if (work / "pool" / "edits.log").exists() else ""
    mine = [l for l in edits.splitlines() if l.split("\t")[1:2] == ["A"] and l.endswith("\tsrc/auth.rs")]
    c.check(mine, "A: PostToolUse recorded the shell edit of src/auth.rs in edits.log", short(edits, 500))
    c.exit()


if __name__ == "__main__":
    cmds = {"settings": cmd_settings, "a": cmd_a}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        raise SystemExit("check_shell.py: usage: check_shell.py settings|a ARGS")
    cmds[sys.argv[1]](sys.argv[2:])
