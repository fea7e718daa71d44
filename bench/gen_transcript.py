#!/usr/bin/env python3
# Copy of ../shared/bench/gen_transcript.py (same logic and output), used by bench/run when
# that shared copy is not reachable, so a clean clone can still run the benchmarks.
"""Write a synthetic Claude Code transcript (JSONL) of TURNS turns.

Each turn: a user prompt, assistant lines split one content block per line
(shared message.id, as Claude Code writes them), a tool_use, its tool_result,
and every EVERY-th turn a closing text block carrying a ```pool block.
Usage: gen_transcript.py OUT TURNS [EVERY]
"""
import json, random, sys, uuid

out, turns = sys.argv[1], int(sys.argv[2])
every = int(sys.argv[3]) if len(sys.argv) > 3 else 10
rng = random.Random(7)
sid = str(uuid.UUID(int=rng.getrandbits(128)))
parent = None
filler = ("The change touches the parser and the store; tests pass locally. " * 40)

def line(f, kind, message, **extra):
    global parent
    u = str(uuid.UUID(int=rng.getrandbits(128)))
    rec = {"parentUuid": parent, "isSidechain": False, "userType": "external",
           "cwd": "/home/dev/proj", "sessionId": sid, "version": "2.0.0",
           "type": kind, "message": message, "uuid": u,
           "timestamp": "2026-11-20T10:00:00.000Z"}
    rec.update(extra)
    f.write(json.dumps(rec) + "\n")
    parent = u

with open(out, "w") as f:
    for t in range(turns):
        line(f, "user", {"role": "user", "content": f"Please do task {t}"})
        mid = "msg_%024x" % rng.getrandbits(96)
        base = {"id": mid, "type": "message", "role": "assistant", "model": "claude-sonnet-4-5"}
        line(f, "assistant", dict(base, content=[{"type": "text", "text": "Working on it. " + filler}]))
        tid = "toolu_%024x" % rng.getrandbits(96)
        line(f, "assistant", dict(base, content=[{"type": "tool_use", "id": tid, "name": "Read",
                                                  "input": {"file_path": "/home/dev/proj/src/lib.rs"}}]))
        line(f, "user", {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tid,
                                                      "content": filler}]})
        text = "Done with task %d." % t
        if t % every == every - 1:
            text += ("\n\n```pool\nINSTANCE: A\nACTION: completed\nTOPIC: Task %d\n"
                     "SUMMARY: Finished task %d in the parser.\nAFFECTS: src/parser.rs\n```\n" % (t, t))
        mid2 = "msg_%024x" % rng.getrandbits(96)
        line(f, "assistant", dict(base, id=mid2, content=[{"type": "text", "text": text}]))
