#!/usr/bin/env python
"""Behaviour oracle for a restructuring: capture deterministic outputs of lastmile.

    PYTHONPATH=/path/to/tree-before python .ci/behaviour.py before/
    PYTHONPATH=/path/to/tree-after  python .ci/behaviour.py after/
    diff -r -x '00_*' before/ after/          # empty: same behaviour

Imports lastmile from whatever directory is first on PYTHONPATH and writes one JSON file
per capture (sorted keys) into OUTDIR: a generated day's file hashes, plans of the Paris
sample and a generated day (PyVRP and OR-Tools) with their KPIs and checker verdicts, the
checker on a fixed and a tampered plan, re-plans (failed stop under each policy,
breakdown, delay, an invalid state), 20 promise answers, the CLI's runs, options and help
texts, and the sourcing rows. Issue 14 (the redesign) was checked with it at every merge.

Determinism: PyVRP's stopping criterion (``_Deadline``, wall clock today) is replaced by a
fixed number of iterations per ``pyvrp.solve`` call, every time limit is huge, workers=1,
and OR-Tools gets a solution limit. Timing fields (``solve_s``, ``peak_rss_mb``) are set to
0 before anything is derived from them, or stripped.

Only public names are used; each import is a small try-chain (old path, new path) and
``00_imports.json`` records which one was used (it is excluded from the comparison by
compare.sh, being expected to differ).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import importlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

# Rich/typer output: fixed width, no colour (set before anything imports rich).
os.environ["COLUMNS"] = "200"
os.environ["LINES"] = "50"
os.environ["TERM"] = "dumb"
os.environ["NO_COLOR"] = "1"
os.environ.pop("FORCE_COLOR", None)
os.environ["_TYPER_FORCE_DISABLE_TERMINAL"] = "1"

ITERATIONS = int(os.environ.get("CAPTURE_ITERATIONS", "300"))
ORTOOLS_SOLUTIONS = int(os.environ.get("CAPTURE_ORTOOLS_SOLUTIONS", "200"))
HUGE_S = 1.0e6
VOLATILE_KEYS = {"solve_s", "peak_rss_mb"}

USED: dict[str, str] = {}
TIMINGS: dict[str, float] = {}


def pick(what: str, *candidates: str):
    """The first importable ``module:attr`` of ``candidates`` (recorded in USED)."""
    errors = []
    for cand in candidates:
        module, _, attr = cand.partition(":")
        try:
            obj = importlib.import_module(module)
            for part in attr.split(".") if attr else []:
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            errors.append(f"{cand}: {exc!r}")
            continue
        USED[what] = cand
        return obj
    raise ImportError(f"{what}: none of {candidates} importable: {errors}")


# -- JSON -------------------------------------------------------------------------------


def plain(x):
    """A JSON-able, deterministic view of dataclasses, enums, numpy values, sets..."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: plain(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if isinstance(x, enum.Enum):
        return plain(x.value)
    if isinstance(x, dict):
        return {str(plain(k)) if not isinstance(k, str) else k: plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, (set, frozenset)):
        return sorted((plain(v) for v in x), key=repr)
    if hasattr(x, "item") and callable(x.item) and getattr(x, "shape", None) == ():
        return plain(x.item())
    if hasattr(x, "tolist"):
        return plain(x.tolist())
    if isinstance(x, float):
        if math.isnan(x) or math.isinf(x):
            return repr(x)
        return x
    if isinstance(x, (str, int, bool)) or x is None:
        return x
    return repr(x)


def scrub(x):
    """Drop the timing fields, recursively."""
    if isinstance(x, dict):
        return {k: scrub(v) for k, v in x.items() if k not in VOLATILE_KEYS}
    if isinstance(x, list):
        return [scrub(v) for v in x]
    return x


def dump(out: Path, name: str, data) -> None:
    text = json.dumps(scrub(plain(data)), indent=1, sort_keys=True, ensure_ascii=False)
    (out / name).write_text(text + "\n", encoding="utf-8")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- determinism patches ----------------------------------------------------------------


