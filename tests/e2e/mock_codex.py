#!/usr/bin/env python3
"""A scripted stand-in for the OpenAI Responses API, for driving the real Codex CLI offline.

Python 3 standard library only, like mock_model.py (the Anthropic Messages stand-in for Claude
Code). Listens on 127.0.0.1 on a port the OS picks and writes that port to --port-file
(atomically) once it accepts connections. Runs until killed (SIGTERM/SIGINT).

Codex talks to a custom model provider (`[model_providers.X] base_url = ".../v1"`,
`wire_api = "responses"`) with `POST <base_url>/responses`, a JSON body with `stream: true`,
and reads Server-Sent Events back: `response.created`, `response.output_item.added`,
`response.output_text.delta`, `response.output_item.done` (one per output item) and
`response.completed`. Checked against Codex 0.171.0.

Script file (JSON). Either a bare list of turns, or an object:

    {
      "turns": [                      # one entry per MAIN request, in order
        [ {"type": "reasoning", "text": "..."},
          {"type": "text", "text": "..."},
          {"type": "apply_patch", "patch": "*** Begin Patch\\n*** Add File: a.txt\\n+hi\\n*** End Patch"},
          {"type": "shell", "command": "echo hi"} ],
        ...
      ],
      "side_reply": "text for side requests",          # optional
      "exhausted_reply": "text once the turns run out"  # optional
    }

Item types:
  text         an assistant message (output_text), streamed as deltas then a done item
  reasoning    a reasoning item with a summary (never part of the assistant's text)
  apply_patch  Codex's edit tool: a `custom_tool_call` (freeform tool) or a `function_call` with
               {"input": patch}, whichever the request's tool list declares
  shell        a call of the request's shell tool (`exec_command` {"cmd"}, `shell_command`
               {"command"} or `shell` {"command": [argv]}), whichever is declared
A turn whose last item is a tool call makes Codex run it and send the next request.

Main vs side requests: a POST .../responses whose body has a non-empty "tools" list is MAIN and
takes the next scripted turn; anything else is SIDE (gets side_reply, does not advance the script).

Log (--log, JSON Lines): one object per request with seq, time, method, path, kind
("main" | "side" | "other"), turn (index for main requests, else null), a few headers (no
secrets: authorization is dropped) and "body" (the parsed JSON body, or the raw text).
"""

import json
import sys
from urllib.parse import urlsplit

import mock_server
from mock_server import chunks

KEPT_HEADERS = ("user-agent", "originator", "content-type", "session-id", "accept")
SHELL_TOOLS = ("exec_command", "shell_command", "shell")


def declared_tools(body):
    """Maps tool name -> declared type ("function", "custom", ...) for the request's tools."""
    out = {}
    for t in body.get("tools") or []:
        if isinstance(t, dict) and t.get("name"):
            out[t["name"]] = t.get("type")
    return out


def output_items(state, turn, tools):
    """Yields (item, deltas) for the scripted turn; deltas are text pieces for a message."""
    for step in turn:
        kind = step["type"]
        if kind == "text":
            item = {"type": "message", "role": "assistant", "id": state.new_id("msg"),
                    "status": "completed",
                    "content": [{"type": "output_text", "text": step["text"], "annotations": []}]}
            yield item, chunks(step["text"])
        elif kind == "reasoning":
            yield {"type": "reasoning", "id": state.new_id("rs"),
                   "summary": [{"type": "summary_text", "text": step["text"]}]}, None
        elif kind == "apply_patch":
            call_id = state.new_id("call")
            if tools.get("apply_patch") == "function":
                yield {"type": "function_call", "id": state.new_id("fc"), "call_id": call_id,
                       "name": "apply_patch", "status": "completed",
                       "arguments": json.dumps({"input": step["patch"]})}, None
            else:
                # Freeform (the default for current models): the patch is the raw input.
                yield {"type": "custom_tool_call", "id": state.new_id("ctc"), "call_id": call_id,
                       "name": "apply_patch", "status": "completed",
                       "input": step["patch"]}, None
        elif kind == "shell":
            name = next((n for n in SHELL_TOOLS if n in tools), "shell_command")
            cmd = step["command"]
            if name == "exec_command":
                args = {"cmd": cmd}
            elif name == "shell":
                args = {"command": ["bash", "-lc", cmd]}
            else:
                args = {"command": cmd}
            yield {"type": "function_call", "id": state.new_id("fc"), "call_id": state.new_id("call"),
                   "name": name, "status": "completed", "arguments": json.dumps(args)}, None
        else:
            raise ValueError(f"unsupported item type in script: {kind}")


