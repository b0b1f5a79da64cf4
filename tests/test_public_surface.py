"""The core's public surface (``optimizer/__init__.py``): every name listed resolves,
and importing the package alone loads no routing engine (the names load on first use)."""

import subprocess
import sys

import optimizer


def test_every_public_name_resolves():
    for name in optimizer.__all__:
        assert getattr(optimizer, name) is not None, name


def test_an_unknown_name_is_an_attribute_error():
    try:
        optimizer.no_such_thing  # noqa: B018
    except AttributeError as error:
        assert "no_such_thing" in str(error)
    else:
        raise AssertionError("expected AttributeError")


def test_importing_the_core_loads_no_engine():
    code = "import sys, optimizer.model; print('pyvrp' in sys.modules, 'ortools' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
