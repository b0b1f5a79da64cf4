"""The layout is the architecture: the import contract as one table (issue 14).

Every ``import`` and ``from ... import`` in ``optimizer/``, ``api/``, ``cli/`` and ``data/`` is
read with :mod:`ast`, lazy imports inside functions included, relative imports resolved, and
``from package import module`` counted as an import of the module. Each row of
:data:`CONTRACT` is one rule; :data:`KNOWN_EXCEPTIONS` lists what the code breaks today,
each with the step of issue 14 that removes it. A new violation fails, and so does an
exception that no longer happens (delete it from the table: the rule now holds there).
"""

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("optimizer", "api", "cli", "data")


@dataclass(frozen=True)
class Import:
    """One imported module (``target``) and, for ``from ... import``, the names taken."""

    importer: str  # dotted module name of the importing file
    target: str  # dotted module name imported (absolute)
    names: tuple[str, ...]


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> frozenset[str]:
    return frozenset(_module_name(p) for top in SCANNED for p in (ROOT / top).rglob("*.py"))


def _imports_of(path: Path) -> Iterator[Import]:
    importer = _module_name(path)
    package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(importer, alias.name, ())
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([module] if module else []))
            names = tuple(alias.name for alias in node.names)
            submodules = [n for n in names if f"{module}.{n}" in _modules()]
            rest = tuple(n for n in names if n not in submodules)
            if rest or not submodules:
                yield Import(importer, module, rest)
            for name in submodules:
                yield Import(importer, f"{module}.{name}", ())


@cache
def all_imports() -> tuple[Import, ...]:
    return tuple(
        imp
        for top in SCANNED
        for path in sorted((ROOT / top).rglob("*.py"))
        for imp in _imports_of(path)
    )


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _package(module: str) -> str:
    """``optimizer.planning`` for ``optimizer.planning``; ``optimizer.check`` for
    ``optimizer.check.read``; ``api`` for ``api.routes.plans``: the unit a rule calls a package."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "optimizer" else parts[0]


def forbidden(
    importers: tuple[str, ...],
    targets: tuple[str, ...],
    unless_importer: tuple[str, ...] = (),
    unless_target: tuple[str, ...] = (),
) -> Callable[[], set[str]]:
    """A rule: modules under ``importers`` (but not ``unless_importer``) never import a
    module under ``targets`` (but not ``unless_target``)."""

    def violations() -> set[str]:
        return {
            f"{imp.importer} -> {imp.target}"
            for imp in all_imports()
            if _under(imp.importer, importers)
            and not _under(imp.importer, unless_importer)
            and _under(imp.target, targets)
            and not _under(imp.target, unless_target)
        }

    return violations


def private_names_across_packages() -> set[str]:
    """``from x import _name`` where ``x`` is another package's module. Inside one package
    it is the package's own business (``check/`` does it by design)."""
    return {
        f"{imp.importer} -> {imp.target}.{name}"
        for imp in all_imports()
        if _package(imp.importer) != _package(imp.target)
        for name in imp.names
        if name.startswith("_") and not name.startswith("__")
    }


def package_cycles() -> set[str]:
    """Each group of optimizer's packages that import each other in a circle, as
    ``"a, b, c"`` (the members of one strongly connected component, sorted)."""
    graph: dict[str, set[str]] = {}
    for imp in all_imports():
        a, b = _package(imp.importer), _package(imp.target)
        if a.startswith("optimizer.") and b.startswith("optimizer.") and a != b:
            graph.setdefault(a, set()).add(b)
            graph.setdefault(b, set())

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    reachable = {p: reach(p) for p in graph}
    return {
        ", ".join(sorted(q for q in graph if q in reachable[p] and p in reachable[q]))
        for p in graph
        if p in reachable[p]
    }


def routes_outside_their_layer() -> set[str]:
    """What ``api/routes/*`` import of the project (and of SQLAlchemy) beyond
    :data:`ROUTES_MAY_IMPORT` and the core's public surface, ``optimizer`` itself."""
    return {
        f"{imp.importer} -> {imp.target}"
        for imp in all_imports()
        if _under(imp.importer, ("api.routes",))
        and _under(imp.target, ("api", "optimizer", "cli", "data", "sqlalchemy"))
        and not _under(imp.target, ROUTES_MAY_IMPORT)
        and imp.target != "optimizer"
    }


# What a route may import of the service: the template's layers below the routes.
ROUTES_MAY_IMPORT = ("api.deps", "api.errors", "api.schemas", "api.services", "api.auth")

SOLVER_PACKAGES = tuple(
    f"optimizer.{p}"
    for p in (
        "routing",
        "planning",
        "sourcing",
        "promise",
        "insertion",
        "live",
        "scale",
        "network",
    )
)

# The import contract: one row per rule.
CONTRACT: dict[str, Callable[[], set[str]]] = {
    # 1. The core never imports its edges, nor the libraries only they use.
    "core never imports the edges": forbidden(
        importers=("optimizer",),
        targets=("cli", "api", "data", "typer", "rich", "fastapi", "sqlalchemy"),
    ),
    # 2. The checker is independent: it shares no code with the solver.
    "checker imports only model and travel": forbidden(
        importers=("optimizer.check",),
        targets=("optimizer",),
        unless_target=("optimizer.model", "optimizer.travel", "optimizer.check"),
    ),
    # 3. Only optimizer/io and optimizer/workflows open files.
    "solver packages never import io": forbidden(
        importers=SOLVER_PACKAGES, targets=("optimizer.io",)
    ),
    # 4. Inside the core, only the workflow layer composes solver and checker.
    "only workflows import the checker": forbidden(
        importers=("optimizer",),
        targets=("optimizer.check",),
        unless_importer=("optimizer.check", "optimizer.workflows"),
    ),
    # 4b. The shipped service carries no dev tooling: the CLI (simulate, bench drivers)
    # imports the service, never the other way round.
    "the service never imports the cli": forbidden(
        importers=("api",), targets=("cli", "fastapi.testclient")
    ),
    # 5. No ``from x import _private`` across packages.
    "no private name across packages": private_names_across_packages,
    # 6. No import cycle between optimizer's packages.
    "no cycle between packages": package_cycles,
    # 7. The API's routes translate HTTP only: they import api.{deps,errors,schemas,
    #    services,auth} and the core's public surface (``from optimizer import ...``).
    "api routes import only deps, errors, schemas, services, auth and optimizer": (
        routes_outside_their_layer
    ),
}

# What the code breaks today, each with the step of issue 14 that removes it.
KNOWN_EXCEPTIONS: dict[str, dict[str, str]] = {}


@pytest.mark.parametrize("rule", CONTRACT)
def test_the_import_contract(rule):
    found = CONTRACT[rule]()
    known = KNOWN_EXCEPTIONS.get(rule, {})
    assert sorted(found - known.keys()) == [], f"new violations of {rule!r}"
    assert sorted(known.keys() - found) == [], f"{rule!r} now holds there: drop the exception"


def test_the_scanner_sees_lazy_and_submodule_imports():
    """The scanner itself: an import inside a function body and ``from package import
    module`` are both seen (the rules above rely on it)."""
    seen = {(i.importer, i.target) for i in all_imports()}
    assert ("cli.generate", "data.generator") in seen  # lazy, inside ``generate``
    assert ("optimizer.check.checker", "optimizer.check.read") in seen
    assert all(target and not target.startswith(".") for _, target in seen)
