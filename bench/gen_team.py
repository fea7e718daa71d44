#!/usr/bin/env python3
"""Write a team-scale pool folder (issue 24): INSTANCES live sessions (presence
files), CLAIMS open claims over PATHS paths and a few recent entries in the last
30 minutes, EDITS edits in edits.log over the last 10 minutes, and HISTORY older
entries spread over the 30 days before that. Lines carry append stamps as our
writers write them (`local`: time and byte offset), so readers stop at the
window as they do on a real pool.

Usage: gen_team.py OUT_DIR PROJECT_DIR [INSTANCES CLAIMS PATHS EDITS HISTORY]
(defaults 100 5000 2000 10000 1000000). Claims and edits are relative to
PROJECT_DIR (the writers' cwd); 1 in 20 claims is a glob (`src/mN/**/*.rs`).
"""
import json, os, random, sys, time, uuid

out, proj = sys.argv[1], sys.argv[2]
args = [int(a) for a in sys.argv[3:8]]
instances, claims, paths, edits, history = (args + [100, 5000, 2000, 10_000, 1_000_000][len(args):])[:5]
rng = random.Random(24)
now = int(time.time())
words = ("pipeline orchestration integration inference oracle model training edge auth "
         "session token cache router parser schema migration deploy test bench index "
         "storage queue worker retry").split()
names = [f"I{i:03d}" for i in range(max(instances, 1))]
path_of = [f"src/m{i % 50}/f{i}.rs" for i in range(max(paths, 1))]

os.makedirs(out, mode=0o700, exist_ok=True)
with open(os.path.join(out, "config.json"), "w") as f:
    json.dump({"scopes": {"all": ["*"]}}, f)

def line(e, off):
    e["local"] = {"at": e["timestamp"], "off": off}
    return (json.dumps(e, separators=(",", ":")) + "\n").encode()

def entry(ts, who, action, topic, affects="", ttl=None):
    e = {"id": str(uuid.UUID(int=rng.getrandbits(128))), "timestamp": ts, "source_instance": who,
         "session_id": f"s-{who}", "action": action, "topic": topic,
         "summary": " ".join(rng.choice(words) for _ in range(16)).capitalize() + ".",
         "affects": affects, "blocks": "", "cwd": proj, "host": "team"}
    if ttl:
        e["ttl"] = ttl
    return e

off = 0
with open(os.path.join(out, "instance_state.jsonl"), "wb") as f:
    old_end = now - 2 * 3600
    span = 30 * 86400
    for i in range(history):
        ts = old_end - span + (span * i) // max(history, 1)
        who = names[i % len(names)]
        e = entry(ts, who, rng.choice(["completed", "claimed", "released", "signaling"]),
                  " ".join(rng.choice(words) for _ in range(4)).capitalize(),
                  rng.choice(path_of))
        b = line(e, off)
        f.write(b)
        off += len(b)
    recent = []
    for i in range(claims):
        who = names[i % len(names)]
        pat = (f"src/m{i % 50}/**/*.rs" if i % 20 == 0 else path_of[i % len(path_of)])
        recent.append(entry(now - 1800 + (1800 * i) // max(claims, 1), who, "claimed",
                            f"Work item {i}", pat, ttl=4 * 3600))
    for i in range(200):
        who = names[i % len(names)]
        recent.append(entry(now - 1800 + 9 * i, who, "completed", f"Finished {i}", rng.choice(path_of)))
    recent.sort(key=lambda e: e["timestamp"])
    for e in recent:
        b = line(e, off)
        f.write(b)
        off += len(b)

with open(os.path.join(out, "edits.log"), "w") as f:
    for i in range(edits):
        ts = now - 600 + (600 * i) // max(edits, 1)
        who = names[i % len(names)]
        rel = path_of[rng.randrange(len(path_of))]
        f.write(f"{ts}\t{who}\ts-{who}\t{os.path.join(proj, rel)}\t\t{rel}\n")

pres = os.path.join(out, "presence")
os.makedirs(pres, mode=0o700, exist_ok=True)
for i, who in enumerate(names[:instances]):
    with open(os.path.join(pres, f"{uuid.UUID(int=i).hex}.json"), "w") as f:
        json.dump({"instance": who, "session_id": f"s-{who}", "cwd": proj, "host": "team",
                   "first_seen": now - 3600, "last_seen": now - (i % 60)}, f)
