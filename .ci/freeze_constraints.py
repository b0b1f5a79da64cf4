"""Print the pinned versions of lastmile[dev] and everything it pulls in, as installed.

    python .ci/freeze_constraints.py > constraints.txt

Run it in an environment where the whole suite passes: ``constraints.txt`` is what
``.ci/run`` and the README's commands install (``pip install -c constraints.txt``), so a
new release of a dependency cannot turn main red until someone upgrades on purpose.
"""

from importlib.metadata import PackageNotFoundError, distribution

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

HEADER = """\
# Versions CI and the README's commands install (pip install -c constraints.txt ...):
# the closure of lastmile[dev] as tested. Regenerate after an upgrade, in an environment
# where the suite passes: python .ci/freeze_constraints.py > constraints.txt"""


def closure(name: str, extras: tuple[str, ...] = ()) -> dict[str, tuple[str, str]]:
    """``{canonical name: (name, version)}`` of ``name`` and its requirements, recursively
    (requirements whose markers hold here, with the extras asked for)."""
    seen: dict[str, tuple[str, str]] = {}

    def walk(name: str, extras: tuple[str, ...]) -> None:
        try:
            dist = distribution(name)
        except PackageNotFoundError:  # an optional requirement not installed here
            return
        seen.setdefault(canonicalize_name(name), (dist.metadata["Name"], dist.version))
        for text in dist.requires or []:
            req = Requirement(text)
            envs = [{"extra": e} for e in (extras or ("",))]
            if req.marker and not any(req.marker.evaluate(e) for e in envs):
                continue
            if canonicalize_name(req.name) not in seen or req.extras:
                walk(req.name, tuple(req.extras))

    walk(name, extras)
    return seen


if __name__ == "__main__":
    pins = closure("lastmile", ("dev",))
    pins.pop("lastmile", None)
    print(HEADER)
    for key in sorted(pins):
        print("{}=={}".format(*pins[key]))
