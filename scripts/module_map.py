"""Regenerate the module tree in ARCHITECTURE.md from each module's one-line docstring.

Run: `python scripts/module_map.py` (rewrites the block between the markers); `--check` exits 1 if stale.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["libs/common/src", "services/*/src", "clients/*/src", "bench"]
BEGIN, END = "<!-- module-map:begin -->", "<!-- module-map:end -->"


def _summary(path: Path) -> str:
    try:
        doc = ast.get_docstring(ast.parse(path.read_text()))
    except SyntaxError:
        return "(does not parse)"
    return (doc or "").strip().splitlines()[0] if doc else ""


def render() -> str:
    lines = ["```"]
    for pattern in SOURCES:
        for src in sorted(ROOT.glob(pattern)):
            for file in sorted(src.rglob("*.py")):
                rel = file.relative_to(ROOT)
                if "tests" in rel.parts or (file.name == "__main__.py" and not _summary(file)):
                    continue
                if file.name == "__init__.py" and not _summary(file):
                    continue
                lines.append(f"{rel!s:<72} {_summary(file)}".rstrip())
    lines.append("```")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    doc = ROOT / "ARCHITECTURE.md"
    text = doc.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    new = f"{head}{BEGIN}\n{render()}\n{END}{tail}"
    if "--check" in argv:
        if new != text:
            print("ARCHITECTURE.md module map is stale: run python scripts/module_map.py")
            return 1
        return 0
    doc.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