def sse_events(state, resp_id, model, turn, tools):
    """Yields event dicts of one streamed response."""
    yield {"type": "response.created",
           "response": {"id": resp_id, "object": "response", "model": model, "status": "in_progress",
                        "output": []}}
    done = []
    for index, (item, deltas) in enumerate(output_items(state, turn, tools)):
        if deltas is not None:
            added = dict(item, status="in_progress", content=[])
            yield {"type": "response.output_item.added", "output_index": index, "item": added}
            for piece in deltas:
                yield {"type": "response.output_text.delta", "item_id": item["id"],
                       "output_index": index, "content_index": 0, "delta": piece}
        else:
            yield {"type": "response.output_item.added", "output_index": index, "item": item}
        yield {"type": "response.output_item.done", "output_index": index, "item": item}
        done.append(item)
    tokens = max(1, sum(len(json.dumps(i)) for i in done) // 4)
    yield {"type": "response.completed",
           "response": {"id": resp_id, "object": "response", "model": model, "status": "completed",
                        "output": done,
                        "usage": {"input_tokens": 1, "input_tokens_details": None,
                                  "output_tokens": tokens, "output_tokens_details": None,
                                  "total_tokens": tokens + 1}}}


def make_handler(state):
    class Handler(mock_server.Handler):
        server_version = "mock-codex-model/1"
        kept_headers = KEPT_HEADERS

        def do_HEAD(self):
            state.log({"method": "HEAD", "path": self.path, "kind": "other", "turn": None,
                       "headers": self._headers_for_log(), "body": None})
            self._send_json({})

        def do_GET(self):
            # Model discovery or a websocket upgrade: neither is served; Codex falls back to its
            # bundled catalogue and to HTTP streaming.
            state.log({"method": "GET", "path": self.path, "kind": "other", "turn": None,
                       "headers": self._headers_for_log(), "body": None})
            self._send_json({"error": {"message": "not served by the mock"}}, status=404)

        def do_POST(self):
            path = urlsplit(self.path).path.rstrip("/")
            body = self._read_body()
            headers = self._headers_for_log()
            if not path.endswith("/responses") or not isinstance(body, dict):
                state.log({"method": "POST", "path": self.path, "kind": "other", "turn": None,
                           "headers": headers, "body": body})
                return self._send_json({"error": {"message": "not served by the mock"}}, status=404)
            tools = declared_tools(body)
            if tools:
                kind = "main"
                turn_idx, turn = state.take_turn()
            else:
                kind, turn_idx = "side", None
                turn = [{"type": "text", "text": state.side_reply}]
            state.log({"method": "POST", "path": self.path, "kind": kind, "turn": turn_idx,
                       "headers": headers, "body": body})
            model = body.get("model") or "mock"
            try:
                events = list(sse_events(state, state.new_id("resp"), model, turn, tools))
            except (KeyError, ValueError) as e:
                return self._send_json({"error": {"message": f"bad script: {e}"}}, status=500)
            self._send_sse((ev["type"], ev) for ev in events)

    return Handler


def main():
    return mock_server.serve(__doc__.split("\n\n")[0], make_handler)


if __name__ == "__main__":
    sys.exit(main())