SOLVES = {"pyvrp.solve calls": 0, "pyvrp stop calls": 0}


def patch_solvers() -> None:
    """Iteration-counted PyVRP searches, solution-limited OR-Tools searches. Done before
    lastmile is imported."""
    import pyvrp

    real_solve = pyvrp.solve

    def solve(data, stop, *args, **kwargs):
        # Every search stops after ITERATIONS calls of its stopping criterion, whatever
        # the criterion (lastmile's wall-clock _Deadline today, or its successor), and
        # earlier if the criterion says so (e.g. the two-stage search's "all served").
        SOLVES["pyvrp.solve calls"] += 1
        calls = [0]

        def counted(best_cost):
            calls[0] += 1
            SOLVES["pyvrp stop calls"] += 1
            return calls[0] > ITERATIONS or bool(stop(best_cost))

        return real_solve(data, counted, *args, **kwargs)

    pyvrp.solve = solve
    USED["pyvrp stop"] = "pyvrp.solve (patched: stop after ITERATIONS criterion calls)"
    try:  # and the criterion itself, as the brief asks (same effect, belt and braces)
        deadline = pick(
            "pyvrp _Deadline",
            "optimizer.routing.pyvrp_engine:_Deadline",
            "optimizer.routing.pyvrp.stop:_Deadline",
            "optimizer.routing.stop:_Deadline",
        )
    except ImportError:
        USED["pyvrp _Deadline"] = "not found (pyvrp.solve patch alone)"
    else:

        def __call__(self, best_cost):  # noqa: N807 - PyVRP's stopping-criterion signature
            n = getattr(self, "_capture_calls", 0) + 1
            self._capture_calls = n
            return self.done() or n > ITERATIONS

        deadline.__call__ = __call__

    # OR-Tools: a solution limit on every routing search (patched in OR-Tools' own module,
    # so whichever lastmile module builds the parameters gets it).
    try:
        from ortools.constraint_solver import pywrapcp
    except ImportError:
        return
    real = pywrapcp.DefaultRoutingSearchParameters

    def default_routing_search_parameters():
        params = real()
        params.solution_limit = ORTOOLS_SOLUTIONS
        return params

    pywrapcp.DefaultRoutingSearchParameters = default_routing_search_parameters
    USED["ortools solution limit"] = "ortools.constraint_solver.pywrapcp (patched)"


# -- the pieces -------------------------------------------------------------------------


class Lm:
    """The lastmile names used, resolved once."""

    def __init__(self):
        self.load_scenario = pick(
            "load_scenario",
            "optimizer.io.scenario_reader:load_scenario",
            "optimizer.io:load_scenario",
            "optimizer:load_scenario",
        )
        self.PlanParams = pick(
            "PlanParams", "optimizer.planning:PlanParams", "optimizer:PlanParams"
        )
        self.plan_day = pick("plan_day", "optimizer.planning:plan_day", "optimizer:plan_day")
        self.check_plan = pick("check_plan", "optimizer.check:check_plan", "optimizer:check_plan")
        self.plan_to_dict = pick(
            "plan_to_dict",
            "optimizer.io.plan_files:plan_to_dict",
            "optimizer.io:plan_to_dict",
        )
        self.plan_from_dict = pick(
            "plan_from_dict",
            "optimizer.io.plan_files:plan_from_dict",
            "optimizer.io:plan_from_dict",
        )
        self.plan_kpis = pick("plan_kpis", "optimizer.kpis:plan_kpis", "optimizer:plan_kpis")
        self.SourcingParams = pick(
            "SourcingParams",
            "optimizer.sourcing:SourcingParams",
            "optimizer:SourcingParams",
        )
        for name in (
            "replan",
            "LiveState",
            "ReplanParams",
            "StopFact",
            "TripFacts",
            "FailedPolicy",
        ):
            setattr(
                self,
                name,
                pick(
                    name,
                    f"optimizer.live.replan:{name}",
                    f"optimizer.live:{name}",
                    f"optimizer:{name}",
                ),
            )
        self.with_order_changes = pick("with_order_changes", "optimizer.model:with_order_changes")
        self.OrderLine = pick("OrderLine", "optimizer.model:OrderLine")
        self.Service = pick("Service", "optimizer.model:Service")
        self.GreatCircle = pick("GreatCircle", "optimizer.travel:GreatCircle")
        self.PromiseEngine = pick(
            "PromiseEngine",
            "optimizer.promise:PromiseEngine",
            "optimizer:PromiseEngine",
        )
        self.generate = pick("generate", "data.generator:generate")
        self.write = pick("write", "data.generator:write")

    def params(self, engine="pyvrp"):
        return self.PlanParams(time_limit_s=HUGE_S, engine=engine, workers=1)


