#!/usr/bin/env python3
"""The outcome benchmark's driver: runs teams of real Claude Code sessions against policy model
servers (policy_server.py) on one repository, per arm, layout, team size and seed; measures what
happened; writes results.json and outcome.svg. Started by bench/outcome/run (which installs Claude
Code and enters the offline network namespace); see docs/outcome.md.

Python 3 standard library only.

A run: a world (HOME, CLAUDE_CONFIG_DIR, POOL_DIR, TMPDIR) and a git repository holding the scene
(scene.py). Layout "worktrees": one git worktree and branch per session, merged into main at the
end; layout "shared": every session in the one tree. Arms: "pool" (`pool install`), "none" (the
same hook events, each command /bin/true), "auto" (`pool install`, the policy writes no blocks).
Each session is one Claude Code session (`claude -p --session-id`, then `claude -p --resume`, one
prompt per round) with its own policy server; sessions run concurrently from a seeded start.
"""

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import scene  # noqa: E402
import svg  # noqa: E402

ARMS = ["pool", "none", "auto"]
# Text our hooks put in front of the model (as tests/e2e/check.py's POOL_MARKERS).
POOL_MARKERS = ["## Session Context", "Pool: when you complete", "info string is `pool`", "Pool news since",
                "Pool: handoffs", "another instance is working here", "Pool: edit not applied", "Pool:",
                "Recent Activity", "reports written by other Claude Code sessions", "## Pool"]
PROMPT = "Backlog round {k}: continue your task, or take the next one from the team's backlog."
# --real-model: the same rounds, with what a real model needs to know (the policy knows it already).
REAL_PROMPT = ("Backlog round {k}. You are instance {name}, one of several Claude Code sessions working "
               "through BACKLOG.md in this repository at the same time. Take ONE task that, as far as you can "
               "tell from what you are shown, nobody has claimed or completed (your own earlier rounds count), "
               "claim it with a pool block (ACTION: claimed, TOPIC: 'Txx: title', AFFECTS: its files), do it "
               "exactly as BACKLOG.md says, commit, and report it with a pool block (ACTION: completed). "
               "If nothing is left for you, answer only BACKLOG-DONE.")
# The automatic-entries arm in --real-model mode: no blocks asked for (and POOL_REMINDER=0).
REAL_PROMPT_AUTO = REAL_PROMPT.replace(
    "claim it with a pool block (ACTION: claimed, TOPIC: 'Txx: title', AFFECTS: its files), ", "").replace(
    ", and report it with a pool block (ACTION: completed)", ". Write no pool blocks")


def sh(args, cwd=None, env=None, check=True):
    r = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{args}: exit {r.returncode}: {r.stderr.strip()[:500]}")
    return r


