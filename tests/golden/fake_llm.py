"""A tiny, deterministic OpenAI + Anthropic API on 127.0.0.1, for recording golden traces.

The `record.py` script of a golden case starts it, points the real client (and the real
instrumentation around it) at it, and saves the spans the instrumentation wrote. Answers
depend only on the request, so a recording can be repeated:

- `POST /v1/chat/completions`: when tools are offered and the last message is the
  user's, the answer calls the first tool with `{"city": "Paris"}`; after a tool
  result it answers with text that quotes the result; otherwise it answers with
  `ANSWER`. `stream: true` is served as server-sent events (usage in the last chunk
  when `stream_options.include_usage` is set).
  A body field `fake_chunks: N` (sent with the client's `extra_body`) streams the text
  in N content chunks instead (for benchmarks).
- `POST /v1/responses` (the Responses API): the same rules over its `input` items
  (a `function_call_output` item is the tool result); `stream: true` is served as
  its typed events, ending with `response.completed`.
- `POST /v1/embeddings`: three-number vectors, one per input.
- `POST /v1/messages` (Anthropic): the same rules, with Anthropic's usage shape, where
  `input_tokens` does NOT include the cached tokens; `stream: true` is served as its
  events (`message_start` ... `message_stop`).
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
        n = body.get("fake_chunks")
        pieces = [text[:12], text[12:]] if not n else [f"t{i} " for i in range(n)]
        for piece in pieces:
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


def _responses(body: dict[str, Any]) -> dict[str, Any]:
    items = (
        body["input"]
        if isinstance(body["input"], list)
        else [{"role": "user", "content": body["input"]}]
    )
    last = items[-1]
    tools = body.get("tools") or []
    if last.get("type") == "function_call_output":
        output: list[dict[str, Any]] = [_output_text(f"It is {last['output']} in Paris right now.")]
    elif tools and last.get("role") == "user":
        output = [
            {
                "type": "function_call",
                "id": "fc_weather_1",
                "call_id": "call_weather_1",
                "name": _tool_name(tools),
                "arguments": '{"city": "Paris"}',
                "status": "completed",
            }
        ]
    else:
        output = [_output_text(ANSWER)]
    input_tokens = 20 + 3 * len(items)
    return {
        "id": f"resp_golden{len(items)}",
        "object": "response",
        "created_at": 1_760_000_000,
        "status": "completed",
        "model": body["model"] + OPENAI_MODEL_SUFFIX,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": tools,
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 16},
            "output_tokens": 9,
            "output_tokens_details": {"reasoning_tokens": 4},
            "total_tokens": input_tokens + 9,
        },
    }


def _output_text(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": "msg_golden_1",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def _responses_events(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    full = _responses(body)
    yield {
        "type": "response.created",
        "response": {**full, "status": "in_progress", "output": [], "usage": None},
    }
    for i, item in enumerate(full["output"]):
        # The items and parts open before their deltas (the client's stream helper
        # builds its snapshot from these).
        opened = {**item, "status": "in_progress"}
        if item["type"] == "message":
            opened["content"] = []
        else:
            opened["arguments"] = ""
        yield {"type": "response.output_item.added", "output_index": i, "item": opened}
        if item["type"] == "message":
            text = item["content"][0]["text"]
            yield {
                "type": "response.content_part.added",
                "item_id": item["id"],
                "output_index": i,
                "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": []},
            }
            for piece in (text[:12], text[12:]):
                yield {
                    "type": "response.output_text.delta",
                    "item_id": item["id"],
                    "output_index": i,
                    "content_index": 0,
                    "delta": piece,
                    "logprobs": [],
                }
        else:
            yield {
                "type": "response.function_call_arguments.delta",
                "item_id": item["id"],
                "output_index": i,
                "delta": item["arguments"],
            }
        yield {"type": "response.output_item.done", "output_index": i, "item": item}
    yield {"type": "response.completed", "response": full}


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


def _message_events(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    full = _messages(body)
    usage = full["usage"]
    start = {**full, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    yield {"type": "message_start", "message": start}
    for i, block in enumerate(full["content"]):
        if block["type"] == "text":
            yield {
                "type": "content_block_start",
                "index": i,
                "content_block": {"type": "text", "text": ""},
            }
            for piece in (block["text"][:12], block["text"][12:]):
                yield {
                    "type": "content_block_delta",
                    "index": i,
                    "delta": {"type": "text_delta", "text": piece},
                }
        else:
            yield {
                "type": "content_block_start",
                "index": i,
                "content_block": {**block, "input": {}},
            }
            yield {
                "type": "content_block_delta",
                "index": i,
                "delta": {"type": "input_json_delta", "partial_json": json.dumps(block["input"])},
            }
        yield {"type": "content_block_stop", "index": i}
    yield {
        "type": "message_delta",
        "delta": {"stop_reason": full["stop_reason"], "stop_sequence": None},
        "usage": {"output_tokens": usage["output_tokens"]},
    }
    yield {"type": "message_stop"}


ROUTES = {
    "/v1/chat/completions": _chat,
    "/v1/embeddings": _embeddings,
    "/v1/messages": _messages,
    "/v1/responses": _responses,
}
STREAMS = {
    "/v1/chat/completions": _chat_chunks,
    "/v1/responses": _responses_events,
    "/v1/messages": _message_events,
}


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        route = ROUTES.get(self.path)
        if route is None:
            self.send_error(404, f"no fake for {self.path}")
            return
        if self.path in STREAMS and body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for chunk in STREAMS[self.path](body):
                typed = self.path != "/v1/chat/completions"
                event = f"event: {chunk['type']}\n" if typed else ""
                self.wfile.write(f"{event}data: {json.dumps(chunk)}\n\n".encode())
            if self.path == "/v1/chat/completions":
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
