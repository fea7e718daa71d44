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

import json
import secrets
import sys
from urllib.parse import urlsplit

import mock_server
from mock_server import chunks

MODEL_FALLBACK = "claude-sonnet-4-5"
KEPT_HEADERS = ("anthropic-version", "anthropic-beta", "user-agent", "x-app", "content-type")


def thread_of(state, body):
    """The thread whose marker is in the request's first user message, or None."""
    if not state.threads:
        return None
    first = next((m for m in body.get("messages") or [] if m.get("role") == "user"), None)
    if first is None:
        return None
    content = first.get("content")
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    return next((k for k in state.threads if k in text), None)


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


def make_handler(state):
    class Handler(mock_server.Handler):
        server_version = "mock-model/1"
        kept_headers = KEPT_HEADERS

        def extra_headers(self):
            return {"request-id": state.new_id("req")}

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
                thread = thread_of(state, body)
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
            self._send_sse(sse_events(msg_id, model, blocks, stop, in_tokens))

    return Handler


def main():
    return mock_server.serve(__doc__.split("\n\n")[0], make_handler)


if __name__ == "__main__":
    sys.exit(main())
