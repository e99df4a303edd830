"""Build: spans in the OLDER official GenAI shapes, which no installable Python
instrumentation still writes as span content (the Python ones moved to log events, then
to the v1.37 attributes). Made with the real OTel SDK, attribute keys taken from the
semantic-conventions package (opentelemetry-semantic-conventions 0.66b2, deprecated
`gen_ai.prompt` / `gen_ai.completion` / `gen_ai.system` included) and event names and
bodies as the GenAI semantic conventions v1.26 and v1.28-1.36 define them:

- `chat gpt-4o`: v1.28-1.36 message events (`gen_ai.system.message`, `gen_ai.user.message`,
  `gen_ai.assistant.message` with tool calls, `gen_ai.tool.message`, `gen_ai.choice`);
  one of them carries its body as JSON in `gen_ai.event.content`, as Semantic Kernel does.
- `chat claude-3-5-sonnet`: v1.26-1.27 `gen_ai.content.prompt` / `.completion` events,
  legacy usage spellings (`prompt_tokens`, `completion_tokens`).
- `text_completion gpt-3.5-turbo-instruct`: the deprecated `gen_ai.prompt` /
  `gen_ai.completion` span attributes as plain text.
- `generate_content gemini-2.5-pro`: v1.37+ system instructions, tool definitions, parts
  (reasoning, blob, uri), cache write and reasoning tokens, legacy `gen_ai.system`.
- `execute_tool lookup_order`: fails with an exception event and `error.type`.
- `chat mistral-large`: fails with `error.type` and a status message only.

    python tests/golden/gen_ai/legacy_versions/record.py   # needs only otel-llm's deps
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from opentelemetry.semconv._incubating.attributes import (
    error_attributes as err,
)
from opentelemetry.semconv._incubating.attributes import (
    gen_ai_attributes as ga,
)
from opentelemetry.trace import SpanKind, Status, StatusCode
from recording import provider, write_request

# Event names of GenAI semantic conventions v1.28-1.36 and v1.26-1.27.
SYSTEM_MESSAGE, USER_MESSAGE = "gen_ai.system.message", "gen_ai.user.message"
ASSISTANT_MESSAGE, TOOL_MESSAGE = "gen_ai.assistant.message", "gen_ai.tool.message"
CHOICE = "gen_ai.choice"
CONTENT_PROMPT, CONTENT_COMPLETION = "gen_ai.content.prompt", "gen_ai.content.completion"

QUESTION = "Where is my order #1234?"


def main() -> None:
    tp, exporter = provider("support-bot")
    tracer = tp.get_tracer("support_bot", "1.0.0")
    with tracer.start_as_current_span("handle_ticket", attributes={"ticket.id": 1234}):
        with tracer.start_as_current_span(
            "chat gpt-4o",
            kind=SpanKind.CLIENT,
            attributes={
                ga.GEN_AI_OPERATION_NAME: "chat",
                ga.GEN_AI_SYSTEM: "openai",
                ga.GEN_AI_REQUEST_MODEL: "gpt-4o",
                ga.GEN_AI_REQUEST_TEMPERATURE: 0.0,
                ga.GEN_AI_REQUEST_TOP_P: 0.9,
                ga.GEN_AI_RESPONSE_MODEL: "gpt-4o-2024-08-06",
                ga.GEN_AI_RESPONSE_ID: "chatcmpl-legacy1",
                ga.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
                ga.GEN_AI_USAGE_INPUT_TOKENS: 120,
                ga.GEN_AI_USAGE_OUTPUT_TOKENS: 14,
                ga.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 64,
            },
        ) as span:
            span.add_event(
                SYSTEM_MESSAGE,
                {ga.GEN_AI_SYSTEM: "openai", "content": "You answer order questions."},
            )
            span.add_event(USER_MESSAGE, {ga.GEN_AI_SYSTEM: "openai", "content": QUESTION})
            calls = [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup_order", "arguments": '{"order": 1234}'},
                }
            ]
            span.add_event(
                ASSISTANT_MESSAGE, {ga.GEN_AI_SYSTEM: "openai", "tool_calls": json.dumps(calls)}
            )
            span.add_event(
                TOOL_MESSAGE,
                {
                    ga.GEN_AI_SYSTEM: "openai",
                    "gen_ai.event.content": json.dumps(
                        {"role": "tool", "id": "call_1", "content": "shipped on Monday"}
                    ),
                },
            )
            span.add_event(
                CHOICE,
                {
                    ga.GEN_AI_SYSTEM: "openai",
                    "index": 0,
                    "finish_reason": "stop",
                    "message": json.dumps({"content": "Your order shipped on Monday."}),
                },
            )
        with tracer.start_as_current_span(
            "chat claude-3-5-sonnet",
            kind=SpanKind.CLIENT,
            attributes={
                ga.GEN_AI_OPERATION_NAME: "chat",
                ga.GEN_AI_SYSTEM: "anthropic",
                ga.GEN_AI_REQUEST_MODEL: "claude-3-5-sonnet",
                ga.GEN_AI_REQUEST_MAX_TOKENS: 256,
                ga.GEN_AI_USAGE_PROMPT_TOKENS: 40,
                ga.GEN_AI_USAGE_COMPLETION_TOKENS: 12,
            },
        ) as span:
            span.add_event(
                CONTENT_PROMPT,
                {
                    ga.GEN_AI_PROMPT: json.dumps(
                        [{"role": "user", "content": "Summarise: your order shipped on Monday."}]
                    )
                },
            )
            span.add_event(
                CONTENT_COMPLETION,
                {
                    ga.GEN_AI_COMPLETION: json.dumps(
                        [{"role": "assistant", "content": "Shipped Monday."}]
                    )
                },
            )
        tracer.start_span(
            "text_completion gpt-3.5-turbo-instruct",
            kind=SpanKind.CLIENT,
            attributes={
                ga.GEN_AI_OPERATION_NAME: "text_completion",
                ga.GEN_AI_SYSTEM: "az.ai.openai",
                ga.GEN_AI_REQUEST_MODEL: "gpt-3.5-turbo-instruct",
                ga.GEN_AI_REQUEST_STOP_SEQUENCES: ("\n",),
                ga.GEN_AI_PROMPT: "Say 'shipped' in French:",
                ga.GEN_AI_COMPLETION: "expédié",
                ga.GEN_AI_USAGE_INPUT_TOKENS: 9,
                ga.GEN_AI_USAGE_OUTPUT_TOKENS: 3,
            },
        ).end()
        with tracer.start_as_current_span(
            "generate_content gemini-2.5-pro",
            kind=SpanKind.CLIENT,
            attributes={
                ga.GEN_AI_OPERATION_NAME: "generate_content",
                ga.GEN_AI_SYSTEM: "vertex_ai",
                ga.GEN_AI_REQUEST_MODEL: "gemini-2.5-pro",
                ga.GEN_AI_REQUEST_TOP_K: 40.0,
                ga.GEN_AI_REQUEST_SEED: 11,
                ga.GEN_AI_OUTPUT_TYPE: "text",
                ga.GEN_AI_CONVERSATION_ID: "conv-7",
                ga.GEN_AI_SYSTEM_INSTRUCTIONS: json.dumps(
                    [{"type": "text", "content": "Reply in one sentence."}]
                ),
                ga.GEN_AI_TOOL_DEFINITIONS: json.dumps(
                    [
                        {
                            "type": "function",
                            "name": "lookup_order",
                            "description": "Find an order",
                            "parameters": {
                                "type": "object",
                                "properties": {"order": {"type": "integer"}},
                            },
                        }
                    ]
                ),
                ga.GEN_AI_INPUT_MESSAGES: json.dumps(
                    [
                        {
                            "role": "user",
                            "parts": [
                                {"type": "text", "content": "What is on this label?"},
                                {
                                    "type": "blob",
                                    "modality": "image",
                                    "mime_type": "image/png",
                                    "content": "iVBORw0KGgo=",
                                },
                                {"type": "uri", "modality": "image", "uri": "gs://labels/1234.png"},
                            ],
                        }
                    ]
                ),
                ga.GEN_AI_OUTPUT_MESSAGES: json.dumps(
                    [
                        {
                            "role": "assistant",
                            "parts": [
                                {"type": "reasoning", "content": "The label shows an address."},
                                {
                                    "type": "text",
                                    "content": "It is a shipping label for order 1234.",
                                },
                            ],
                            "finish_reason": "stop",
                        }
                    ]
                ),
                ga.GEN_AI_USAGE_INPUT_TOKENS: 300,
                ga.GEN_AI_USAGE_OUTPUT_TOKENS: 50,
                "gen_ai.usage.cache_write.input_tokens": 256,
                ga.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 30,
            },
        ):
            pass
        with tracer.start_as_current_span(
            "execute_tool lookup_order",
            attributes={
                ga.GEN_AI_OPERATION_NAME: "execute_tool",
                ga.GEN_AI_TOOL_NAME: "lookup_order",
                ga.GEN_AI_TOOL_CALL_ID: "call_2",
                ga.GEN_AI_TOOL_CALL_ARGUMENTS: '{"order": 9999}',
            },
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                raise KeyError("order 9999 not found")
            except KeyError as exc:
                span.record_exception(exc)
                span.set_attribute(err.ERROR_TYPE, "KeyError")
                span.set_status(Status(StatusCode.ERROR, str(exc)))
        with tracer.start_as_current_span(
            "chat mistral-large",
            kind=SpanKind.CLIENT,
            attributes={
                ga.GEN_AI_OPERATION_NAME: "chat",
                ga.GEN_AI_PROVIDER_NAME: "mistral_ai",
                ga.GEN_AI_REQUEST_MODEL: "mistral-large",
                err.ERROR_TYPE: "429",
            },
        ) as span:
            span.set_status(Status(StatusCode.ERROR, "rate limited, retry in 2 s"))
    write_request(exporter.get_finished_spans(), Path(__file__).resolve().parent)


if __name__ == "__main__":
    main()
