#!/usr/bin/env python3
"""A scripted stand-in for the Anthropic Messages API, for driving the real Claude Code offline.

Python 3 standard library only. Listens on 127.0.0.1 on a port the OS picks and writes that port
to --port-file (atomically) once it accepts connections. Runs until killed (SIGTERM/SIGINT).

Script file (JSON). Either a bare list of turns, or an object:

    {
      "turns": [                      # one entry per MAIN request, in order
        [ {"type": "thinking", "thinking": "..."},
          {"type": "text", "text": "..."},
          {"type": "tool_use", "name": "Bash", "input": {"command": "echo hi"}} ],
        {"content": [ {"type": "text", "text": "..."} ], "stop_reason": "end_turn"},
        ...
      ],
      "side_reply": "text for side requests",   # optional
      "exhausted_reply": "text once the turns run out",  # optional
      "threads": {"MARKER": [turns...]}  # optional, see below
    }

Threads. A main request whose FIRST user message contains the text MARKER takes its turn from
threads[MARKER] instead of "turns" (first matching marker in the object's order). A subagent's
conversation starts with the prompt its parent gave it, so a marker in that prompt gives the
subagent its own script, whatever the order in which it and its parent's requests arrive.

A turn is a list of content blocks (or an object with "content" and optional "stop_reason").
Block types: "text", "thinking" (a fake signature is added), "redacted_thinking", "tool_use"
("id" is generated when absent). stop_reason defaults to "tool_use" when the turn has a tool_use
block, else "end_turn". Every message id and tool_use id carries a random per-process run prefix
plus a counter, so ids are unique across processes and turns, like the real API's.

Main vs side requests. Claude Code sends, besides the conversation itself, small side requests
to the same endpoint (session-title generation, quota probes, topic detection...). Only MAIN
requests consume a scripted turn. A POST /v1/messages is MAIN when its body has a non-empty
"tools" list: the agent loop always sends its tool definitions (even with --allowedTools, the
full catalogue is sent and permissions are checked client side), while the side requests
Claude Code 2.1.x makes are tool-less single-purpose prompts. Everything else is SIDE and gets
`side_reply` (streamed or not, matching the request's "stream" flag), and does not advance the
script. The classification is written to the log as "kind" so a test can assert on it.

Other endpoints:
  POST /v1/messages/count_tokens  -> {"input_tokens": <rough estimate>}
  GET  /v1/models[/<id>]          -> a one-model list / that model
  HEAD or GET on any other path   -> 200 with an empty JSON object (health probes)
  any other POST                  -> 200 {} (logged as kind "other", so it shows up in review)

Log (--log, JSON Lines): one object per request with seq, time, method, path, kind
("main" | "side" | "count_tokens" | "models" | "other"), turn (index for main requests, else
null), the request headers that matter for debugging (no secrets: x-api-key/authorization are
dropped) and "body" (the parsed JSON body, or the raw text when not JSON).
"""

import argparse
import json
import os
import secrets
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

MODEL_FALLBACK = "claude-sonnet-4-5"
# Delay between SSE events (seconds). Small, but non-zero so the client sees a real stream.
EVENT_GAP = 0.002
KEPT_HEADERS = ("anthropic-version", "anthropic-beta", "user-agent", "x-app", "content-type")


class State:
    def __init__(self, script, log_path):
        self.lock = threading.Lock()
        self.turns = script["turns"]
        self.threads = {k: list(v) for k, v in (script.get("threads") or {}).items()}
        self.thread_next = {k: 0 for k in self.threads}
        self.side_reply = script.get("side_reply", "OK")
        self.exhausted_reply = script.get("exhausted_reply", "(mock: script exhausted)")
        self.next_turn = 0
        self.seq = 0
        self.counter = 0
        self.run = secrets.token_hex(4)
        self.log_file = open(log_path, "a", encoding="utf-8") if log_path else None

    def new_id(self, prefix):
        with self.lock:
            self.counter += 1
            return f"{prefix}_mock{self.run}{self.counter:04d}"

    def take_turn(self, thread=None):
        """Returns (index, turn) of the next turn of `thread` (None: the main "turns" list)."""
        with self.lock:
            if thread is None:
                turns, idx = self.turns, self.next_turn
                self.next_turn += 1
            else:
                turns, idx = self.threads[thread], self.thread_next[thread]
                self.thread_next[thread] += 1
        if idx < len(turns):
            return idx, turns[idx]
        return idx, [{"type": "text", "text": self.exhausted_reply}]

    def thread_of(self, body):
        """The thread whose marker is in the request's first user message, or None."""
        if not self.threads:
            return None
        first = next((m for m in body.get("messages") or [] if m.get("role") == "user"), None)
        if first is None:
            return None
        content = first.get("content")
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        return next((k for k in self.threads if k in text), None)

    def log(self, entry):
        if not self.log_file:
            return
        with self.lock:
            self.seq += 1
            entry = {"seq": self.seq, "time": time.time(), **entry}
            self.log_file.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self.log_file.flush()


