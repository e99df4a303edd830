"""OTLP codecs: `SpanRecord` <-> OTLP protobuf and OTLP/JSON, and the SDK's `ReadableSpan`.

- `protobuf`: protobuf bytes or messages, through the optional C wire codec (`_wire*.c`)
  with the upb message path as its reference.
- `json`: OTLP/JSON.
- `sdk`: the SDK's `ReadableSpan` (not OTLP, but another carrier of spans).
- `grouping`: spans grouped by resource and scope, as OTLP's nesting expects.
- `common`: the decode error, span validity and what the codecs share.

Decoders keep spans whose ids are malformed (the converter tolerates them; `span_problem`
says what is wrong, for OTLP's partial success); only input whose structure cannot be
read raises `OTLPDecodeError`, the one documented exception for bad bytes or JSON.
Encoders group spans by resource (attributes + schema url) and by instrumentation scope.
"""

from otel_llm.otlp.common import OTLPDecodeError, span_problem
from otel_llm.otlp.json import decode_otlp_json, encode_otlp_json
from otel_llm.otlp.protobuf import (
    decode_otlp_protobuf,
    decode_request,
    encode_otlp_protobuf,
    encode_request,
)
from otel_llm.otlp.sdk import span_from_readable, span_to_readable, spans_to_readable

__all__ = [
    "OTLPDecodeError",
    "decode_otlp_json",
    "decode_otlp_protobuf",
    "decode_request",
    "encode_otlp_json",
    "encode_otlp_protobuf",
    "encode_request",
    "span_from_readable",
    "span_problem",
    "span_to_readable",
    "spans_to_readable",
]
