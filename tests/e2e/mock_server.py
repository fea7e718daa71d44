"""What the two scripted model servers share: mock_model.py (Anthropic's Messages API, for
Claude Code) and mock_codex.py (OpenAI's Responses API, for Codex).

Python 3 standard library only. This module owns the script file, the state (turns taken,
ids, the JSON Lines request log), the HTTP plumbing of a handler (quiet logging, kept headers,
body parsing, JSON replies, a Server-Sent Events stream) and serving on 127.0.0.1 on a port
the OS picks, written to --port-file once the server accepts connections, until SIGTERM/SIGINT.
Each server keeps its own wire format: the events it streams and how it classifies requests.
"""

import argparse
import json
import os
import secrets
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Delay between SSE events (seconds): small, but non-zero so the client sees a real stream.
EVENT_GAP = 0.002


class State:
    """The script's progress and the request log. `threads` (optional in the script) maps a
    marker to a turn list of its own (see mock_model.py)."""

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

    def log(self, entry):
        if not self.log_file:
            return
        with self.lock:
            self.seq += 1
            entry = {"seq": self.seq, "time": time.time(), **entry}
            self.log_file.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self.log_file.flush()


def chunks(s, size=40):
    """Several deltas per text, split at arbitrary points (also inside a ``` fence), as a real
    stream would."""
    if not s:
        return [""]
    return [s[i:i + size] for i in range(0, len(s), size)]


class Handler(BaseHTTPRequestHandler):
    """The plumbing; a server subclasses it with `state`, `kept_headers` and its do_* methods."""

    protocol_version = "HTTP/1.1"
    state = None
    kept_headers = ()

    def log_message(self, fmt, *args):  # keep stderr quiet; the JSONL log is the record
        pass

    def extra_headers(self):
        """Headers every reply carries (a request id, for one)."""
        return {}

    def _headers_for_log(self):
        return {k: v for k, v in self.headers.items() if k.lower() in self.kept_headers}

    def _read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if self.headers.get("Content-Encoding", "").lower() not in ("", "identity"):
            return {"_unsupported_content_encoding": self.headers.get("Content-Encoding")}
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _send_json(self, obj, status=200, extra_headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in {**self.extra_headers(), **(extra_headers or {})}.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_sse(self, events):
        """Streams (name, data) pairs as Server-Sent Events, then closes the connection."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        for k, v in self.extra_headers().items():
            self.send_header(k, v)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            for name, data in events:
                self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()
                time.sleep(EVENT_GAP)
        except (BrokenPipeError, ConnectionResetError):
            pass


def load_script(path):
    with open(path, encoding="utf-8") as f:
        script = json.load(f)
    if isinstance(script, list):
        script = {"turns": script}
    if not isinstance(script.get("turns"), list):
        raise ValueError(f"{path}: expected a list of turns or an object with 'turns'")
    return script


def serve(description, make_handler):
    """The command line both servers take (--script, --port-file, --log), then serves
    `make_handler(state)` until SIGTERM/SIGINT. Returns the exit status."""
    ap = argparse.ArgumentParser(description=description)
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
