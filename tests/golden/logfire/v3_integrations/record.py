"""Record (older releases: logfire 3.16, pydantic-ai 0.2.4, openai 1.82, anthropic 0.52):
the app of ../pydantic_ai_agent/record.py (Pydantic Logfire's OpenAI and Anthropic
integrations and a Pydantic AI agent with a tool, against the fake API), into this folder.

    python tests/golden/logfire/v3_integrations/record.py   # in the venv of older releases
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Loaded by path: both scripts are named record.py.
_spec = importlib.util.spec_from_file_location(
    "pydantic_ai_agent_record", HERE.parent / "pydantic_ai_agent" / "record.py"
)
assert _spec is not None and _spec.loader is not None
_app = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_app)

if __name__ == "__main__":
    _app.main(HERE)