def planned(lm: Lm, scenario, engine="pyvrp"):
    """plan_day deterministically; (plan, kpis, plan.json document as parsed JSON)."""
    plan = lm.plan_day(scenario, lm.params(engine))
    plan.solve_s = 0.0
    day = lm.with_order_changes(scenario, plan.order_changes)
    kpis = lm.plan_kpis(day, plan)
    doc = json.loads(json.dumps(lm.plan_to_dict(day, plan, kpis)))
    return plan, kpis, doc


def verdict(report) -> dict:
    return {
        "ok": report.ok,
        "violations": [plain(v) for v in report.violations],
        "kpis": plain(report.kpis),
    }


def capture_generate(lm: Lm, out: Path, tmp: Path) -> Path:
    folder = tmp / "gen-300-s5"
    lm.write(lm.generate(orders=300, seed=5), folder)
    dump(
        out,
        "01_generate_300o_s5.json",
        {"files": {p.name: sha256(p) for p in sorted(folder.iterdir())}},
    )
    return folder


def capture_plan(lm: Lm, out: Path, name: str, scenario, engine="pyvrp"):
    plan, kpis, doc = planned(lm, scenario, engine)
    report = lm.check_plan(scenario, doc)
    dump(out, f"{name}.json", {"plan_json": doc, "kpis": kpis, "check": verdict(report)})
    return plan, doc


def capture_check(lm: Lm, out: Path, paris, doc: dict) -> None:
    # 4. the checker on a fixed plan.json (the one from 2, re-read) and on a tampered one.
    reread = lm.check_plan(paris, json.loads(json.dumps(doc)))
    tampered = json.loads(json.dumps(doc))
    if tampered["routes"] and tampered["routes"][0]["stops"]:
        tampered["routes"][0]["stops"] = tampered["routes"][0]["stops"][::-1]
    tampered["kpis"]["cost_eur"] = tampered["kpis"].get("cost_eur", 0) + 1.0
    bad = lm.check_plan(paris, tampered)
    roundtrip = lm.plan_to_dict(
        paris, lm.plan_from_dict(paris, doc), doc["kpis"]
    )  # plan_from_dict then plan_to_dict
    dump(
        out,
        "04_check_fixed_plan.json",
        {
            "check_paris_plan": verdict(reread),
            "check_tampered_plan": verdict(bad),
            "plan_from_dict_roundtrip_differs": {
                k: v for k, v in json.loads(json.dumps(roundtrip)).items() if doc.get(k) != v
            },
        },
    )


def _facts(lm: Lm, route, done: int, fail=frozenset(), delay_s: int = 0):
    facts = []
    for k, stop in enumerate(route.stops[: done + 1]):
        outcome = "in_progress" if k == done else "failed" if stop.order_id in fail else "delivered"
        facts.append(
            lm.StopFact(
                stop.order_id,
                outcome,
                stop.arrival_s + delay_s,
                stop.departure_s + delay_s,
                "nobody_home" if outcome == "failed" else None,
            )
        )
    return lm.TripFacts(route.start_s, tuple(facts))


