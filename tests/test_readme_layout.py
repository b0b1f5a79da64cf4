"""The README's layout section is the code's own: written from the package and module
docstrings by ``.ci/readme_layout.py`` (issue 14), so it cannot drift from the tree."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tool():
    spec = importlib.util.spec_from_file_location("readme_layout", ROOT / ".ci/readme_layout.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_layout_is_written_from_the_docstrings():
    tool = _tool()
    section = tool.readme_section((ROOT / "README.md").read_text(encoding="utf-8"))
    assert section is not None, "README.md lost its layout markers"
    assert section == tool.layout(), "run: python .ci/readme_layout.py --write"


def test_every_package_and_module_says_what_it_is():
    """A module without a docstring would show as "(no docstring)" in the README."""
    assert "(no docstring)" not in _tool().layout()
