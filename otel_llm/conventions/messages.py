"""Chat messages: the one shape runs carry, and the official GenAI parts shape.

Runs carry messages the way LangSmith shows them (OpenAI chat style):

    {"role": "assistant", "content": "text" | [part, ...] | None,
     "tool_calls": [{"id", "type": "function", "function": {"name", "arguments"}}],
     "tool_call_id": "...", "name": "...", "finish_reason": "..."}

Content parts are OpenAI style (`{"type": "text", "text": ...}`), with reasoning as
`{"type": "reasoning", "reasoning": ...}`; parts with no OpenAI equivalent are kept
as they came. Every reader normalises into this shape with these helpers, and the
GenAI writer turns it back into `{role, parts: [...]}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_llm.conventions.base import Extraction, dumps, loads_maybe

Message = dict[str, Any]

# v1.28-1.36 GenAI message events -> the role they stand for (their bodies are messages
# in Pydantic AI's attributes too).
EVENT_ROLES: dict[str, str] = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
CHOICE_EVENT = "gen_ai.choice"


def message(
    role: str | None,
    content: Any = None,
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    tool_call_id: str | None = None,
    name: str | None = None,
    finish_reason: str | None = None,
) -> Message:
    """A normalised message; empty fields are left out."""
    m: Message = {"role": role or "user", "content": content}
    if tool_calls:
        m["tool_calls"] = tool_calls
    if tool_call_id is not None:
        m["tool_call_id"] = tool_call_id
    if name is not None:
        m["name"] = name
    if finish_reason is not None:
        m["finish_reason"] = finish_reason
    return m


def tool_call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    """An OpenAI-style tool call; arguments are JSON text, as OpenAI sends them."""
    args = arguments if isinstance(arguments, str) or arguments is None else dumps(arguments)
    call: dict[str, Any] = {"type": "function", "function": {"name": name, "arguments": args}}
    if call_id is not None:
        call = {"id": call_id, **call}
    return call


def _text_of(part: dict[str, Any]) -> Any:
    return part.get("content", part.get("text"))


def from_gen_ai(messages: Any) -> list[Message] | None:
    """Official `gen_ai.input.messages` / `gen_ai.output.messages` -> normalised.

    Returns None when the value is not a list of message objects.
    """
    if not isinstance(messages, list):
        return None
    out: list[Message] = []
    for raw in messages:
        if not isinstance(raw, dict):
            return None
        parts = raw.get("parts")
        if not isinstance(parts, list):
            # Already chat-style ({role, content}); keep it.
            out.append(raw)
            continue
        content: list[Any] = []
        calls: list[dict[str, Any]] = []
        tool_call_id = None
        for part in parts:
            if not isinstance(part, dict):
                content.append({"type": "text", "text": str(part)})
                continue
            ptype = part.get("type")
            if ptype == "text":
                content.append({"type": "text", "text": _text_of(part)})
            elif ptype == "reasoning":
                content.append({"type": "reasoning", "reasoning": _text_of(part)})
            elif ptype == "tool_call":
                calls.append(tool_call(part.get("id"), part.get("name"), part.get("arguments")))
            elif ptype == "tool_call_response":
                tool_call_id = part.get("id")
                result = part.get("response", part.get("result"))
                text = result if isinstance(result, str) else dumps(result)
                content.append({"type": "text", "text": text})
            else:
                content.append(part)
        out.append(
            message(
                raw.get("role"),
                _collapse(content),
                tool_calls=calls,
                tool_call_id=tool_call_id,
                name=raw.get("name"),
                finish_reason=raw.get("finish_reason"),
            )
        )
    return out


def _collapse(content: list[Any]) -> Any:
    """One text part reads best as a plain string; no parts as None."""
    if not content:
        return None
    if len(content) == 1 and content[0].get("type") == "text":
        return content[0].get("text")
    return content


def to_gen_ai(messages: Any) -> list[dict[str, Any]] | None:
    """Normalised messages -> official `{role, parts}` messages (None if not messages)."""
    if not isinstance(messages, list):
        return None
    out: list[dict[str, Any]] = []
    for m in messages:
        if not isinstance(m, dict) or "role" not in m:
            return None
        content = m.get("content")
        parts: list[dict[str, Any]]
        if m.get("tool_call_id") is not None:
            text = content if isinstance(content, str) else dumps(content)
            parts = [{"type": "tool_call_response", "id": m["tool_call_id"], "response": text}]
        elif isinstance(content, str):
            parts = [{"type": "text", "content": content}]
        elif isinstance(content, list):
            parts = [_part_to_gen_ai(part) for part in content]
        else:
            parts = []
        calls = m.get("tool_calls")
        if calls:
            for call in calls:
                fn = call.get("function") or {}
                parts.append(
                    {
                        "type": "tool_call",
                        "id": call.get("id"),
                        "name": fn.get("name"),
                        "arguments": loads_maybe(fn.get("arguments")),
                    }
                )
        gm: dict[str, Any] = {"role": m["role"], "parts": parts}
        name = m.get("name")
        if name is not None:
            gm["name"] = name
        reason = m.get("finish_reason")
        if reason is not None:
            gm["finish_reason"] = reason
        out.append(gm)
    return out


def _part_to_gen_ai(part: Any) -> dict[str, Any]:
    if not isinstance(part, dict):
        return {"type": "text", "content": str(part)}
    ptype = part.get("type")
    if ptype == "text":
        return {"type": "text", "content": part.get("text")}
    if ptype == "reasoning":
        return {"type": "reasoning", "content": part.get("reasoning")}
    return part


# --- messages in the older shapes SDKs write (GenAI events, legacy JSON, chat APIs) ----


def content_of(value: Any) -> Any:
    """Message content: text, or a list of parts (which some SDKs send as JSON text)."""
    if isinstance(value, str) and value[:1] == "[":
        parsed = loads_maybe(value)
        if isinstance(parsed, list):
            return parsed
    if isinstance(value, tuple):
        return list(value)
    return value


def tool_calls_of(value: Any) -> list[dict[str, Any]]:
    """OpenAI-style tool calls (`{id, type, function: {name, arguments}}`, or flat
    `{id, name, arguments}`), possibly as JSON text, normalised."""
    value = loads_maybe(value)
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return []
    calls = []
    for call in value:
        if not isinstance(call, dict):
            continue
        fn = call.get("function")
        fn = loads_maybe(fn)
        if isinstance(fn, dict):
            calls.append(tool_call(call.get("id"), fn.get("name"), fn.get("arguments")))
        else:
            calls.append(tool_call(call.get("id"), call.get("name"), call.get("arguments")))
    return calls


def message_from_event(name: str, body: Mapping[str, Any]) -> Message | None:
    """One v1.28-1.36 message event (its body, or its attributes) as a message.

    Returns None for events that are not message events.
    """
    if name == CHOICE_EVENT:
        raw = loads_maybe(body.get("message"))
        choice: dict[str, Any] = raw if isinstance(raw, dict) else {}
        return message(
            choice.get("role") or "assistant",
            content_of(choice.get("content", body.get("content"))),
            tool_calls=tool_calls_of(choice.get("tool_calls")),
            finish_reason=body.get("finish_reason"),
        )
    role = EVENT_ROLES.get(name)
    if role is None:
        return None
    call_id = body.get("id") if role == "tool" else None
    return message(
        body.get("role") or role,
        content_of(body.get("content")),
        tool_calls=tool_calls_of(body.get("tool_calls")),
        tool_call_id=str(call_id) if call_id is not None else None,
        name=body.get("name") if role == "tool" else None,
    )


def chat_messages(value: Any, default_role: str) -> list[Message] | None:
    """Messages in any JSON shape seen in legacy attributes: official `{role, parts}`,
    chat-style `{role, content}`, choices `{message, finish_reason}`, or plain text."""
    if value is None:
        return None
    if isinstance(value, str):
        return [message(default_role, value)]
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return [message(default_role, value)]
    out: list[Message] = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("parts"), list):
            out.extend(from_gen_ai([item]) or ())
        elif isinstance(item, dict) and isinstance(item.get("message"), dict):
            m = message_from_event(CHOICE_EVENT, item)
            if m is not None:
                out.append(m)
        elif isinstance(item, dict):
            out.append(item)
        else:
            out.append(message(default_role, item))
    return out


# A provider's own usage object (OpenAI chat, OpenAI Responses, Anthropic): path ->
# (usage_metadata group or None, key). Anthropic's input_tokens excludes cached tokens:
# see `_ANTHROPIC_CACHE`.
IN, OUT = "input_token_details", "output_token_details"
PROVIDER_USAGE: tuple[tuple[tuple[str, ...], str | None, str], ...] = (
    (("prompt_tokens",), None, "input_tokens"),
    (("input_tokens",), None, "input_tokens"),
    (("completion_tokens",), None, "output_tokens"),
    (("output_tokens",), None, "output_tokens"),
    (("total_tokens",), None, "total_tokens"),
    (("prompt_tokens_details", "cached_tokens"), IN, "cache_read"),
    (("input_tokens_details", "cached_tokens"), IN, "cache_read"),
    (("cache_read_input_tokens",), IN, "cache_read"),
    (("cache_creation_input_tokens",), IN, "cache_creation"),
    (("prompt_tokens_details", "audio_tokens"), IN, "audio"),
    (("completion_tokens_details", "reasoning_tokens"), OUT, "reasoning"),
    (("output_tokens_details", "reasoning_tokens"), OUT, "reasoning"),
    (("completion_tokens_details", "audio_tokens"), OUT, "audio"),
)
_ANTHROPIC_CACHE = ("cache_read_input_tokens", "cache_creation_input_tokens")


# Keys beside `usage` that say a value is a provider's response (or the run's outputs
# made from one).
_RESPONSE_MARKERS = frozenset(("choices", "output", "content", "messages", "object", "model"))


def usage_of_response(value: Any) -> dict[str, Any] | None:
    """The usage object of a recognised response shape (an OpenAI chat completion or
    response, an Anthropic message: a `usage` object beside `choices`, `output` or
    `content`), the value itself or under `output`; None for anything else."""
    for candidate in (value, value.get("output") if isinstance(value, dict) else None):
        if not isinstance(candidate, dict):
            continue
        usage = candidate.get("usage")
        if isinstance(usage, dict) and usage and _RESPONSE_MARKERS & candidate.keys():
            return usage
    return None


def provider_usage(x: Extraction, usage: dict[str, Any]) -> None:
    """Usage as the provider reported it (see PROVIDER_USAGE), cached tokens included in
    the input tokens."""
    for path, group, name in PROVIDER_USAGE:
        value: Any = usage
        for step in path:
            value = value.get(step) if isinstance(value, dict) else None
        if value is None:
            continue
        if name == "input_tokens" and "prompt_tokens" not in usage:
            extra = [usage.get(k) for k in _ANTHROPIC_CACHE]
            if any(isinstance(v, int) for v in extra) and isinstance(value, int):
                value += sum(v for v in extra if isinstance(v, int))
        if group is None:
            x.set_usage(name, value)
        else:
            x.set_usage_detail(group, name, value)
