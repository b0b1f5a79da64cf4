"""The checker's plan reader against a real plan.json mutated at random paths (issue 13's
"Done when", items 5-7's class): huge integers, NaN and infinities, deep nesting, wrong
types, missing keys anywhere give the checker's problems (violations with short
messages; through ``lastmile check``, exit 1 or 2 with a message), never a traceback.

The plan is a small generated day planned with a 1 s budget, written as
:func:`optimizer.io.plan_files.plan_to_dict` writes it."""

from __future__ import annotations

import copy
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli import app
from data.generator import generate, write
from optimizer.check import CheckReport, check_plan
from optimizer.check.read import MAX_PLAN_DEPTH, MAX_PLAN_NUMBER, MAX_WILD_VALUES
from optimizer.io import load_scenario
from optimizer.io.plan_files import plan_to_dict
from optimizer.kpis import plan_kpis
from optimizer.planning import PlanParams, plan_day

MAX_MESSAGE_CHARS = 600
runner = CliRunner()


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    """``(scenario folder, scenario, plan.json as a dict)`` of a 12-order day."""
    folder = tmp_path_factory.mktemp("fuzz-day") / "day"
    write(generate(12, 2), folder)
    scenario = load_scenario(folder)
    plan = plan_day(scenario, PlanParams(time_limit_s=1.0, workers=1))
    document = json.loads(json.dumps(plan_to_dict(scenario, plan, plan_kpis(scenario, plan))))
    assert check_plan(scenario, document).ok
    return folder, scenario, document


def paths(value, prefix=()) -> list[tuple]:
    """Every path (keys and indices) into ``value``, its root included."""
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += paths(item, (*prefix, i))
    return out


def nested(depth: int):
    """A list ``depth`` levels deep: ``[[[...[1]...]]]``."""
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


HUGE_INTEGERS = st.one_of(
    st.integers(min_value=2**63),
    st.integers(max_value=-(2**63) - 1),
    st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**30, 2**4000]),  # 2**4000: 1,205 digits
)
WILD = st.one_of(
    HUGE_INTEGERS,
    st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -1e300]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.integers(MAX_PLAN_DEPTH, 3 * MAX_PLAN_DEPTH).map(nested),
    st.sampled_from([nested(900), "x" * 100_000, {"": None}, [], {}]),
    st.none(),
    st.booleans(),
    st.text(max_size=20),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=6,
    ),
)


def mutate(document: dict, path: tuple, how: str, value) -> dict:
    """``document`` with the value at ``path`` replaced by ``value``, wrapped in a list, or
    its key removed (``how``); the root is replaced by ``value`` itself."""
    out = copy.deepcopy(document)
    if not path:
        return value
    parent = out
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if how == "remove":
        del parent[last]
    elif how == "wrap":
        parent[last] = [parent[last]]
    else:
        parent[last] = value
    return out


def assert_clear(report: object) -> None:
    assert isinstance(report, CheckReport)
    for violation in report.violations:
        assert isinstance(violation.message, str)
        assert len(violation.message) <= MAX_MESSAGE_CHARS, violation.message[:200]


@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_mutated_plan_gives_violations_never_a_traceback(day, data):
    _, scenario, document = day
    path = data.draw(st.sampled_from(paths(document)), label="path")
    how = data.draw(st.sampled_from(["replace", "replace", "replace", "remove", "wrap"]))
    value = data.draw(WILD, label="value")
    mutated = mutate(document, path, how, value)
    report = check_plan(scenario, mutated)
    assert_clear(report)


@pytest.mark.parametrize(
    "value, why",
    [
        (math.nan, "not finite"),
        (math.inf, "not finite"),
        (2**63, "too large"),
        (-(2**64), "too large"),
        (2**4000, "too large"),
        (nested(MAX_PLAN_DEPTH + 5), f"nested deeper than {MAX_PLAN_DEPTH}"),
    ],
    ids=["nan", "inf", "2^63", "-2^64", "2^4000", "deep"],
)
def test_a_wild_value_anywhere_is_a_violation_naming_its_path(day, value, why):
    """Even in a field the checker does not otherwise read (the sourcing explanation)."""
    _, scenario, document = day
    for path in [("sourcing", 0, "cost_eur"), ("routes", 0, "stops", 0, "lines", 0, "qty")]:
        report = check_plan(scenario, mutate(document, path, "replace", value))
        assert not report.ok
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
        located = [v for v in report.violations if where.lstrip(".") in v.message]
        assert located and why in located[0].message, report.violations
    assert abs(2**63) > MAX_PLAN_NUMBER


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_lastmile_check_of_a_mutated_plan_json_exits_1_or_2_with_a_message(day, data, tmp_path):
    folder, _, document = day
    path = data.draw(st.sampled_from(paths(document)), label="path")
    value = data.draw(WILD, label="value")
    plan_json = tmp_path / "plan.json"
    # NaN and infinities are written as NaN, Infinity (not JSON: the reader says so).
    plan_json.write_text(json.dumps(mutate(document, path, "replace", value)))
    result = runner.invoke(app, ["check", str(folder), str(plan_json)])
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    if result.exit_code == 2:
        assert str(plan_json) in result.output


@pytest.mark.parametrize(
    "text, says",
    [
        ('{"routes": NaN}', "NaN is not a JSON number"),
        ('{"routes": [Infinity]}', "Infinity is not a JSON number"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"max_split": ' + "9" * 5000 + "}", "not a readable JSON plan"),
        ("[1, 2]", "a plan is a JSON object"),
        (b"\xff\xfe{}", "not UTF-8"),
    ],
)
def test_lastmile_check_names_an_unreadable_plan_json(day, tmp_path, text, says):
    folder, _, _ = day
    plan_json = tmp_path / "plan.json"
    if isinstance(text, bytes):
        plan_json.write_bytes(text)
    else:
        plan_json.write_text(text)
    result = runner.invoke(app, ["check", str(folder), str(plan_json)])
    assert result.exit_code == 2, result.output
    assert says in result.output and "Traceback" not in result.output


def test_lastmile_check_reports_a_huge_integer_as_a_violation(day, tmp_path):
    folder, _, document = day
    plan_json = tmp_path / "plan.json"
    plan_json.write_text(json.dumps(mutate(document, ("max_split",), "replace", 2**63)))
    result = runner.invoke(app, ["check", str(folder), str(plan_json)])
    assert result.exit_code == 1, result.output
    assert "max_split" in result.output and "too large" in result.output


def test_paths_and_mutations_cover_the_document(day):
    _, _, document = day
    found = paths(document)
    assert ("routes", 0, "stops", 0, "lines", 0, "qty") in found and len(found) > 200


def test_a_plan_full_of_wild_values_lists_a_few_and_says_there_are_more(day):
    _, scenario, document = day
    wild = copy.deepcopy(document)
    for route in wild["routes"]:
        for stop in route["stops"]:
            stop["distance_from_prev_m"] = math.nan
            stop["load_kg"] = 2**70
    report = check_plan(scenario, wild)
    listed = [v for v in report.violations if "not finite" in v.message or "too large" in v.message]
    assert 0 < len(listed) <= MAX_WILD_VALUES
    assert any("more values like these" in v.message for v in report.violations)