def normalise_turn(state, turn):
    """Returns (blocks, stop_reason) with ids filled in."""
    if isinstance(turn, dict):
        blocks = turn.get("content", [])
        stop = turn.get("stop_reason")
    else:
        blocks, stop = turn, None
    out = []
    for b in blocks:
        b = dict(b)
        if b["type"] == "tool_use":
            b.setdefault("id", state.new_id("toolu"))
            b.setdefault("input", {})
        elif b["type"] == "thinking":
            b.setdefault("signature", "mock-signature-" + secrets.token_hex(8))
        elif b["type"] == "redacted_thinking":
            b.setdefault("data", "mock-redacted")
        elif b["type"] != "text":
            raise ValueError(f"unsupported block type in script: {b['type']}")
        out.append(b)
    if stop is None:
        stop = "tool_use" if any(b["type"] == "tool_use" for b in out) else "end_turn"
    return out, stop


def estimate_tokens(body):
    try:
        return max(1, len(json.dumps(body)) // 4)
    except (TypeError, ValueError):
        return 1


def usage(input_tokens, output_tokens):
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "service_tier": "standard",
    }


def output_tokens(blocks):
    return max(1, sum(len(json.dumps(b)) for b in blocks) // 4)


def sse_events(msg_id, model, blocks, stop, in_tokens):
    """Yields (event_name, data) pairs for a streamed message."""
    yield "message_start", {
        "type": "message_start",
        "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": usage(in_tokens, 1),
        },
    }
    for i, b in enumerate(blocks):
        t = b["type"]
        if t == "text":
            yield "content_block_start", {"type": "content_block_start", "index": i,
                                          "content_block": {"type": "text", "text": ""}}
            for piece in chunks(b["text"]):
                yield "content_block_delta", {"type": "content_block_delta", "index": i,
                                              "delta": {"type": "text_delta", "text": piece}}
        elif t == "thinking":
            yield "content_block_start", {"type": "content_block_start", "index": i,
                                          "content_block": {"type": "thinking", "thinking": "",
                                                            "signature": ""}}
            for piece in chunks(b["thinking"]):
                yield "content_block_delta", {"type": "content_block_delta", "index": i,
                                              "delta": {"type": "thinking_delta", "thinking": piece}}
            yield "content_block_delta", {"type": "content_block_delta", "index": i,
                                          "delta": {"type": "signature_delta",
                                                    "signature": b["signature"]}}
        elif t == "redacted_thinking":
            yield "content_block_start", {"type": "content_block_start", "index": i,
                                          "content_block": {"type": "redacted_thinking",
                                                            "data": b["data"]}}
        elif t == "tool_use":
            yield "content_block_start", {"type": "content_block_start", "index": i,
                                          "content_block": {"type": "tool_use", "id": b["id"],
                                                            "name": b["name"], "input": {}}}
            for piece in chunks(json.dumps(b["input"])):
                yield "content_block_delta", {"type": "content_block_delta", "index": i,
                                              "delta": {"type": "input_json_delta",
                                                        "partial_json": piece}}
        yield "content_block_stop", {"type": "content_block_stop", "index": i}
    yield "message_delta", {"type": "message_delta",
                            "delta": {"stop_reason": stop, "stop_sequence": None},
                            "usage": {"output_tokens": output_tokens(blocks)}}
    yield "message_stop", {"type": "message_stop"}


