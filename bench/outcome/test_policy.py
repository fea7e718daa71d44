#!/usr/bin/env python3
"""Unit tests of the outcome benchmark's policy (policy_server.Policy) on hand-made request bodies:
what it picks, how it reacts to a guard refusal, a handoff, and the automatic-entries arm.
Run: python3 bench/outcome/test_policy.py"""

import json
import sys
import tempfile
import unittest
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
import policy_server  # noqa: E402
import scene  # noqa: E402

WD = "/w/repo"


def policy(me="s1", seed=1, no_blocks=False, tasks=None):
    d = tempfile.mkdtemp()
    p = Path(d) / "backlog.json"
    bl = scene.backlog()
    if tasks:
        bl["tasks"] = [t for t in bl["tasks"] if t["id"] in tasks]
    p.write_text(json.dumps(bl))
    return policy_server.Policy(SimpleNamespace(instance=me, no_blocks=no_blocks, max_tasks=99, workdir=WD,
                                                backlog=str(p), seed=seed, think_min=0, think_max=0, events=None))


def body(*msgs, system=""):
    return {"system": [{"type": "text", "text": system}], "tools": [{}], "messages": list(msgs)}


def user(text):
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def ctx(text):
    return {"role": "system", "content": [{"type": "text", "text": "SessionStart:resume hook success: " + text}]}


def asst(*blocks):
    return {"role": "assistant", "content": list(blocks)}


def tool_use(i, name, inp):
    return {"type": "tool_use", "id": i, "name": name, "input": inp}


def result(i, text, err=False):
    return {"role": "user", "content": [{"type": "tool_result", "tool_use_id": i, "content": text, "is_error": err}]}


def text_of(turn):
    return "\n".join(b.get("text", "") for b in turn if b["type"] == "text")


class Pick(unittest.TestCase):
    def test_skips_a_task_shown_claimed_by_another(self):
        shown = ctx("### Recent Activity\n- [s2] claimed: T01: Add a --verbose flag")
        for seed in range(20):
            t = policy(seed=seed, tasks={"T01", "T02"}).decide(body(user("Backlog round 1"), shown))
            self.assertTrue(text_of(t).startswith("CLAIM T02"), text_of(t))

    def test_control_takes_t01_when_nothing_is_shown(self):
        picks = {text_of(policy(seed=s, tasks={"T01", "T02"}).decide(body(user("Backlog round 1"))))[:9]
                 for s in range(20)}
        self.assertIn("CLAIM T01", picks)

    def test_claim_block_only_when_the_arm_writes_blocks(self):
        t = policy(tasks={"T01"}).decide(body(user("Backlog round 1")))
        self.assertIn("```pool\nACTION: claimed\nTOPIC: T01: Add a --verbose flag", text_of(t))
        self.assertIn("AFFECTS: src/app/cli.py, tests/test_cli.py", text_of(t))
        t = policy(tasks={"T01"}, no_blocks=True).decide(body(user("Backlog round 1")))
        self.assertTrue(text_of(t).startswith("CLAIM T01"))
        self.assertNotIn("```pool", text_of(t))

    def test_takes_a_handoff_first_and_acknowledges_it(self):
        h = ctx("## Pool: handoffs for you\n- [s2 → you] signaling: please take T16 for s1 — T01 is done "
                "(acknowledge: `pool ack 643cfcfe-135f-8b44-a1c7-66e398130d58` or ...)")
        t = policy().decide(body(user("Backlog round 1"), h))
        self.assertTrue(text_of(t).startswith("CLAIM T16"), text_of(t))
        self.assertIn("REF: 643cfcfe-135f-8b44-a1c7-66e398130d58", text_of(t))

    def test_done_when_everything_is_taken(self):
        shown = ctx("- [s2] completed: T01: x\n- [s3] auto completed: T02: y (by s3) (commit 1234567)")
        t = policy(tasks={"T01", "T02"}).decide(body(user("Backlog round 1"), shown))
        self.assertIn("BACKLOG-DONE", text_of(t))


