#!/usr/bin/env python3
# Copy of ../shared/bench/gen_pool.py (same logic and output), used by bench/run when
# that shared copy is not reachable, so a clean clone can still run the benchmarks.
"""Write a synthetic pool file: N entries spread evenly over the last SPAN seconds.

Schema matches what the seed's Python hooks write (epoch int timestamp,
source_instance, action, topic, summary, affects, blocks, relevance, ttl).
Usage: gen_pool.py OUT N [SPAN_SECONDS]
"""
import json, random, sys, time, uuid

out, n = sys.argv[1], int(sys.argv[2])
span = int(sys.argv[3]) if len(sys.argv) > 3 else 30 * 86400
rng = random.Random(42)
now = int(time.time())
instances = ["A", "B", "C", "D"]
actions = ["completed", "blocked", "claimed", "signaling"]
words = ("pipeline orchestration integration visual image clip llava inference oracle "
         "model training edge hailo jetson npu auth session token cache router parser "
         "schema migration deploy test bench index storage queue worker retry").split()
with open(out, "w") as f:
    for i in range(n):
        ts = now - span + (span * i) // max(n, 1)
        topic = " ".join(rng.choice(words) for _ in range(4)).capitalize()
        summary = " ".join(rng.choice(words) for _ in range(24)).capitalize() + "."
        affects = ", ".join(f"src/{rng.choice(words)}_{rng.choice(words)}.py" for _ in range(2))
        e = {"id": str(uuid.UUID(int=rng.getrandbits(128))), "timestamp": ts,
             "source_instance": rng.choice(instances), "session_id": "%08x" % rng.getrandbits(32),
             "action": rng.choice(actions), "topic": topic, "summary": summary,
             "relevance": {k: round(rng.random(), 2) for k in instances},
             "affects": affects, "blocks": "" if rng.random() < 0.8 else "Refactor can proceed",
             "ttl": 3600}
        f.write(json.dumps(e) + "\n")
