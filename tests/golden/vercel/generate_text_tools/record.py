"""Turn the spans that record.mjs captured from the REAL Vercel AI SDK into this case's
request.json (an OTLP/JSON ExportTraceServiceRequest, as an OTLP exporter sends it).

    python tests/golden/vercel/generate_text_tools/record.py /tmp/rec_vercel/spans.json

See record.mjs for how the spans were recorded.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[3]))

from otel_llm.otlp import decode_otlp_json, encode_otlp_json  # noqa: E402


def main(captured: Path) -> None:
    raw = json.loads(captured.read_text(encoding="utf-8"))
    request = {
        "resourceSpans": [
            {
                "resource": {"attributes": raw["resource"]},
                "scopeSpans": [{"scope": raw["scope"], "spans": raw["spans"]}],
            }
        ]
    }
    spans = decode_otlp_json(json.dumps(request).encode())  # validates the request
    body = json.loads(encode_otlp_json(spans))
    out = HERE / "request.json"
    out.write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{out}: {len(spans)} spans")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/rec_vercel/spans.json"))
