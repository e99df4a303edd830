"""Pydantic Logfire and Pydantic AI: `logfire.*`, `pydantic_ai.*`, `request_data` /
`response_data`, `tool_arguments` / `tool_response`. Pending spans are skipped.

Logfire sends a *pending span* (`logfire.span_type = "pending_span"`) when a span
starts, as a child of the real span it announces; it duplicates that span and is
skipped. Its OpenAI / Anthropic integrations write the request and the response as JSON
(`request_data`, `response_data`); Anthropic's usage there does not count the cached
input tokens, which are added. Pydantic AI writes official `gen_ai.*` keys on `chat`
spans (read by the gen_ai reader), and its own keys on agent and tool spans, in several
format versions: `pydantic_ai.all_messages` (official message shape) or
`all_messages_events` / `events` (lists of v1.28 message event bodies), `final_result`,
`tool_arguments` / `tool_response`, `model_request_parameters`, `gen_ai.usage.details.*`.
A plain Logfire span's arguments (the attributes its `logfire.json_schema` describes)
become the run's inputs.
"""

from __future__ import annotations

from typing import Any

from otel_llm.conventions import gen_ai
from otel_llm.conventions import messages as msgs
from otel_llm.conventions._typed import json_object, number, strings, text
from otel_llm.conventions.base import A, Convention, E, Extraction, G, KindTable, S, T, loads_maybe
from otel_llm.model import ObservationType

NAMESPACES = frozenset(
    {
        "logfire",
        "pydantic_ai",
        "request_data",
        "response_data",
        "tool_arguments",
        "tool_response",
        "all_messages_events",
        "final_result",
        "model_request_parameters",
    }
)


# Keys whose mere presence says what a span is, for producers that write no kind key:
# Pydantic AI's older `running tool` and `agent run` spans, and a model call traced by
# Logfire's Anthropic / OpenAI integrations (which may write no gen_ai.* key at all).
MARKER_KINDS: KindTable = {
    "tool_arguments": (T, "tool"),
    "all_messages_events": (A, "chain"),
    "response_data": (G, "llm"),
}

SPAN_TYPE_KEY = "logfire.span_type"
PENDING = "pending_span"
SPAN_TYPES = frozenset({"span", "log", PENDING})
IN, OUT = "input_token_details", "output_token_details"

# Pydantic AI's provider-neutral usage details (on chat spans) -> usage_metadata.
DETAILS_USAGE: dict[str, tuple[str, str]] = {
    "gen_ai.usage.details.reasoning_tokens": (OUT, "reasoning"),
    "gen_ai.usage.details.cached_tokens": (IN, "cache_read"),
    "gen_ai.usage.details.cache_read_tokens": (IN, "cache_read"),
    "gen_ai.usage.details.cache_write_tokens": (IN, "cache_creation"),
}
COST_KEY = "operation.cost"  # USD, of this model call
RAW_USAGE_KEY = "gen_ai.usage.raw"  # the provider's usage object, as JSON

# The provider (ls_provider) of each Logfire LLM integration, by instrumentation scope:
# older releases name it nowhere else.
SCOPE_PROVIDERS: dict[str, str] = {
    "logfire.openai": "openai",
    "logfire.anthropic": "anthropic",
}

# Request fields that are content, not parameters.
REQUEST_CONTENT = frozenset({"messages", "system", "input", "instructions", "prompt", "model"})
# Attributes whose meaning this module (or the gen_ai one) knows: never span arguments.
OWN_KEYS = NAMESPACES | {"events", "async", "agent_name", "model_name", "tools"}


def read(x: Extraction) -> None:
    """Fills what Logfire / Pydantic AI attributes say; marks pending spans to skip."""
    a = x.attrs
    span_type = a.get(SPAN_TYPE_KEY)
    if span_type == PENDING:
        x.skip = True
        return
    if span_type is not None and span_type not in SPAN_TYPES:
        x.problem(SPAN_TYPE_KEY, "is not a known Logfire span type", span_type)
    obs = x.observation or S
    if "logfire.tags" in a:
        _tags(x)
    _names(x)
    _pydantic_ai(x, obs)
    if "request_data" in a:
        _request(x, obs)
    if "response_data" in a:
        _response(x, obs)
    if obs is G or obs is E:
        _usage(x)
    if x.inputs is None and "logfire.json_schema" in a:
        _arguments(x)