def capture_replans(lm: Lm, out: Path, scenario, plan, label: str) -> None:
    """Re-plans as tests/test_replan.py builds them, on a real plan."""
    deliveries = [r for r in plan.routes if sum(not s.is_pickup for s in r.stops) >= 3]
    route = max(deliveries, key=lambda r: (len(r.stops), r.vehicle_id, r.start_s))
    first = route.stops[0].order_id
    cases = {}

    def run(name, state, day=scenario, **params):
        rp = lm.ReplanParams(time_limit_s=HUGE_S, **params)
        started = time.perf_counter()
        try:
            new, report = lm.replan(day, plan, state, rp)
        except Exception as exc:  # an error is an answer too
            cases[name] = {"error": f"{type(exc).__name__}: {exc}"}
            return
        new.solve_s = 0.0
        changed = lm.with_order_changes(day, new.order_changes)
        doc = json.loads(json.dumps(lm.plan_to_dict(changed, new, lm.plan_kpis(changed, new))))
        cases[name] = {
            "plan_json": doc,
            "report": report.to_dict(),
            "check": verdict(lm.check_plan(day, doc)),
        }
        TIMINGS[f"replan {label} {name}"] = round(time.perf_counter() - started, 2)

    facts = _facts(lm, route, done=1, fail={first})
    failed_state = lm.LiveState(now_s=facts.stops[-1].arrival_s, trips={route.vehicle_id: (facts,)})
    for policy in lm.FailedPolicy:
        run(f"first_stop_failed_{policy.value}", failed_state, policy=policy)

    facts = _facts(lm, route, done=1)
    facts = dataclasses.replace(facts, stops=facts.stops[:1])
    run(
        "breakdown_after_one",
        lm.LiveState(
            now_s=facts.stops[0].departure_s + 60,
            trips={route.vehicle_id: (facts,)},
            broken_down=frozenset({route.vehicle_id}),
        ),
    )
    facts = _facts(lm, route, done=2, delay_s=1200)
    run(
        "delay_20min",
        lm.LiveState(now_s=facts.stops[-1].arrival_s, trips={route.vehicle_id: (facts,)}),
    )
    run(
        "invalid_state",
        lm.LiveState(
            now_s=10 * 3600,
            trips={"NO-SUCH-VEHICLE": (lm.TripFacts(route.start_s),)},
            broken_down=frozenset({"GHOST"}),
        ),
    )
    dump(out, f"05_replan_{label}.json", {"vehicle": route.vehicle_id, "cases": cases})


def capture_promise(lm: Lm, out: Path, scenario, plan) -> None:
    engine = lm.PromiseEngine.from_plan(scenario, plan, lm.GreatCircle())
    orders = scenario.orders
    skus = sorted(scenario.catalogue)
    answers = []
    instants = [
        7 * 3600,
        8 * 3600 + 1800,
        10 * 3600,
        11 * 3600 + 900,
        13 * 3600,
        15 * 3600 + 1200,
        17 * 3600,
    ]
    for k in range(20):
        o = orders[(k * 37) % len(orders)]
        if k % 4 == 3:  # a basket of its own: two catalogue items
            lines = [
                lm.OrderLine(skus[(k * 7) % len(skus)], 1),
                lm.OrderLine(skus[(k * 11) % len(skus)], 2),
            ]
        else:
            lines = list(o.lines)
        lat, lon = o.lat + 0.001 * (k % 3), o.lon - 0.001 * (k % 2)
        now_s = instants[k % len(instants)]
        services = tuple(lm.Service) if k % 5 else (lm.Service.EXPRESS, lm.Service.CLICK_COLLECT)
        try:
            p = engine.promise(lines, lat, lon, now_s, services)
            answer = plain(p)
        except Exception as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        answers.append(
            {
                "question": {
                    "lines": plain(lines),
                    "lat": lat,
                    "lon": lon,
                    "now_s": now_s,
                    "services": plain(services),
                },
                "answer": answer,
            }
        )
    dump(out, "06_promise_paris.json", answers)


# -- CLI ---------------------------------------------------------------------------------


def cli_app():
    return pick("cli app", "cli:app", "api.cli:app")


def _is_group(command) -> bool:
    return hasattr(command, "list_commands") and hasattr(command, "get_command")


def _subcommands(command):
    ctx = command.context_class(command)  # typer vendors click: no isinstance on click
    return [(name, command.get_command(ctx, name)) for name in sorted(command.list_commands(ctx))]


