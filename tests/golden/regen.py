"""Show, and with --write rewrite, the expected runs of the golden cases.

Every case is a folder `tests/golden/<convention>/<case>/` (cases.py says what it
holds). This script converts each case with the current code and prints a unified diff
against its expected files (runs, and feedback where there is any), so a reviewer sees
exactly what a change does; `--write` replaces the files.

    python tests/golden/regen.py [--write] [CASE_DIR ...]

Exit status: 0 when nothing differs (or after --write), 1 when a diff was printed.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).resolve().parent
sys.path.insert(0, str(GOLDEN.parents[1]))

from cases import cases, expected  # noqa: E402


def _text(body: Any) -> str:
    return json.dumps(body, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite the expected files")
    parser.add_argument("case", nargs="*", type=Path, help="case folders (default: all)")
    args = parser.parse_args(argv)
    changed = 0
    targets = [
        (case / name, _text(body))
        for case in [c.resolve() for c in args.case] or cases()
        for name, body in expected(case).items()
    ]
    for target, new in targets:
        old = target.read_text(encoding="utf-8") if target.exists() else ""
        if new == old:
            continue
        changed += 1
        name = str(target.relative_to(GOLDEN))
        if args.write:
            target.write_text(new, encoding="utf-8")
            print(f"wrote {name}")
        else:
            sys.stdout.writelines(
                difflib.unified_diff(
                    old.splitlines(keepends=True),
                    new.splitlines(keepends=True),
                    f"{name} (checked in)",
                    f"{name} (current code)",
                )
            )
    if not args.write and changed:
        print(f"\n{changed} case(s) differ; run with --write to accept", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
