"""Record the same workflow as ../sdk_workflow/record.py with older releases
(traceloop-sdk 0.40.14, openai 1.82, anthropic 0.52), which write the legacy flattened
gen_ai.prompt.{i}.* / gen_ai.completion.{i}.* keys.

    python tests/golden/traceloop/legacy_v0_40/record.py   # in the venv of older releases
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

here = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location(
    "sdk_workflow_record", here.parent / "sdk_workflow" / "record.py"
)
assert spec is not None and spec.loader is not None
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)

if __name__ == "__main__":
    module.main(here)
