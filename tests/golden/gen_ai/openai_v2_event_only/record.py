"""Record: the official OpenAI instrumentation (opentelemetry-instrumentation-openai-v2
2.4b0 on opentelemetry-util-genai 1.1b0, whose latest conventions are always on) with
`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=event_only`: the content is not on
the spans but in one `gen_ai.client.inference.operation.details` OTLP log record per
call, its `gen_ai.input.messages` / `gen_ai.output.messages` attributes. The same
program as `openai_v2_events` (a tool-calling round, then a streamed answer, then an
embedding); spans in `request.json`, log records in `logs.json`.

    /tmp/rec_g/bin/python tests/golden/gen_ai/openai_v2_event_only/record.py
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "event_only"

HERE = Path(__file__).resolve().parent
PROGRAM = HERE.parent / "openai_v2_events" / "record.py"

if __name__ == "__main__":
    spec = importlib.util.spec_from_file_location("openai_v2_events_record", PROGRAM)
    assert spec is not None and spec.loader is not None
    program = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(program)
    program.main(HERE)
