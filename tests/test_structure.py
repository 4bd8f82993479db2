"""The house's structure, checked (issue 10): import-linter holds the package contracts in
`make lint`; these two rules are about single imports, which it cannot see.

- No module imports another module's `_private` names: what a module shares, it names without `_`.
- No import inside a function, except where a comment on that line (or the line above) says why,
  for example an optional heavy dependency or an import that must not run at start-up.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "scheduler"


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        yield path.relative_to(PACKAGE.parent), source.splitlines(), ast.parse(source)


def test_no_module_imports_another_modules_private_names():
    found = []
    for path, _lines, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                found += [f"{path}:{node.lineno} from {'.' * node.level}{node.module or ''} import {a.name}"
                          for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
    assert found == []


def test_imports_inside_functions_say_why():
    found = []
    for path, lines, tree in _modules():
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    line, above = lines[node.lineno - 1], lines[node.lineno - 2].strip()
                    if "#" not in line and not above.startswith("#"):
                        found.append(f"{path}:{node.lineno} {line.strip()}")
    assert found == []
