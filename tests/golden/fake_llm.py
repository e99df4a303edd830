"""A tiny, deterministic OpenAI + Anthropic API on 127.0.0.1, for recording golden traces.

The `record.py` script of a golden case starts it, points the real client (and the real
instrumentation around it) at it, and saves the spans the instrumentation wrote. Answers
depend only on the request, so a recording can be repeated:

- `POST /v1/chat/completions`: when tools are offered and the last message is the
  user's, the answer calls the first tool with `{"city": "Paris"}`; after a tool
  result it answers with text that quotes the result; otherwise it answers with
  `ANSWER`. `stream: true` is served as server-sent events (usage in the last chunk
  when `stream_options.include_usage` is set).
- `POST /v1/embeddings`: three-number vectors, one per input.
- `POST /v1/messages` (Anthropic): the same rules, with Anthropic's usage shape, where
  `input_tokens` does NOT include the cached tokens.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER = "The capital of France is Paris."
OPENAI_MODEL_SUFFIX = "-2024-07-18"
ANTHROPIC_MODEL_SUFFIX = "-20250929"


def _tool_name(tools: list[dict[str, Any]]) -> str:
    first = tools[0]
    fn = first.get("function")
    return str(fn["name"] if isinstance(fn, dict) else first["name"])


def _chat(body: dict[str, Any]) -> dict[str, Any]:
    messages = body["messages"]
    last = messages[-1]
    tools = body.get("tools") or []
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    if last["role"] == "tool":
        message["content"] = f"It is {last['content']} in Paris right now."
        finish = "stop"
    elif tools and last["role"] == "user":
        message["tool_calls"] = [
            {
                "id": "call_weather_1",
                "type": "function",
                "function": {"name": _tool_name(tools), "arguments": '{"city": "Paris"}'},
            }
        ]
        finish = "tool_calls"
    else:
        message["content"] = ANSWER
        finish = "stop"
    prompt_tokens = 20 + 3 * len(messages)
    return {
        "id": f"chatcmpl-golden{len(messages)}",
        "object": "chat.completion",
        "created": 1_760_000_000,
        "model": body["model"] + OPENAI_MODEL_SUFFIX,
        "system_fingerprint": "fp_golden",
        "service_tier": "default",
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": 9,
            "total_tokens": prompt_tokens + 9,
            "prompt_tokens_details": {"cached_tokens": 16, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 4, "audio_tokens": 0},
        },
    }


def _chat_chunks(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    full = _chat(body)
    base = {k: full[k] for k in ("id", "created", "model", "system_fingerprint")}
    base["object"] = "chat.completion.chunk"
    choice = full["choices"][0]
    message = choice["message"]
    yield {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
    if message.get("tool_calls"):
        call = message["tool_calls"][0]
        yield {
            **base,
            "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, **call}]}}],
        }
    else:
        text = message["content"]
        for piece in (text[:12], text[12:]):
            yield {**base, "choices": [{"index": 0, "delta": {"content": piece}}]}
    yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]}
    if (body.get("stream_options") or {}).get("include_usage"):
        yield {**base, "choices": [], "usage": full["usage"]}


def _embeddings(body: dict[str, Any]) -> dict[str, Any]:
    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
    return {
        "object": "list",
        "model": body["model"],
        "data": [
            {"object": "embedding", "index": i, "embedding": [0.25, -0.5, 0.125 * (i + 1)]}
            for i in range(len(texts))
        ],
        "usage": {"prompt_tokens": 4 * len(texts), "total_tokens": 4 * len(texts)},
    }


def _messages(body: dict[str, Any]) -> dict[str, Any]:
    messages = body["messages"]
    last = messages[-1]
    content = last["content"]
    tools = body.get("tools") or []
    tool_result = None
    if isinstance(content, list):
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                tool_result = block.get("content")
    if isinstance(tool_result, list):
        tool_result = "".join(b.get("text", "") for b in tool_result if isinstance(b, dict))
    if tool_result is not None:
        blocks: list[dict[str, Any]] = [
            {"type": "text", "text": f"It is {tool_result} in Paris right now."}
        ]
        stop = "end_turn"
    elif tools:
        blocks = [
            {"type": "text", "text": "Let me check the weather."},
            {
                "type": "tool_use",
                "id": "toolu_weather_1",
                "name": _tool_name(tools),
                "input": {"city": "Paris"},
            },
        ]
        stop = "tool_use"
    else:
        blocks = [{"type": "text", "text": ANSWER}]
        stop = "end_turn"
    return {
        "id": f"msg_golden{len(messages)}",
        "type": "message",
        "role": "assistant",
        "model": body["model"] + ANTHROPIC_MODEL_SUFFIX,
        "content": blocks,
        "stop_reason": stop,
        "stop_sequence": None,
        # Anthropic's input_tokens excludes the cache reads and writes.
        "usage": {
            "input_tokens": 10 + len(messages),
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 20,
            "output_tokens": 15,
        },
    }


ROUTES = {
    "/v1/chat/completions": _chat,
    "/v1/embeddings": _embeddings,
    "/v1/messages": _messages,
}


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        route = ROUTES.get(self.path)
        if route is None:
            self.send_error(404, f"no fake for {self.path}")
            return
        if self.path == "/v1/chat/completions" and body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for chunk in _chat_chunks(body):
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            return
        data = json.dumps(route(body)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@contextmanager
def serve() -> Iterator[str]:
    """Run the fake API on a free 127.0.0.1 port; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
