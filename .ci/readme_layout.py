"""The README's layout section, written from the code's own docstrings (issue 14).

Each package and top-level module of ``optimizer/``, ``cli/``, ``api/`` and ``data/`` is
listed with the first paragraph of its docstring, and each package with the modules it
holds. The README keeps the result between two markers; ``tests/test_readme_layout.py``
fails when the code and the README disagree, and

    python .ci/readme_layout.py --write

rewrites the README's section from the code.
"""

import argparse
import ast
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOPS = ("optimizer", "cli", "api", "data")
START = "<!-- layout: written by .ci/readme_layout.py from the docstrings; do not edit -->"
END = "<!-- layout: end -->"
NAME_WIDTH = 22
WIDTH = 92


def _summary(path: Path) -> str:
    """The first paragraph of the module's docstring, on one line."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or "(no docstring)"
    return " ".join(doc.split("\n\n")[0].split())


def _entry(name: str, text: str, depth: int) -> list[str]:
    indent = "  " * depth
    head = f"{indent}{name}".ljust(NAME_WIDTH)
    if len(head) > NAME_WIDTH:
        head += " "
    lines = textwrap.wrap(
        text, width=WIDTH, initial_indent=head, subsequent_indent=" " * NAME_WIDTH
    )
    return lines or [head.rstrip()]


def _package(path: Path, depth: int) -> list[str]:
    """A package: its docstring, its modules by name, then its sub-packages."""
    lines = _entry(f"{path.name}/", _summary(path / "__init__.py"), depth)
    modules = sorted(
        p.name for p in path.glob("*.py") if p.name not in ("__init__.py", "__main__.py")
    )
    subpackages = sorted(p for p in path.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    if depth > 0 and modules:
        lines += textwrap.wrap(
            ", ".join(modules),
            width=WIDTH,
            initial_indent=" " * NAME_WIDTH,
            subsequent_indent=" " * NAME_WIDTH,
        )
    if depth == 0:
        for name in modules:
            lines += _entry(name, _summary(path / name), depth + 1)
    for sub in subpackages:
        if sub.name in ("migrations", "versions"):
            continue
        lines += _package(sub, depth + 1)
    return lines


def layout() -> str:
    """The section's text (between the markers), from the code as it is."""
    lines = ["```"]
    for top in TOPS:
        if (ROOT / top / "__init__.py").exists():
            lines += _package(ROOT / top, 0)
    lines.append("```")
    return "\n".join(lines)


def readme_section(readme: str) -> str | None:
    """The README's current section between the markers, or None without markers."""
    if START not in readme or END not in readme:
        return None
    return readme.split(START, 1)[1].split(END, 1)[0].strip("\n")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite README.md's section")
    args = parser.parse_args(argv)
    text = layout()
    if not args.write:
        print(text)
        return 0
    readme_path = ROOT / "README.md"
    readme = readme_path.read_text(encoding="utf-8")
    if readme_section(readme) is None:
        print(f"README.md has no {START!r} ... {END!r} markers", file=sys.stderr)
        return 1
    before, rest = readme.split(START, 1)
    after = rest.split(END, 1)[1]
    readme_path.write_text(f"{before}{START}\n{text}\n{END}{after}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
