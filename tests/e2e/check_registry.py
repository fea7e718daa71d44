#!/usr/bin/env python3
"""Checks of tests/e2e/registry.sh: W holds out/{during,quiet,after}.json (pool status --json
while the session ran, after its presence was made two hours old, and after the client was
killed) and out/registry.json (Claude Code's registry file for the session, copied mid-run)."""
import json
import os
import sys

W = sys.argv[1]


def ok(name):
    print(f"ok   {name}")


def fail(name, detail=""):
    print(f"FAIL {name}")
    if detail:
        print("     | " + str(detail)[:2000])


def load(name):
    try:
        with open(os.path.join(W, "out", name)) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{name} is JSON", e)
        return None


def sessions_of_a(status):
    if status is None:
        return []
    for inst in status.get("instances", []):
        if inst.get("instance") == "A" or inst.get("name") == "A":
            return inst.get("sessions", [])
    return []


reg = load("registry.json")
if reg is not None:
    want = {"pid", "sessionId", "procStart", "pidDomain", "messagingSocketPath"}
    missing = want - set(reg)
    if missing:
        fail("Claude Code's registry file has the fields the pool reads", f"missing {missing}: {reg}")
    else:
        ok(f"Claude Code's registry file has pid, sessionId, procStart, pidDomain (status {reg.get('status')!r})")

for label, name, want in (
    ("while it runs", "during.json", "active"),
    ("two hours after its last hook, while Claude Code still lists it", "quiet.json", "idle"),
    ("after the client was killed with no SessionEnd", "after.json", "gone"),
):
    st = load(name)
    ss = sessions_of_a(st)
    states = [s.get("state") for s in ss]
    if len(ss) == 1 and states == [want]:
        ok(f"A's session {label}: {want}")
    else:
        fail(f"A's session {label}: {want}", f"states {states}; status {json.dumps(st)[:1500]}")