def world_env(w, bin_dir, base_url=None, api_key=None):
    env = {
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": f"{w}/home", "CLAUDE_CONFIG_DIR": f"{w}/config", "POOL_DIR": f"{w}/pool",
        "TMPDIR": f"{w}/tmp", "LANG": "C.UTF-8", "SHELL": "/bin/bash", "TERM": "dumb",
        "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1", "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "ANTHROPIC_API_KEY": api_key or "sk-ant-e2e-dummy-key",
        "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
        "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    }
    if base_url:
        env["ANTHROPIC_BASE_URL"] = base_url
    return env


def make_world(w, arm, layout, team, n_tasks, bin_dir):
    for d in ("home", "config", "pool", "tmp", "sessions"):
        (w / d).mkdir(parents=True, exist_ok=True)
    os.chmod(w / "pool", 0o700)
    repo = w / "repo"
    repo.mkdir()
    env = world_env(w, bin_dir)
    sh(["git", "init", "-q", "-b", "main"], cwd=repo)
    tasks = scene.backlog(n_tasks)
    scene.write_tree(repo, tasks["tasks"])
    sh(["git", "add", "."], cwd=repo)
    sh(["git", "commit", "-q", "-m", "Initial tree"], cwd=repo, env=env)
    names = [f"s{i + 1}" for i in range(team)]
    dirs = {}
    for n in names:
        if layout == "worktrees":
            sh(["git", "worktree", "add", "-q", "-b", n, str(w / "wt" / n)], cwd=repo, env=env)
            dirs[n] = w / "wt" / n
        else:
            dirs[n] = repo
    (w / "backlog.json").write_text(json.dumps(tasks, indent=1))
    sh([f"{bin_dir}/pool", "install"], cwd=repo, env=env)
    if arm == "none":
        s = json.loads((w / "config" / "settings.json").read_text())
        for groups in s.get("hooks", {}).values():
            for g in groups:
                for h in g.get("hooks", []):
                    h["command"] = "/bin/true"
        (w / "config" / "settings.json").write_text(json.dumps(s, indent=2))
    return repo, names, dirs, env


def start_policy(sess, name, workdir, w, arm, seed, max_tasks, think):
    port_file = sess / "port"
    cmd = [sys.executable, str(HERE / "policy_server.py"), "--backlog", str(w / "backlog.json"),
           "--instance", name, "--workdir", str(workdir), "--seed", str(seed), "--max-tasks", str(max_tasks),
           "--think-min", str(think[0]), "--think-max", str(think[1]),
           "--port-file", str(port_file), "--log", str(sess / "requests.jsonl"), "--events", str(sess / "events.jsonl")]
    if arm == "auto":
        cmd.append("--no-blocks")
    p = subprocess.Popen(cmd, stderr=open(sess / "policy.stderr", "w"))
    for _ in range(200):
        if port_file.exists() and port_file.read_text().strip():
            return p, f"http://127.0.0.1:{port_file.read_text().strip()}"
        time.sleep(0.05)
    p.kill()
    raise RuntimeError(f"policy server for {name} did not start: {(sess / 'policy.stderr').read_text()}")


def run_session(claude, name, workdir, sess, env, base_url, max_rounds, start_delay, model=None, blocks=True):
    """One session: rounds of `claude -p` (the first with --session-id, then --resume) until the
    model says BACKLOG-DONE or max_rounds. Returns a summary dict."""
    time.sleep(start_delay)
    sid = str(uuid.uuid4())
    env = dict(env, CLAUDE_INSTANCE=name, ANTHROPIC_BASE_URL=base_url)
    rounds = []
    for k in range(1, max_rounds + 1):
        real = REAL_PROMPT if blocks else REAL_PROMPT_AUTO
        prompt = (real if model is not None else PROMPT).format(k=k, name=name)
        args = [claude, "-p", prompt, "--session-id" if k == 1 else "--resume", sid,
                "--allowedTools", "Read", "Edit", "Write", "Bash", "--permission-mode", "acceptEdits",
                "--output-format", "stream-json", "--verbose"]
        if model:  # "" in --real-model mode without --model: Claude Code's default model
            args += ["--model", model]
        t0 = time.time()
        with open(sess / f"round-{k}.jsonl", "w") as out, open(sess / f"round-{k}.stderr", "w") as err:
            try:
                rc = subprocess.run(args, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=err, timeout=240).returncode
            except subprocess.TimeoutExpired:
                rc = "timeout"
        result = ""
        for line in (sess / f"round-{k}.jsonl").read_text(errors="replace").splitlines():
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("type") == "result":
                result = str(e.get("result") or "")
        rounds.append({"round": k, "rc": rc, "seconds": round(time.time() - t0, 2), "result": result[:300]})
        if "BACKLOG-DONE" in result or rc not in (0,):
            break
    return {"instance": name, "session_id": sid, "rounds": rounds}


def union_resolve(path):
    """Keeps both sides of every conflict hunk (what a careful merge of two insertions does)."""
    out, side = [], None
    for ln in path.read_text().splitlines(keepends=True):
        if ln.startswith("<<<<<<< "):
            side = "ours"
        elif ln.startswith("=======") and side:
            side = "theirs"
        elif ln.startswith(">>>>>>> ") and side:
            side = None
        else:
            out.append(ln)
    path.write_text("".join(out))


def merge_worktrees(repo, names, env):
    """Merges each session's branch into main in order; counts conflicted files; resolves by union."""
    merges = []
    for n in names:
        r = sh(["git", "merge", "--no-edit", "-q", n], cwd=repo, env=env, check=False)
        conflicted = []
        if r.returncode != 0:
            conflicted = [f for f in sh(["git", "diff", "--name-only", "--diff-filter=U"], cwd=repo).stdout.split() if f]
            for f in conflicted:
                union_resolve(repo / f)
            sh(["git", "add", "-A"], cwd=repo)
            sh(["git", "commit", "-q", "--no-edit", "-m", f"Merge {n} (union)"], cwd=repo, env=env, check=False)
        merges.append({"branch": n, "conflicted_files": conflicted})
    return merges


def read_jsonl(p):
    out = []
    if p.exists():
        for line in p.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def body_texts(body):
    """(text, where) for every string a model request carries: system blocks, message texts,
    tool results; `where` is "system", "user", "tool" or "assistant"."""
    out = []
    for b in body.get("system") or []:
        if isinstance(b, dict) and b.get("type") == "text":
            out.append((b.get("text") or "", "system"))
    for m in body.get("messages") or []:
        c = m.get("content")
        role = m.get("role")
        if isinstance(c, str):
            out.append((c, role))
            continue
        for b in c or []:
            if not isinstance(b, dict):
                continue
            if b.get("type") == "text":
                out.append((b.get("text") or "", role))
            elif b.get("type") == "tool_result":
                cc = b.get("content")
                for t in ([cc] if isinstance(cc, str) else [x.get("text", "") for x in cc or [] if isinstance(x, dict)]):
                    out.append((t, "tool"))
    return out


HOOK_PREFIX = re.compile(r"(?:^|\n)\w+(?::\w+)? hook (?:success|error): ")
# What Claude Code appends after a hook's output in the same message.
NOT_OURS = ("\n\n# Environment", "\n\nAnother Claude session", "\n\nNote: ", "\n\nThe following deferred")


def pool_segments(body):
    """The pieces of a request our hooks put there: each hook's output that holds a pool marker
    (SessionStart and UserPromptSubmit context, a guard refusal or note), and the wake notice
    (`claude-pool: …`). Claude Code's framing around them is not counted."""
    segs = []
    for t, where in body_texts(body):
        if where == "assistant":
            continue
        starts = [m.end() for m in HOOK_PREFIX.finditer(t)]
        for i, a in enumerate(starts):
            b = len(t)
            nxt = HOOK_PREFIX.search(t, a)
            if nxt:
                b = nxt.start()
            for x in NOT_OURS:
                j = t.find(x, a)
                if 0 <= j < b:
                    b = j
            chunk = t[a:b]
            if any(mk in chunk for mk in POOL_MARKERS):
                segs.append(chunk)
        for m in re.finditer(r"claude-pool: .*?(?=\n\n|$)", t, re.S):
            segs.append(m.group(0))
    return segs


def measure(w, repo, names, layout, sessions, env, bin_dir, n_tasks):
    backlog = json.loads((w / "backlog.json").read_text())["tasks"]
    tasks = {t["id"]: t for t in backlog}
    m = {}
    if layout == "worktrees":
        merges = merge_worktrees(repo, names, env)
        m["merge_conflicts"] = sum(len(x["conflicted_files"]) for x in merges)
        m["merges_with_conflicts"] = sum(1 for x in merges if x["conflicted_files"])
        m["merges"] = merges
    else:
        m["merge_conflicts"] = None
    log = sh(["git", "log", "--all", "--format=%H%x09%s"], cwd=repo).stdout.splitlines()
    by_task = {}
    for line in log:
        mm = re.match(r"^\w+\t(T\d{2}): .*\(by (s\d+)\)$", line)
        if mm:
            by_task.setdefault(mm.group(1), set()).add(mm.group(2))
    m["tasks_total"] = len(tasks)
    m["tasks_done"] = sum(1 for t in tasks if by_task.get(t))
    m["tasks_done_twice"] = sum(1 for t in tasks if len(by_task.get(t, ())) >= 2)
    m["duplicate_commits"] = sum(max(0, len(v) - 1) for v in by_task.values())
    # Lost edits: a committed task whose marker line is missing from a file of the final tree.
    lost = []
    for tid, who in by_task.items():
        for s in who:
            for f in tasks[tid]["files"]:
                p = repo / f
                if f"{tid} ({s})" not in (p.read_text() if p.exists() else ""):
                    lost.append({"task": tid, "by": s, "file": f})
    m["edits_lost"] = len(lost)
    m["lost"] = lost
    # Events: overlapping edits of one file while both tasks are open (first edit to commit).
    events = []
    for n in names:
        events += read_jsonl(w / "sessions" / n / "events.jsonl")
    windows = {}
    for e in events:
        key = (e["who"], e.get("task"))
        if e["ev"] == "edit_ok":
            wdw = windows.setdefault(key, {"start": e["t"], "end": None, "files": set(), "edits": []})
            wdw["files"].add(e["file"])
            wdw["edits"].append((e["t"], e["file"]))
        elif e["ev"] in ("commit_ok", "drop") and key in windows and windows[key]["end"] is None:
            windows[key]["end"] = e["t"]
    end_all = max([e["t"] for e in events] or [0])
    overlaps = set()
    for (x, a), wx in windows.items():
        for (y, b), wy in windows.items():
            if x == y:
                continue
            for t, f in wy["edits"]:
                if f in wx["files"] and wx["start"] <= t <= (wx["end"] or end_all):
                    overlaps.add(tuple(sorted([(x, a), (y, b)])) + (f,))
    # Without the policy's events (--real-model) these are not measured.
    have_events = any((w / "sessions" / n / "events.jsonl").exists() for n in names)
    m["overlapping_edits"] = len(overlaps) if have_events else None
    m["guard_refusals"] = sum(1 for e in events if e["ev"] == "refused") if have_events else None
    m["drops"] = sum(1 for e in events if e["ev"] == "drop")
    m["handoffs"] = sum(1 for e in events if e["ev"] == "handoff")
    m["stale_write_errors"] = sum(1 for e in events if e["ev"] == "stale")
    m["policy_errors"] = [e for e in events if e["ev"] == "policy_error"][:3]
    # Requests: injected characters, and post -> first appearance in another session's request.
    reqs = {n: [r for r in read_jsonl(w / "sessions" / n / "requests.jsonl") if r.get("kind") == "main"] for n in names}
    per_session = {}
    first_body = []
    for n, rs in reqs.items():
        seen, total = set(), 0
        for r in rs:
            for s in pool_segments(r["body"]):
                if s not in seen:
                    seen.add(s)
                    total += len(s)
        per_session[n] = {"chars": total, "requests": len(rs)}
        first_body += [len(json.dumps(r["body"], ensure_ascii=False)) for r in rs[:1]]
    chars = [v["chars"] for v in per_session.values()]
    turns = sum(v["requests"] for v in per_session.values())
    if not turns:  # no request log (--real-model): nothing measured
        chars = []
    m["injected_chars_total"] = sum(chars) if turns else None
    m["injected_chars_per_session"] = round(statistics.mean(chars), 1) if chars else (0 if turns else None)
    m["injected_chars_per_turn"] = round(sum(chars) / turns, 1) if turns else None
    m["injected_tokens_total_est"] = sum(chars) // 4 if turns else None
    m["model_requests"] = turns
    m["first_request_chars_mean"] = round(statistics.mean(first_body), 1) if first_body else 0
    r = sh([f"{bin_dir}/pool-query", "--json", "--all", "--all-repos", "--limit", "100000"], cwd=repo, env=env,
           check=False)
    entries = []
    for line in r.stdout.splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            pass
    m["pool_entries"] = len(entries)
    m["pool_entries_auto"] = sum(1 for e in entries if e.get("origin") == "auto")
    lat, missed = [], 0
    lines_cache = {}
    for n, rs in reqs.items():
        lines_cache[n] = [(r["time"], [ln for t, wh in body_texts(r["body"]) if wh != "assistant"
                                       for ln in t.splitlines() if "[s" in ln]) for r in rs]
    for e in entries:
        topic, inst, t_post = e.get("topic") or "", e.get("source_instance") or e.get("instance"), entry_time(e)
        if e.get("origin") == "auto" and e.get("action") == "signaling":
            continue  # digests: not what another session needs to see to avoid duplicating
        if not topic or t_post is None:
            continue
        for n in names:
            if n == inst:
                continue
            hit = next((t for t, lines in lines_cache[n] if t >= t_post
                        and any(f"[{inst}" in ln and topic[:40] in ln for ln in lines)), None)
            if hit is None:
                missed += 1
            else:
                lat.append(hit - t_post)
    m["duplicates_why"] = why_duplicates(by_task, entries, reqs, events)
    m["delivery_latency_s"] = summary(lat)
    m["deliveries_missed"] = missed
    m["sessions"] = sessions
    return m


def why_duplicates(by_task, entries, reqs, events):
    """For each task done twice: each session that took it after the first taker, and why. Was the
    earlier taker's claim or completion in the pool before this pick, and in the picking request?"""
    out = []
    for tid, who in sorted(by_task.items()):
        if len(who) < 2:
            continue
        picks = []
        for x in who:
            pick = next((r for r in reqs.get(x, []) if f"CLAIM {tid}" in json.dumps(r.get("reply"))), None)
            if pick is not None:
                picks.append((pick["time"], x, pick))
        picks.sort(key=lambda p: p[0])
        for t_pick, x, pick in picks[1:]:
            earlier = [e for e in entries if (e.get("source_instance") in who - {x}) and tid in (e.get("topic") or "")
                       and e.get("action") in ("claimed", "completed") and (entry_time(e) or 1e18) <= t_pick]
            if not earlier:
                why = ("race: nothing of the earlier taker's was in the pool yet (a claim block posts at the end of "
                       "its turn; the auto arm posts only at the commit)")
            else:
                e = max(earlier, key=entry_time)
                lines = [ln for t, w in body_texts(pick["body"]) if w != "assistant" for ln in t.splitlines()
                         if tid in ln]
                shown = any(f"[{e.get('source_instance')}" in ln for ln in lines)
                age = round(t_pick - entry_time(e), 1)
                why = (f"policy: shown ({e['source_instance']} {e['action']} it {age} s before), taken anyway" if shown
                       else f"delivery gap: {e['source_instance']} {e['action']} it {age} s before the pick, "
                            "not in the picking request")
            out.append({"task": tid, "session": x, "first": picks[0][1], "why": why})
    return out


def entry_time(e):
    for k in ("time", "timestamp", "ts", "created"):
        v = e.get(k)
        if isinstance(v, (int, float)):
            return v / 1000 if v > 1e11 else float(v)
        if isinstance(v, str):
            try:
                from datetime import datetime
                return datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
            except ValueError:
                pass
    return None


def summary(xs):
    if not xs:
        return {"n": 0}
    xs = sorted(xs)
    return {"n": len(xs), "median": round(statistics.median(xs), 2), "p90": round(xs[int(0.9 * (len(xs) - 1))], 2),
            "max": round(xs[-1], 2)}


def run_one(args, arm, layout, team, seed, out):
    w = out / "runs" / f"{layout}-{arm}-n{team}-seed{seed}"
    if w.exists():
        shutil.rmtree(w)
    w.mkdir(parents=True)
    repo, names, dirs, env = make_world(w, arm, layout, team, args.tasks, args.bin_dir)
    n_tasks = len(json.loads((w / "backlog.json").read_text())["tasks"])
    max_tasks = -(-n_tasks // team) + 1
    rng = random.Random(f"{seed}:{arm}:{layout}:{team}:start")
    t0 = time.time()
    threads, results, servers = [], {}, []
    for n in names:
        sess = w / "sessions" / n
        sess.mkdir(parents=True)
        if args.real_model:
            base = os.environ.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com"
        else:
            p, base = start_policy(sess, n, dirs[n], w, arm, seed, max_tasks, (args.think_min, args.think_max))
            servers.append(p)
        senv = dict(env)
        if args.real_model:
            senv["ANTHROPIC_API_KEY"] = os.environ.get("ANTHROPIC_API_KEY", "")
            if arm == "auto":
                senv["POOL_REMINDER"] = "0"
        th = threading.Thread(target=lambda n=n, sess=sess, base=base, senv=senv: results.__setitem__(
            n, run_session(args.claude, n, dirs[n], sess, senv, base, 2 * max_tasks + 3,
                           rng.uniform(0, args.stagger), (args.model or "") if args.real_model else None,
                           arm != "auto")))
        th.start()
        threads.append(th)
    for th in threads:
        th.join()
    for p in servers:
        p.terminate()
        p.wait()
    wall = time.time() - t0
    m = measure(w, repo, names, layout, [results[n] for n in names], env, args.bin_dir, n_tasks)
    m.update({"arm": arm, "layout": layout, "team": team, "seed": seed, "wall_s": round(wall, 1),
              "max_tasks_per_session": max_tasks})
    (w / "metrics.json").write_text(json.dumps(m, indent=1, default=list))
    print(f"{layout:9} {arm:4} n={team:<2} seed={seed}: done {m['tasks_done']}/{m['tasks_total']}, "
          f"twice {m['tasks_done_twice']}, lost {m['edits_lost']}, overlaps {m['overlapping_edits']}, "
          f"conflicts {m['merge_conflicts']}, injected {m['injected_chars_per_turn']} ch/turn, "
          f"latency {m['delivery_latency_s'].get('median')} s, {wall:.0f} s", flush=True)
    return m


KEYS = ["tasks_done", "tasks_done_twice", "duplicate_commits", "edits_lost", "overlapping_edits", "merge_conflicts",
        "guard_refusals", "injected_chars_per_session", "injected_chars_per_turn", "injected_chars_total",
        "injected_tokens_total_est", "first_request_chars_mean", "wall_s"]


def aggregate(runs):
    groups = {}
    for r in runs:
        groups.setdefault((r["layout"], r["arm"], r["team"]), []).append(r)
    out = []
    for (layout, arm, team), rs in sorted(groups.items()):
        g = {"layout": layout, "arm": arm, "team": team, "seeds": [r["seed"] for r in rs]}
        for k in KEYS:
            xs = [r[k] for r in rs if r.get(k) is not None]
            if xs:
                g[k] = {"mean": round(statistics.mean(xs), 2), "min": min(xs), "max": max(xs)}
        lat = [r["delivery_latency_s"].get("median") for r in rs if r["delivery_latency_s"].get("n")]
        g["delivery_latency_median_s"] = {"mean": round(statistics.mean(lat), 2), "min": min(lat), "max": max(lat)} if lat else None
        out.append(g)
    return out


def table(summary):
    """The Markdown table docs/outcome.md shows: mean (min-max over seeds) per arm, layout, team."""
    def n(x):
        return f"{round(x):,}" if abs(x) >= 100 else f"{round(x, 1):g}"

    def f(g, k):
        v = g.get(k)
        if not isinstance(v, dict):
            return "–"
        if v["min"] == v["max"]:
            return n(v["mean"])
        return f"{n(v['mean'])} ({n(v['min'])}–{n(v['max'])})"
    head = ("| layout | sessions | arm | tasks done | done twice | edits lost | overlapping edits | merge conflicts "
            "| guard refusals | post → seen (median s) | pool chars per session | per turn | ≈ tokens total |")
    head = head.replace("| done twice |", "| done twice | extra commits |")
    rows = [head, "|" + " --- |" * 14]
    order = {a: i for i, a in enumerate(ARMS)}
    for g in sorted(summary, key=lambda g: (g["layout"], g["team"], order.get(g["arm"], 9))):
        lat = g.get("delivery_latency_median_s")
        rows.append(f"| {g['layout']} | {g['team']} | {g['arm']} | {f(g, 'tasks_done')} | {f(g, 'tasks_done_twice')} | {f(g, 'duplicate_commits')} "
                    f"| {f(g, 'edits_lost')} | {f(g, 'overlapping_edits')} | {f(g, 'merge_conflicts')} "
                    f"| {f(g, 'guard_refusals')} | {n(lat['mean']) if lat else '–'} "
                    f"| {f(g, 'injected_chars_per_session')} | {f(g, 'injected_chars_per_turn')} "
                    f"| {f(g, 'injected_tokens_total_est')} |")
    return "\n".join(rows) + "\n"


def main():
    ap = argparse.ArgumentParser(description="claude-pool outcome benchmark (see docs/outcome.md)")
    ap.add_argument("--claude", help="the Claude Code binary")
    ap.add_argument("--bin-dir", help="the folder holding pool and its hook binaries")
    ap.add_argument("--out", default=str(HERE))
    ap.add_argument("--work", default=None, help="where the runs go (default: a temp folder)")
    ap.add_argument("--teams", default="2,4")
    ap.add_argument("--seeds", default="1")
    ap.add_argument("--arms", default=",".join(ARMS))
    ap.add_argument("--layouts", default="worktrees,shared")
    ap.add_argument("--tasks", type=int, default=None, help="use the first N tasks of the backlog")
    ap.add_argument("--think-min", type=float, default=0.05)
    ap.add_argument("--think-max", type=float, default=0.6)
    ap.add_argument("--stagger", type=float, default=1.5, help="start spread (seconds)")
    ap.add_argument("--real-model", action="store_true", help="use ANTHROPIC_BASE_URL and a real model")
    ap.add_argument("--model", default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--combine", nargs="+", metavar="RESULTS_JSON",
                    help="only merge the runs of these results files into --out (no session runs)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.combine:
        parts = [json.loads(Path(p).read_text()) for p in args.combine]
        runs = [r for p in parts for r in p["runs"]]
        res = dict(parts[0], summary=aggregate(runs), runs=runs, combined_from=len(parts),
                   seconds=sum(p.get("seconds", 0) for p in parts),
                   layouts=",".join(sorted({r["layout"] for r in runs})),
                   teams=",".join(str(t) for t in sorted({r["team"] for r in runs})))
        (out / "results.json").write_text(json.dumps(res, indent=1, default=list) + "\n")
        (out / "outcome.svg").write_text(svg.plot(res["summary"]))
        print(table(res["summary"]))
        print(f"wrote {out / 'results.json'} from {len(runs)} runs")
        return
    if not args.claude or not args.bin_dir:
        ap.error("--claude and --bin-dir are needed (bench/outcome/run passes them)")
    import tempfile
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="pool-outcome."))
    work.mkdir(parents=True, exist_ok=True)
    runs = []
    t0 = time.time()
    for layout in args.layouts.split(","):
        for team in [int(x) for x in args.teams.split(",")]:
            for seed in args.seeds.split(","):
                for arm in args.arms.split(","):
                    runs.append(run_one(args, arm, layout, team, seed, work))
    version = sh([args.claude, "--version"], check=False).stdout.strip()
    commit = sh(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, check=False).stdout.strip()
    res = {"claude_code": version, "commit": commit, "real_model": args.real_model, "model": args.model,
           "teams": args.teams, "seeds": args.seeds, "layouts": args.layouts, "seconds": round(time.time() - t0),
           "caveat": "The scripted policy is an idealised agent that always acts on what it is shown: these "
                     "figures measure what the pool delivers, when and at what context cost, not how a model behaves.",
           "summary": aggregate(runs), "runs": runs}
    name = "results-real.json" if args.real_model else "results.json"
    (out / name).write_text(json.dumps(res, indent=1, default=list) + "\n")
    if not args.real_model:
        (out / "outcome.svg").write_text(svg.plot(res["summary"]))
    print(table(res["summary"]))
    print(f"wrote {out / name} ({res['seconds']} s); runs under {work}")
    problems = checks(runs, args.real_model)
    for p in problems:
        print(f"FAIL {p}")
    if not args.keep and not args.work and not problems:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if problems else 0)


def checks(runs, real_model):
    """What makes a run of the benchmark itself invalid."""
    out = []
    for r in runs:
        tag = f"{r['layout']} {r['arm']} n={r['team']} seed={r['seed']}"
        bad = [f"{s['instance']} round {x['round']}: rc {x['rc']}" for s in r["sessions"] for x in s["rounds"]
               if x["rc"] != 0]
        if bad:
            out.append(f"{tag}: claude failed: {'; '.join(bad[:3])}")
        if r.get("policy_errors"):
            out.append(f"{tag}: policy errors: {r['policy_errors'][:1]}")
    if not real_model:
        for r in runs:
            if r["arm"] == "none" and r["team"] >= 4 and r["tasks_done_twice"] == 0:
                out.append(f"control: no-coordination arm, {r['team']} sessions ({r['layout']}, seed {r['seed']}) "
                           "shows no task done twice: the scene is too easy")
    return out


if __name__ == "__main__":
    main()