def chunks(s, size=40):
    # Several deltas per block, split at arbitrary points (also inside a ``` fence), as a real
    # stream would.
    if not s:
        return [""]
    return [s[i:i + size] for i in range(0, len(s), size)]


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "mock-model/1"

        def log_message(self, fmt, *args):  # keep stderr quiet; the JSONL log is the record
            pass

        def _headers_for_log(self):
            return {k: v for k, v in self.headers.items() if k.lower() in KEPT_HEADERS}

        def _read_body(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            try:
                return json.loads(raw) if raw else None
            except ValueError:
                return raw.decode("utf-8", "replace")

        def _send_json(self, obj, status=200, extra_headers=None):
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("request-id", state.new_id("req"))
            for k, v in (extra_headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def do_HEAD(self):
            state.log({"method": "HEAD", "path": self.path, "kind": "other", "turn": None,
                       "headers": self._headers_for_log(), "body": None})
            self._send_json({})

        def do_GET(self):
            path = urlsplit(self.path).path
            if path.rstrip("/").startswith("/v1/models"):
                kind = "models"
                model = {"type": "model", "id": MODEL_FALLBACK, "display_name": "Mock model",
                         "created_at": "2025-01-01T00:00:00Z"}
                rest = path.rstrip("/")[len("/v1/models"):].lstrip("/")
                if rest:
                    reply = dict(model, id=rest)
                else:
                    reply = {"data": [model], "has_more": False, "first_id": model["id"],
                             "last_id": model["id"]}
            else:
                kind, reply = "other", {}
            state.log({"method": "GET", "path": self.path, "kind": kind, "turn": None,
                       "headers": self._headers_for_log(), "body": None})
            self._send_json(reply)

        def do_POST(self):
            path = urlsplit(self.path).path.rstrip("/")
            body = self._read_body()
            headers = self._headers_for_log()
            if path == "/v1/messages/count_tokens":
                state.log({"method": "POST", "path": self.path, "kind": "count_tokens",
                           "turn": None, "headers": headers, "body": body})
                return self._send_json({"input_tokens": estimate_tokens(body)})
            if path != "/v1/messages" or not isinstance(body, dict):
                state.log({"method": "POST", "path": self.path, "kind": "other", "turn": None,
                           "headers": headers, "body": body})
                return self._send_json({})

            model = body.get("model") or MODEL_FALLBACK
            stream = bool(body.get("stream"))
            thread = None
            if body.get("tools"):
                kind = "main"
                thread = state.thread_of(body)
                turn_idx, turn = state.take_turn(thread)
                blocks, stop = normalise_turn(state, turn)
            else:
                kind, turn_idx = "side", None
                blocks, stop = [{"type": "text", "text": state.side_reply}], "end_turn"
            state.log({"method": "POST", "path": self.path, "kind": kind, "turn": turn_idx,
                       "thread": thread, "headers": headers, "body": body})
            msg_id = state.new_id("msg")
            in_tokens = estimate_tokens(body)
            if not stream:
                return self._send_json({
                    "id": msg_id, "type": "message", "role": "assistant", "model": model,
                    "content": blocks, "stop_reason": stop, "stop_sequence": None,
                    "usage": usage(in_tokens, output_tokens(blocks)),
                })
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("request-id", state.new_id("req"))
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            try:
                for name, data in sse_events(msg_id, model, blocks, stop, in_tokens):
                    self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
                    self.wfile.flush()
                    time.sleep(EVENT_GAP)
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


def load_script(path):
    with open(path, encoding="utf-8") as f:
        script = json.load(f)
    if isinstance(script, list):
        script = {"turns": script}
    if not isinstance(script.get("turns"), list):
        raise ValueError(f"{path}: expected a list of turns or an object with 'turns'")
    return script


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--script", required=True, help="JSON script file (see module docstring)")
    ap.add_argument("--port-file", required=True, help="file the chosen port is written to")
    ap.add_argument("--log", help="JSON Lines file every request is appended to")
    args = ap.parse_args()

    state = State(load_script(args.script), args.log)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    server.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.replace(tmp, args.port_file)

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