class Work(unittest.TestCase):
    claimed = asst({"type": "text", "text": "CLAIM T01\nI am taking T01."})

    def test_work_round_reads_then_edits(self):
        p = policy(tasks={"T01"})
        t = p.decide(body(user("Backlog round 1"), self.claimed, user("Backlog round 2")))
        self.assertEqual(t[0]["name"], "Read")
        self.assertEqual(t[0]["input"]["file_path"], f"{WD}/src/app/cli.py")

    def test_yields_when_another_claim_shows_at_round_start(self):
        shown = ctx("- [s0] claimed: T01: Add a --verbose flag")
        t = policy().decide(body(user("Backlog round 1"), self.claimed, user("Backlog round 2"), shown))
        self.assertTrue(text_of(t).startswith("DROP T01"), text_of(t))

    def edit_refused(self, reason):
        p = policy(tasks={"T01"})
        msgs = [user("Backlog round 1"), self.claimed, user("Backlog round 2"),
                asst(tool_use("r1", "Read", {"file_path": f"{WD}/src/app/cli.py"})),
                result("r1", "1\t# --- section: handlers ---\n"),
                asst(tool_use("e1", "Edit", {"file_path": f"{WD}/src/app/cli.py", "old_string": "a",
                                             "new_string": "b"})),
                result("e1", "PreToolUse:Edit hook error: Pool: edit not applied; " + reason, err=True)]
        return p, msgs

    def test_refusal_for_its_own_task_drops_it(self):
        p, msgs = self.edit_refused("Other sessions report: s0 claimed src/app/cli.py 1m ago: \"T01: Add\"")
        t = p.decide(body(*msgs))
        self.assertTrue(text_of(t).startswith("DROP T01"), text_of(t))
        self.assertIn("ACTION: released", text_of(t))

    def test_refusal_for_its_own_task_claimed_by_a_higher_name_is_retried(self):
        p2, msgs2 = self.edit_refused("Other sessions report: s3 claimed src/app/cli.py 1m ago: \"T01: Add\"")
        p2.me = "s2"
        self.assertEqual(p2.decide(body(*msgs2))[0]["name"], "Bash")  # s2 keeps T01 against s3: waits, retries

    def test_other_refusal_waits_a_turn_then_retries_the_same_edit(self):
        p, msgs = self.edit_refused("Other sessions report: s2 edited src/app/cli.py 20s ago.")
        t = p.decide(body(*msgs))
        self.assertEqual((t[0]["name"], t[0]["input"]["command"][:5]), ("Bash", "sleep"))
        msgs += [asst(tool_use("s1", "Bash", t[0]["input"])), result("s1", "(Bash completed with no output)")]
        t = p.decide(body(*msgs))
        self.assertEqual(t[0]["name"], "Edit")
        self.assertEqual(t[0]["input"]["file_path"], f"{WD}/src/app/cli.py")

    def test_commit_after_the_edits_then_done(self):
        p = policy(tasks={"T11"})
        f = f"{WD}/src/app/i18n.py"
        msgs = [user("Backlog round 1"), asst({"type": "text", "text": "CLAIM T11"}), user("Backlog round 2"),
                asst(tool_use("r1", "Read", {"file_path": f})),
                result("r1", "1\tx\n2\t# --- section: settings ---\n3\ty")]
        t = p.decide(body(*msgs))
        self.assertEqual(t[0]["name"], "Write")
        self.assertEqual(t[0]["input"]["content"], "x\n# --- section: settings ---\n# T11 (s1): Translate the messages\ny\n")
        msgs += [asst(tool_use("w1", "Write", t[0]["input"])), result("w1", "updated")]
        t = p.decide(body(*msgs))
        self.assertIn("git commit -m 'T11: Translate the messages (by s1)'", t[0]["input"]["command"])
        msgs += [asst(tool_use("c1", "Bash", t[0]["input"])), result("c1", "[main 1234567] T11")]
        t = p.decide(body(*msgs))
        self.assertTrue(text_of(t).startswith("DONE T11"))


if __name__ == "__main__":
    unittest.main()
