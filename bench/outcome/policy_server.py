#!/usr/bin/env python3
"""A policy model server for the outcome benchmark: an idealised agent that decides each turn only
from the request body Claude Code sends it.

Python 3 standard library only. It speaks the Anthropic Messages API exactly as
tests/e2e/mock_model.py does (that module's stream encoding is imported, not copied); what differs
is where a turn comes from. mock_model.py replays a fixed script; this server reads the body it
receives (the pool context Claude Code put in system/user messages, the results of its own tool
calls, a guard refusal) and answers with the next step of one fixed policy:

* Round start (the last user prompt holds "Backlog round"): if its own conversation shows a task it
  claimed and has not finished, it works on it, unless what it sees now shows another instance
  completed it or claimed it too (then the higher instance name gives it up: "DROP"). Otherwise it
  picks a task: one handed to it ("please take Txx"), else the first ready task of the backlog not
  seen as claimed or completed by another instance and not done by itself (dependencies first,
  with a seeded chance of taking the second or third), and claims it: one text turn with
  "CLAIM Txx" and a pool block (ACTION: claimed, AFFECTS: the task's files), which the Stop hook
  posts at the end of the turn. With --no-blocks it writes the same text without the block. When
  nothing is left, or it has finished --max-tasks tasks, it says "BACKLOG-DONE".
* Work round: Read each file of the task, then Edit it (insert the task's marker line after the
  task's anchor) or, for "write" tasks, Write it whole from what it read; then
  `git add FILES && git commit -m "Txx: title (by NAME)"`; then a text turn with "DONE Txx" and a
  completed block, plus a handoff block (TO: another instance it has seen) naming a task that
  depended on this one and is not seen taken.
* A guard refusal ("Pool: edit not applied" or a refused commit) naming this task as claimed by
  another instance: drop the task (a released block) and end the turn. Any other refusal: wait a
  turn (Bash `sleep`), then make the same call again, as the refusal itself says to do when the
  change is intended. Claude Code's own "modified since read" error: Read again, then redo.

"Seen" means: a line of text in the request that names a task id, outside this server's own
assistant turns and outside file contents it read. Lines carrying another instance's name
(`[s2]`, `s2 claimed`, `(by s2)`) count for that instance. The same code runs in every arm; only
--no-blocks (the automatic-entries arm) changes what it writes.

Events (--events, JSON Lines): what it decided and when, for the benchmark's metrics: pick, claim,
drop, refused, edit_ok (the tool result of an edit, seen in the next request), commit_ok, done.
Side requests (tool-less) get a fixed short reply. Timing: a seeded think delay per main reply.
"""

import argparse
import json
import os
import random
import re
import signal
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "e2e"))
import mock_model  # noqa: E402  (the e2e scripted server: its SSE encoding)
import mock_server  # noqa: E402

ROUND_MARK = "Backlog round"
TASK_RE = re.compile(r"\bT(\d{2})\b")
STALE_MARKS = ("modified since read", "has not been read yet", "Read it first")


def texts(content):
    """Every text string of a message content (a string, or blocks; tool_result contents too)."""
    if isinstance(content, str):
        return [content]
    out = []
    for b in content or []:
        if not isinstance(b, dict):
            continue
        if b.get("type") == "text":
            out.append(b.get("text") or "")
        elif b.get("type") == "tool_result":
            out.extend(texts(b.get("content")))
    return out