def _tags(x: Extraction) -> None:
    tags = strings(x.attrs["logfire.tags"])
    if tags is None:
        x.problem("logfire.tags", "is not a list of strings", x.attrs["logfire.tags"])
    elif x.tags is None or x.tags == tags:
        x.tags = tags
        x.consumed.add("logfire.tags")


def _names(x: Extraction) -> None:
    """The agent's name, else Logfire's rendered message, names the run."""
    a = x.attrs
    if "agent_name" in a:
        name = text(x, "agent_name")
        if name is not None and x.name in (None, name):
            x.name = name
        elif name is not None:
            x.set_metadata("agent_name", name)
    if "model_name" in a:
        model = text(x, "model_name")
        x.set_fact("model", model)
        if model is not None and model != x.model:
            x.consumed.discard("model_name")  # another model won: stays raw
    if "logfire.msg" in a:
        msg = a["logfire.msg"]
        if isinstance(msg, str) and x.name in (None, msg):
            x.name = msg
            x.consumed.add("logfire.msg")


# --- Pydantic AI -------------------------------------------------------------------


def _pydantic_ai(x: Extraction, obs: ObservationType) -> None:
    a = x.attrs
    if "model_request_parameters" in a:
        params = json_object(x, "model_request_parameters")
        if params is not None:
            x.invocation_params.setdefault("model_request_parameters", params)
            tools = params.get("function_tools")
            if isinstance(tools, list) and tools:
                x.invocation_params.setdefault("tools", [_tool_definition(t) for t in tools])
    if "pydantic_ai.all_messages" in a:
        found = msgs.from_gen_ai(x.take_json("pydantic_ai.all_messages"))
        if found is not None:
            _set_messages(x, found)
        elif "pydantic_ai.all_messages" in x.consumed:
            x.consumed.discard("pydantic_ai.all_messages")
            x.problem(
                "pydantic_ai.all_messages",
                "is not a list of messages",
                a["pydantic_ai.all_messages"],
            )
    for key in ("all_messages_events", "events"):
        if key in a:
            _event_list(x, key)
    if "final_result" in a:
        result = x.take("final_result")
        x.set_outputs({"output": loads_maybe(result)})
    if "tool_arguments" in a:
        args = loads_maybe(x.take("tool_arguments"))
        x.set_inputs(args if isinstance(args, dict) else {"input": args})
    if "tool_response" in a:
        x.set_outputs({"output": x.take("tool_response")})


def _tool_definition(tool: Any) -> Any:
    """A Pydantic AI function tool as an official tool definition."""
    if not isinstance(tool, dict):
        return tool
    out: dict[str, Any] = {"type": "function", "name": tool.get("name")}
    if tool.get("description") is not None:
        out["description"] = tool["description"]
    if tool.get("parameters_json_schema") is not None:
        out["parameters"] = tool["parameters_json_schema"]
    return out


def _set_messages(x: Extraction, found: list[msgs.Message]) -> None:
    """Input messages, led by the system instructions when they are separate."""
    if x.inputs is not None:
        return
    if gen_ai.SYSTEM_INSTRUCTIONS in x.attrs and gen_ai.SYSTEM_INSTRUCTIONS not in x.consumed:
        system = gen_ai.system_message(x)
        if system is not None:
            found = [system, *found]
    x.set_inputs({"messages": found})


def _event_list(x: Extraction, key: str) -> None:
    """A list of v1.28 message event bodies, each naming its event (`event.name`)."""
    value = x.attrs[key]
    events = loads_maybe(value)
    if not isinstance(events, list) or not all(
        isinstance(e, dict) and isinstance(e.get("event.name"), str) for e in events
    ):
        if key != "events":  # `events` may be anyone's attribute: only ours is reported
            x.problem(key, "is not a list of message events", value)
        return
    x.consumed.add(key)
    inputs: list[msgs.Message] = []
    outputs: list[msgs.Message] = []
    for event in events:
        name = event["event.name"]
        m = msgs.message_from_event(name, event)
        if m is not None:
            (outputs if name == msgs.CHOICE_EVENT else inputs).append(m)
    if inputs:
        _set_messages(x, inputs)
    if outputs:
        x.set_outputs({"messages": outputs})