def _type_name(p) -> str:
    descriptor = getattr(p, "type_descriptor", None)  # typer >= 0.2x: no click type
    if descriptor is not None and hasattr(descriptor, "annotation"):
        a = descriptor.annotation
        return a.__name__ if isinstance(a, type) else str(a)
    t = getattr(p, "type", None)
    return str(getattr(t, "name", None) or t)


def describe(command, path: str) -> dict:
    row = {
        "params": [
            {
                "name": p.name,
                "kind": p.param_type_name,
                "opts": list(p.opts),
                "secondary_opts": list(getattr(p, "secondary_opts", [])),
                "required": p.required,
                "is_flag": bool(getattr(p, "is_flag", False)),
                "multiple": bool(p.multiple),
                "type": _type_name(p),
                "min": plain(getattr(p, "min", None)),
                "max": plain(getattr(p, "max", None)),
                "default": plain(p.default) if not callable(p.default) else "<callable>",
                "hidden": bool(getattr(p, "hidden", False)),
            }
            for p in command.params
        ],
    }
    if _is_group(command):
        row["commands"] = {
            name: describe(sub, f"{path} {name}") for name, sub in _subcommands(command)
        }
    return row


def capture_cli(lm: Lm, out: Path, tmp: Path, doc: dict, gen_folder: Path) -> None:
    import typer.main
    from typer.testing import CliRunner

    app = cli_app()
    runner = CliRunner()
    repo_paris = str(PARIS)

    def norm(text: str) -> str:
        text = text.replace(str(tmp), "<TMP>").replace(repo_paris, "<PARIS>")
        # The KPI table's timing rows (the table is rich's: a row to the line end).
        text = re.sub(r"(solve time|peak memory)\b.*", r"\1 <volatile>", text)
        return text

    def invoke(args):
        result = runner.invoke(app, args, catch_exceptions=True)
        row = {
            "args": [a.replace(str(tmp), "<TMP>").replace(repo_paris, "<PARIS>") for a in args],
            "exit_code": result.exit_code,
            "stdout": norm(result.stdout),
        }
        try:
            row["stderr"] = norm(result.stderr)
        except ValueError:
            pass
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            row["exception"] = f"{type(result.exception).__name__}: {result.exception}"
        return row

    plan_file = tmp / "paris-plan.json"
    plan_file.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    bad_file = tmp / "bad-plan.json"
    bad_file.write_text("{not json", encoding="utf-8")
    runs = {
        "check_json": invoke(["check", repo_paris, str(plan_file), "--json"]),
        "check_text": invoke(["check", repo_paris, str(plan_file)]),
        "check_unreadable": invoke(["check", repo_paris, str(bad_file), "--json"]),
        "check_missing_file": invoke(["check", repo_paris, str(tmp / "nope.json")]),
        "check_missing_scenario": invoke(["check", str(tmp / "no-scenario"), str(plan_file)]),
    }
    for name in ("check_json",):
        try:
            runs[name]["stdout_json"] = json.loads(runs[name]["stdout"])
        except ValueError:
            pass
    # generate through the CLI: the same bytes as data.generator.
    gen_out = tmp / "cli-gen"
    runs["generate"] = invoke(["generate", "--out", str(gen_out), "--orders", "300", "--seed", "5"])
    runs["generate"]["files"] = (
        {p.name: sha256(p) for p in sorted(gen_out.iterdir())} if gen_out.exists() else None
    )
    runs["generate_refused"] = invoke(["generate", "--out", str(gen_out), "--orders", "10"])
    # plan through the CLI on the small day (deterministic: 1 worker, huge time limit).
    plan_out = tmp / "cli-plan"
    started = time.perf_counter()
    runs["plan_small"] = invoke(
        ["plan", str(gen_folder), "--out", str(plan_out), "--workers", "1",
         "--time-limit", str(HUGE_S), "--no-decompose"]
    )  # fmt: skip
    TIMINGS["cli plan small"] = round(time.perf_counter() - started, 2)
    files = {}
    if plan_out.exists():
        for p in sorted(plan_out.iterdir()):
            if p.suffix == ".json" or p.suffix == ".geojson":
                files[p.name] = json.loads(p.read_text(encoding="utf-8"))
            else:  # map.html: folium element ids are random; its size only
                files[p.name] = {"present": True}
    runs["plan_small"]["files"] = files
    runs["plan_bad_engine"] = invoke(
        ["plan", str(gen_folder), "--out", str(tmp / "x"), "--engine", "nope"]
    )
    dump(out, "07_cli_runs.json", runs)

    command = typer.main.get_command(app)
    dump(out, "07_cli_commands.json", describe(command, "lastmile"))
    # The rendered --help of every command (rich, 200 columns, no colour).
    helps = {}

    def walk(cmd, path):
        text = runner.invoke(app, [*path, "--help"], catch_exceptions=True).stdout
        helps[" ".join(path) or "<root>"] = "\n".join(x.rstrip() for x in norm(text).split("\n"))
        if _is_group(cmd):
            for name, sub in _subcommands(cmd):
                walk(sub, [*path, name])

    walk(command, [])
    dump(out, "07_cli_help_text.json", helps)


