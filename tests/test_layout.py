"""The layout is the architecture: the core never imports the service."""

import ast
from pathlib import Path

OPTIMIZER = Path(__file__).resolve().parent.parent / "optimizer"


def test_the_core_never_imports_the_api():
    offenders = []
    for path in OPTIMIZER.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n == "api" or n.startswith("api.")]
    assert offenders == []