# --- Logfire's OpenAI / Anthropic integrations --------------------------------------


def _request(x: Extraction, obs: ObservationType) -> None:
    request = json_object(x, "request_data")
    if request is None:
        return
    if obs is G or obs is E:
        x.set_fact("provider", SCOPE_PROVIDERS.get(x.span.scope_name))
    model = request.get("model")
    if isinstance(model, str):
        x.set_fact("model", model)
    for key, value in request.items():
        if key not in REQUEST_CONTENT and value is not None:
            x.invocation_params.setdefault(key, value)
    if x.inputs is not None:
        return
    if "messages" in request:
        found = msgs.chat_messages(request["messages"], "user") or []
        system = request.get("system")  # Anthropic: text or content blocks
        if system:
            found = [msgs.message("system", msgs.content_of(system)), *found]
        x.set_inputs({"messages": found})
    elif "input" in request:
        value = request["input"]
        if obs is E:
            x.set_inputs({"input": value if isinstance(value, list) else [value]})
        else:  # the Responses API: instructions, then input text or items
            found = msgs.chat_messages(value, "user") or []
            if request.get("instructions"):
                found = [msgs.message("system", request["instructions"]), *found]
            x.set_inputs({"messages": found})
    elif "prompt" in request:
        x.set_inputs({"prompt": request["prompt"]})


def _response(x: Extraction, obs: ObservationType) -> None:
    response = json_object(x, "response_data")
    if response is None:
        return
    outputs: dict[str, Any] = {}
    message = response.get("message")
    if isinstance(message, dict):
        outputs["messages"] = [_message(message)]
    elif "combined_chunk_content" in response:  # a stream, joined
        outputs["messages"] = [msgs.message("assistant", response["combined_chunk_content"])]
        if response.get("chunk_count") is not None:
            x.set_metadata("chunk_count", response["chunk_count"])
    usage = response.get("usage")
    if isinstance(usage, dict):
        if obs is G or obs is E:
            msgs.provider_usage(x, usage)
        else:
            outputs["usage"] = usage  # not this run's own usage: kept, not counted
    for key, value in response.items():
        if key not in ("message", "combined_chunk_content", "chunk_count", "usage"):
            outputs[key] = value
    if outputs:
        x.set_outputs(outputs)


def _message(message: dict[str, Any]) -> msgs.Message:
    """A response message (OpenAI's, or Logfire's summary of Anthropic's)."""
    m = msgs.message(
        message.get("role") or "assistant",
        msgs.content_of(message.get("content")),
        tool_calls=msgs.tool_calls_of(message.get("tool_calls")),
    )
    for key, value in message.items():
        if value is not None and key not in m and key != "tool_calls":
            m[key] = value
    return m


def _usage(x: Extraction) -> None:
    a = x.attrs
    for key, (group, name) in DETAILS_USAGE.items():
        if key in a:
            value = number(x, key)
            if value is not None:
                x.set_usage_detail(group, name, value)
    if COST_KEY in a:
        cost = number(x, COST_KEY)
        if cost is not None:
            x.set_usage("total_cost", cost)
    if RAW_USAGE_KEY in a:
        raw = json_object(x, RAW_USAGE_KEY)
        if raw is not None:
            msgs.provider_usage(x, raw)


# --- plain Logfire spans ------------------------------------------------------------


def _arguments(x: Extraction) -> None:
    """A span's arguments (named by its JSON schema) as its inputs; objects and arrays
    arrive as JSON text."""
    a = x.attrs
    schema = loads_maybe(a["logfire.json_schema"])
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return
    args: dict[str, Any] = {}
    for name, spec in properties.items():
        if name not in a or "." in name or name in OWN_KEYS or name in x.consumed:
            continue
        value = a[name]
        if isinstance(spec, dict) and spec.get("type") in ("object", "array"):
            value = loads_maybe(value)
        args[name] = value
        x.consumed.add(name)
    if args:
        x.set_inputs(args)


CONVENTION = Convention(
    name="logfire",
    namespaces=NAMESPACES,
    read=read,
    markers=MARKER_KINDS,
)