# -- main --------------------------------------------------------------------------------

PARIS = Path()


def main() -> None:
    global PARIS
    if len(sys.argv) != 2:
        sys.exit("usage: capture.py OUTDIR")
    out = Path(sys.argv[1])
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    t0 = time.perf_counter()
    patch_solvers()
    lm = Lm()
    import optimizer

    root = Path(optimizer.__file__).resolve().parent.parent
    PARIS = root / "data" / "paris"
    tmp = Path(tempfile.mkdtemp(prefix="lm-capture-"))
    try:
        step = time.perf_counter()
        gen = capture_generate(lm, out, tmp)
        TIMINGS["generate"] = round(time.perf_counter() - step, 2)

        step = time.perf_counter()
        paris = lm.load_scenario(PARIS)
        paris_plan, paris_doc = capture_plan(lm, out, "02_plan_paris_pyvrp", paris)
        TIMINGS["plan paris pyvrp"] = round(time.perf_counter() - step, 2)
        dump(out, "08_sourcing_paris.json", paris_doc["sourcing"])

        step = time.perf_counter()
        small = lm.load_scenario(gen)
        small_plan, _ = capture_plan(lm, out, "03_plan_small_pyvrp", small)
        TIMINGS["plan small pyvrp"] = round(time.perf_counter() - step, 2)
        step = time.perf_counter()
        try:
            capture_plan(lm, out, "03_plan_small_ortools", small, engine="ortools")
        except Exception as exc:
            dump(
                out,
                "03_plan_small_ortools.json",
                {"error": f"{type(exc).__name__}: {exc}"},
            )
        TIMINGS["plan small ortools"] = round(time.perf_counter() - step, 2)

        step = time.perf_counter()
        capture_check(lm, out, paris, paris_doc)
        TIMINGS["check"] = round(time.perf_counter() - step, 2)

        capture_replans(lm, out, paris, paris_plan, "paris")
        capture_replans(lm, out, small, small_plan, "small")

        step = time.perf_counter()
        capture_promise(lm, out, paris, paris_plan)
        TIMINGS["promise"] = round(time.perf_counter() - step, 2)

        step = time.perf_counter()
        capture_cli(lm, out, tmp, paris_doc, gen)
        TIMINGS["cli"] = round(time.perf_counter() - step, 2)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    TIMINGS["total"] = round(time.perf_counter() - t0, 2)
    # Not compared (paths and timings differ by nature): the imports used and the timings.
    meta = {"imports": USED, "solves": SOLVES, "iterations": ITERATIONS,
            "ortools_solutions": ORTOOLS_SOLUTIONS, "lastmile_root": str(root)}  # fmt: skip
    (out / "00_imports.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    (out / "00_timings.json").write_text(json.dumps(TIMINGS, indent=1, sort_keys=True) + "\n")
    print(json.dumps(meta, indent=1, sort_keys=True))
    print(json.dumps(TIMINGS, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