class Policy:
    def __init__(self, args):
        self.me = args.instance
        self.blocks = not args.no_blocks
        self.max_tasks = args.max_tasks
        self.workdir = args.workdir.rstrip("/")
        backlog = json.loads(Path(args.backlog).read_text())
        self.tasks = {t["id"]: t for t in backlog["tasks"]}
        self.order = [t["id"] for t in backlog["tasks"]]
        self.rng = random.Random(f"{args.seed}:{self.me}")
        self.think = (args.think_min, args.think_max)
        self.lock = threading.Lock()
        self.events = open(args.events, "a", encoding="utf-8") if args.events else None

    def event(self, kind, **kw):
        if self.events:
            with self.lock:
                self.events.write(json.dumps({"t": time.time(), "who": self.me, "ev": kind, **kw}) + "\n")
                self.events.flush()

    # --- reading the body -----------------------------------------------------------------
    def read_body(self, body):
        """(visible lines, own assistant texts, round pairs): what others' text shows, what this
        agent said before, and the (tool_use, tool_result) pairs since the round's prompt."""
        msgs = body.get("messages") or []
        start = 0
        for i, m in enumerate(msgs):
            # A round starts at a prompt: ours ("Backlog round"), or a message Claude Code queued
            # as a new user turn (a wake from another session). Tool results do not start one.
            c = m.get("content")
            blocks = [{"type": "text", "text": c}] if isinstance(c, str) else c or []
            if m.get("role") == "user" and any(
                    isinstance(b, dict) and b.get("type") == "text"
                    and not (b.get("text") or "").startswith("<system-reminder>") for b in blocks):
                start = i
        read_ids = set()
        uses = {}
        own = []
        visible = []
        for blk in body.get("system") or []:
            if isinstance(blk, dict) and blk.get("type") == "text":
                visible.append(blk.get("text") or "")
        for m in msgs:
            c = m.get("content")
            if m.get("role") == "assistant":
                own.extend(texts(c))
                for b in c if isinstance(c, list) else []:
                    if isinstance(b, dict) and b.get("type") == "tool_use":
                        uses[b.get("id")] = b
                        if b.get("name") == "Read":
                            read_ids.add(b.get("id"))
                continue
            if isinstance(c, list):
                for b in c:
                    if not isinstance(b, dict):
                        continue
                    if b.get("type") == "tool_result" and b.get("tool_use_id") in read_ids:
                        continue  # file contents are not what others report
                    visible.extend(texts([b]))
            else:
                visible.extend(texts(c))
        pairs = []
        for m in msgs[start + 1:]:
            c = m.get("content")
            if m.get("role") != "user" or not isinstance(c, list):
                continue
            for b in c:
                if isinstance(b, dict) and b.get("type") == "tool_result":
                    use = uses.get(b.get("tool_use_id"))
                    if use:
                        res = "\n".join(texts(b.get("content")))
                        pairs.append((use, res, bool(b.get("is_error"))))
        lines = [ln for t in visible for ln in t.splitlines() if TASK_RE.search(ln) or "please take" in ln]
        return lines, own, pairs

    def others_state(self, lines):
        """{task: set of (instance, kind)} for other instances; handoffs to me; instances seen."""
        seen, handed, names = {}, [], set()
        for ln in lines:
            who = re.findall(r"\[(s\d+)|\b(s\d+) (?:claimed|edited|completed)|\(by (s\d+)\)", ln)
            insts = {a or b or c for a, b, c in who}
            names |= insts
            m = re.search(r"please take (T\d{2})", ln)
            if m and f"for {self.me}" in ln:
                ack = re.search(r"pool ack ([0-9a-f-]{8,})", ln)
                handed.append((m.group(1), ack.group(1) if ack else None))
                continue
            if m:
                continue
            others = insts - {self.me}
            if not others:
                continue
            low = ln.lower()
            kind = "released" if "released" in low else "claimed" if "claimed" in low else "completed"
            for tid in {"T" + d for d in TASK_RE.findall(ln)}:
                for o in others:
                    seen.setdefault(tid, set()).add((o, kind))
        return seen, handed, names - {self.me}

    @staticmethod
    def taken(kinds):
        ks = {k for _, k in kinds}
        return "completed" in ks or ("claimed" in ks and "released" not in ks)

    # --- deciding -----------------------------------------------------------------------------
    def decide(self, body):
        lines, own, pairs = self.read_body(body)
        seen, handed, names = self.others_state(lines)
        own_text = "\n".join(own)
        claimed = re.findall(r"^CLAIM (T\d{2})", own_text, re.M)
        closed = set(re.findall(r"^(?:DONE|DROP) (T\d{2})", own_text, re.M))
        done = set(re.findall(r"^DONE (T\d{2})", own_text, re.M))
        current = next((t for t in reversed(claimed) if t not in closed), None)
        if not pairs and current is None:
            return self.pick(seen, handed, done, closed)
        if current is None:
            return self.text("Nothing in progress.")
        if not pairs:
            kinds = seen.get(current, set())
            if any(k == "completed" for _, k in kinds):
                return self.drop(current, "another instance completed it")
            if any(k == "claimed" and o < self.me for o, k in kinds):
                return self.drop(current, "another instance claimed it")
        return self.work(current, pairs, seen, names)

    def pick(self, seen, handed, done, closed):
        if len(done) >= self.max_tasks:
            return self.text("BACKLOG-DONE (task budget reached)")
        free = [t for t in self.order if t not in closed and not self.taken(seen.get(t, set()))]
        if not free:
            return self.text("BACKLOG-DONE (nothing left that I can see)")
        choice, ref = next(((t, r) for t, r in handed if t in free), (None, None))
        if choice is None:
            ready = [t for t in free
                     if all(d in done or any(k == "completed" for _, k in seen.get(d, set()))
                            for d in self.tasks[t].get("deps", []))]
            pool = ready or free
            r = self.rng.random()
            idx = 0 if r < 0.6 or len(pool) == 1 else (1 if r < 0.85 or len(pool) == 2 else 2)
            choice = pool[idx]
        t = self.tasks[choice]
        self.event("pick", task=choice, handed=ref is not None)
        text = f"CLAIM {choice}\nI am taking {choice}: {t['title']}."
        if self.blocks:
            text += ("\n\n```pool\nACTION: claimed\nTOPIC: " + f"{choice}: {t['title']}\n"
                     f"SUMMARY: {self.me} works on {choice}\nAFFECTS: {', '.join(t['files'])}\n"
                     + (f"REF: {ref}\n" if ref else "") + "```")
            self.event("claim", task=choice)
        return self.text(text)

    def drop(self, tid, why):
        t = self.tasks[tid]
        self.event("drop", task=tid, why=why)
        text = f"DROP {tid}\nLeaving {tid} ({why})."
        if self.blocks:
            text += f"\n\n```pool\nACTION: released\nTOPIC: {tid}: {t['title']}\nSUMMARY: {why}\n```"
        return self.text(text)

    def marker(self, tid, path):
        t = self.tasks[tid]
        c = "//" if path.endswith((".js", ".ts", ".rs", ".go")) else "#"
        return f"{c} {tid} ({self.me}): {t['title']}"

    def abspath(self, rel):
        return f"{self.workdir}/{rel}"

    def work(self, tid, pairs, seen, names):
        """Replays this round's tool calls and returns the next one."""
        t = self.tasks[tid]
        files = t["files"]
        read_content, edited, refusals = {}, set(), {}
        commit_tries = 0
        for use, res, is_err in pairs:
            name, inp = use.get("name"), use.get("input") or {}
            rel = (inp.get("file_path") or "")[len(self.workdir) + 1:]
            if name == "Read" and not is_err:
                read_content[rel] = [m.group(1) for m in
                                     (re.match(r"^\s*\d+[\t\u2192](.*)$", ln) for ln in res.splitlines())
                                     if m]
            elif name in ("Edit", "Write") and not is_err:
                edited.add(rel)
            elif name == "Bash" and "git commit" in inp.get("command", ""):
                commit_tries += 1
            if is_err and "Pool:" in res:
                key = f"{name}:{rel or inp.get('command')}"
                refusals[key] = refusals.get(key, 0) + 1
        if pairs:
            use, res, is_err = pairs[-1]
            name, inp = use.get("name"), use.get("input") or {}
            rel = (inp.get("file_path") or "")[len(self.workdir) + 1:]
            cmd = inp.get("command", "")
            if is_err and "Pool:" in res:
                key = f"{name}:{rel or cmd}"
                mine = self.claimed_by_other(tid, res)
                self.event("refused", task=tid, tool=name, key=key[:200], own_task_claimed=mine)
                if mine:
                    return self.drop(tid, "the guard shows another instance claimed it")
                if refusals[key] > 2:
                    return self.drop(tid, "refused again and again")
                # Wait a turn, then make the same call again (the refusal says a retry goes through).
                return self.tool("Bash", {"command": f"sleep {self.rng.choice([1, 2, 3])}",
                                          "description": "wait a turn: " + key[:80]})
            if name in ("Edit", "Write") and not is_err:
                self.event("edit_ok", task=tid, file=rel, tool=name)
            elif name in ("Edit", "Write") and is_err:
                self.event("edit_error", task=tid, file=rel, error=res[:200])
                if any(m in res for m in STALE_MARKS):
                    return self.tool("Read", {"file_path": self.abspath(rel)})
                edited.add(rel)  # an edit that cannot apply (anchor gone): move on
            elif name == "Bash" and cmd.startswith("sleep") and "git commit" not in cmd and len(pairs) >= 2:
                prev = pairs[-2][0]
                return self.tool(prev.get("name"), dict(prev.get("input") or {}))
            elif name == "Bash" and "git commit" in cmd:
                if not is_err or "nothing to commit" in res:
                    self.event("commit_ok", task=tid, out=res[:200])
                    return self.finish(tid, seen, names)
                if commit_tries < 4:
                    return self.tool("Bash", {"command": cmd if cmd.startswith("sleep") else f"sleep 1 && {cmd}",
                                              "description": "retry the commit"})
                return self.drop(tid, "the commit kept failing")
        for rel in files:
            if rel in edited:
                continue
            if rel not in read_content:
                return self.tool("Read", {"file_path": self.abspath(rel)})
            return self.edit(tid, rel, read_content[rel])
        if commit_tries == 0:
            msg = f"{tid}: {t['title']} (by {self.me})"
            return self.tool("Bash", {"command": f"git add {' '.join(files)} && git commit -m '{msg}'",
                                      "description": "commit the task"})
        return self.finish(tid, seen, names)

    def claimed_by_other(self, tid, res):
        """Whether a refusal shows this task claimed by another instance that keeps it: the same tie
        break as at a round's start (of two claimers, the lower instance name keeps the task)."""
        claimers = {w for w, t in re.findall(r"\b(s\d+) claimed [^\"]*\"(T\d{2})", res) if t == tid}
        return any(w != self.me and w < self.me for w in claimers)

    def edit(self, tid, rel, lines):
        t = self.tasks[tid]
        anchor = t["anchors"][rel]
        mark = self.marker(tid, rel)
        if t.get("mode") == "write":
            out = []
            for ln in lines:
                out.append(ln)
                if ln == anchor:
                    out.append(mark)
            if anchor not in lines:
                out.append(mark)
            return self.tool("Write", {"file_path": self.abspath(rel), "content": "\n".join(out) + "\n"})
        return self.tool("Edit", {"file_path": self.abspath(rel), "old_string": anchor,
                                  "new_string": f"{anchor}\n{mark}"})

    def finish(self, tid, seen, names):
        t = self.tasks[tid]
        self.event("done", task=tid)
        text = f"DONE {tid}\nFinished {tid}: {t['title']}."
        if self.blocks:
            text += (f"\n\n```pool\nACTION: completed\nTOPIC: {tid}: {t['title']}\n"
                     f"SUMMARY: committed by {self.me}\nAFFECTS: {', '.join(t['files'])}\n```")
            waiting = [d for d, dt in self.tasks.items() if tid in dt.get("deps", [])
                       and not self.taken(seen.get(d, set()))]
            peers = sorted(names)
            if waiting and peers:
                to = self.rng.choice(peers)
                text += (f"\n\n```pool\nACTION: signaling\nTOPIC: please take {waiting[0]} for {to}\n"
                         f"SUMMARY: {tid} is done, {waiting[0]} can start\nTO: {to}\n```")
                self.event("handoff", task=waiting[0], to=to)
        return self.text(text)

    # --- replies --------------------------------------------------------------------------------
    def text(self, s):
        return [{"type": "text", "text": s}]

    def tool(self, name, inp):
        return [{"type": "tool_use", "name": name, "input": inp}]

    def delay(self):
        time.sleep(self.rng.uniform(*self.think))


