"""The workflow layer (``optimizer/workflows/plan.py``): one pipeline for every edge,
giving the files and the checker's verdict the hand-written pipelines gave."""

import json

from optimizer.check import check_plan
from optimizer.io.plan_files import plan_to_dict, routes_geojson, to_json
from optimizer.kpis import plan_kpis
from optimizer.planning import PlanParams, plan_day
from optimizer.workflows.plan import CHECKING, artefacts, checked, plan_and_check
from tests.factory import order, scenario

PARAMS = PlanParams(time_limit_s=1, engine="ortools", workers=1)


def _day():
    return scenario(
        [
            order("O1", 48.852, 2.372, [("BOOK", 1)]),
            order("O2", 48.868, 2.335, [("BOOK", 2)], slot=(12, 14)),
            order("O3", 48.860, 2.350, [("BOOK", 1)], slot=(14, 16)),
        ]
    )


def test_a_checked_plan_gives_the_files_the_hand_written_pipeline_gave():
    sc = _day()
    plan = plan_day(sc, PARAMS)
    run = checked(sc, plan, extra_kpis={"peak_rss_mb": 1.0})
    kpis = plan_kpis(sc, plan)
    kpis["peak_rss_mb"] = 1.0
    plan_json = to_json(plan_to_dict(sc, plan, kpis))
    files = artefacts(sc, run)
    assert sorted(files) == ["kpis.json", "map.html", "plan.json", "routes.geojson"]
    assert files["plan.json"] == run.plan_json == plan_json
    assert files["kpis.json"] == to_json(kpis)
    assert files["routes.geojson"] == to_json(routes_geojson(sc, plan))
    report = check_plan(sc, json.loads(plan_json))
    assert (run.report.ok, run.report.kpis) == (report.ok, report.kpis)
    assert run.report.ok, run.report.violations


def test_plan_and_check_says_it_checks_after_the_routing():
    heard = []
    run = plan_and_check(_day(), PARAMS, progress=lambda f, m: heard.append((f, m)))
    assert heard[-1] == (1.0, CHECKING)
    assert run.report.ok and run.kpis["orders_total"] == 3
