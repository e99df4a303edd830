"""Forwarding: every run `otel-llm serve` stores, sent on to OTLP backends and
LangSmith-compatible endpoints, durably (an outbox in the store, see
`otel_llm.store.sqlite.outbox`).

`destinations` parses `--forward` URLs and holds one client per protocol; `forwarder`
runs one delivery thread per destination.
"""

from otel_llm.forward.destinations import (
    DestinationSink,
    DestinationSpec,
    parse_destination,
    split_urls,
)
from otel_llm.forward.forwarder import DestinationStats, Forwarder, ForwardSettings

__all__ = [
    "DestinationSink",
    "DestinationSpec",
    "DestinationStats",
    "ForwardSettings",
    "Forwarder",
    "parse_destination",
    "split_urls",
]