def make_handler(state, policy):
    base = mock_model.make_handler(state)

    class Handler(base):
        server_version = "policy-model/1"

        def do_POST(self):
            path = urlsplit(self.path).path.rstrip("/")
            if path != "/v1/messages":
                return base.do_POST(self)
            body = self._read_body()
            if not isinstance(body, dict):
                return self._send_json({})
            model = body.get("model") or mock_model.MODEL_FALLBACK
            if body.get("tools"):
                kind = "main"
                try:
                    turn = policy.decide(body)
                except Exception as e:  # a policy bug must show, not hang the session
                    policy.event("policy_error", error=repr(e))
                    turn = policy.text(f"BACKLOG-DONE (policy error: {e!r})")
                policy.delay()
            else:
                kind, turn = "side", [{"type": "text", "text": state.side_reply}]
            blocks, stop = mock_model.normalise_turn(state, turn)
            state.log({"method": "POST", "path": self.path, "kind": kind, "turn": None,
                       "headers": self._headers_for_log(), "body": body, "reply": blocks})
            msg_id = state.new_id("msg")
            in_tokens = mock_model.estimate_tokens(body)
            if not body.get("stream"):
                return self._send_json({
                    "id": msg_id, "type": "message", "role": "assistant", "model": model,
                    "content": blocks, "stop_reason": stop, "stop_sequence": None,
                    "usage": mock_model.usage(in_tokens, mock_model.output_tokens(blocks))})
            self._send_sse(mock_model.sse_events(msg_id, model, blocks, stop, in_tokens))

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backlog", required=True)
    ap.add_argument("--instance", required=True)
    ap.add_argument("--workdir", required=True, help="the session's tree (absolute)")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--no-blocks", action="store_true", help="the automatic-entries arm")
    ap.add_argument("--max-tasks", type=int, default=99)
    ap.add_argument("--think-min", type=float, default=0.05)
    ap.add_argument("--think-max", type=float, default=0.6)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", help="JSON Lines request log")
    ap.add_argument("--events", help="JSON Lines decision log")
    args = ap.parse_args()
    state = mock_server.State({"turns": [], "side_reply": "Backlog work"}, args.log)
    policy = Policy(args)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state, policy))
    server.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.replace(tmp, args.port_file)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    signal.signal(signal.SIGINT, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
