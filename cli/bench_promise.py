"""``lastmile bench promise``: how fast the checkout answers, and whether it keeps its word.

On the shipped Paris day with its planned orders:

1. in-process: the checkout service's promise (a database version check + the core),
   over a seeded stream of baskets;
2. over HTTP on loopback: a real ``uvicorn`` serving the API on PostgreSQL (SQLite if no
   PostgreSQL is reachable, said in the output): promise and hold latencies, and the
   promise throughput of concurrent clients;
3. a race: many clients hold the last units of one SKU at once; afterwards the database
   is audited (no stock committed beyond what is on hand, every route still feasible);
4. the promise kept: a day of checkouts replayed and planned (:mod:`cli.checkout_stream`).

The bench replays the scenario's own day: the server's clock (``LASTMILE_CLOCK``) starts
at 07:00 of that day and runs, whatever the machine's date.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import sqlalchemy as sa

from api.db import Database
from api.models.checkout import StockLevel, VehicleRoute
from api.services.checkout import CheckoutService
from api.settings import SHIPPED_SCENARIO
from cli.checkout_stream import checkout_stream, promise_body, replay_day
from optimizer.io import load_scenario
from optimizer.model import OrderLine
from optimizer.planning import PlanParams, plan_day
from optimizer.promise import LiveRoutes, LiveStop
from optimizer.travel import travel_of

DEFAULT_PG_URL = "postgresql+psycopg://lastmile:lastmile@127.0.0.1:5432/lastmile_test"
CHECKOUT_KEY = "bench-checkout-" + "c" * 24
PLANNER_KEY = "bench-planner-" + "p" * 24


def _ms(samples: list[float], q: float) -> float:
    return round(float(np.percentile(samples, q)) * 1000, 2) if samples else float("nan")


def run(
    scenario_dir: Path = SHIPPED_SCENARIO,
    requests: int = 500,
    race_clients: int = 200,
    replay_baskets: int = 150,
    plan_time_limit_s: float = 20.0,
    pg_url: str | None = None,
    progress=lambda message: None,
) -> dict:
    scenario = load_scenario(scenario_dir)
    progress("planning the day")
    plan = plan_day(scenario, PlanParams(time_limit_s=plan_time_limit_s))
    out: dict = {"scenario": scenario.settings.name, "planned_orders": len(scenario.orders)}

    with tempfile.TemporaryDirectory() as tmp:
        progress("in-process promise")
        db = Database(f"sqlite:///{tmp}/inprocess.db")
        db.migrate()
        service = CheckoutService(db, scenario, os.urandom(32))
        service.start(lambda: plan)
        times = []
        for at_s, lines, lat, lon, _ in checkout_stream(scenario, requests, seed=11):
            now = scenario.settings.to_datetime(at_s)
            started = time.perf_counter()
            service.promise(lines, lat, lon, now)
            times.append(time.perf_counter() - started)
        out |= {"inprocess_p50_ms": _ms(times, 50), "inprocess_p95_ms": _ms(times, 95)}

        db.dispose()

        url, database = _pg_or_sqlite(pg_url, tmp)
        out["http_database"] = database
        progress(f"serving over HTTP on {database}")
        morning = scenario.settings.to_iso(7 * 3600)
        with _server(scenario_dir, url, tmp, plan_time_limit_s, morning) as base:
            out |= _http(base, scenario, requests, progress)
            progress(f"race of {race_clients} clients")
            out |= _race(base, url, scenario, race_clients)
            out["holds_oversold"] = _audit(url, scenario)
            progress(f"replaying {replay_baskets} checkouts through the API, then the plan")
            with httpx.Client(base_url=base, timeout=120) as client:
                kept = replay_day(
                    client, scenario, {"X-API-Key": CHECKOUT_KEY}, {"X-API-Key": PLANNER_KEY},
                    n=replay_baskets, seed=1, plan_time_limit_s=plan_time_limit_s,
                )  # fmt: skip
            out |= {
                "promise_kept_pct": kept.promise_kept_pct,
                "replay_confirmed": kept.confirmed,
                "replay_later_days": kept.later_days,
                "replay_conflicts": kept.conflicts,
                "replay_checker_ok": kept.checker_ok,
                "replay_broken": kept.broken[:10],
            }
        _drop_schema(pg_url, url)
    return out


def _drop_schema(pg_url: str | None, url: str) -> None:
    """The bench's PostgreSQL schema goes when the bench ends."""
    if "search_path%3D" not in url:
        return
    schema = url.rsplit("%3D", 1)[1]
    engine = sa.create_engine(pg_url or os.environ.get("LASTMILE_TEST_PG_URL", DEFAULT_PG_URL))
    with engine.begin() as c:
        c.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    engine.dispose()


def _pg_or_sqlite(pg_url: str | None, tmp: str) -> tuple[str, str]:
    url = pg_url or os.environ.get("LASTMILE_TEST_PG_URL", DEFAULT_PG_URL)
    schema = "bench_" + uuid.uuid4().hex[:8]
    try:
        engine = sa.create_engine(url)
        with engine.begin() as c:
            c.exec_driver_sql(f"CREATE SCHEMA {schema}")
        engine.dispose()
        return f"{url}?options=-csearch_path%3D{schema}", "postgresql"
    except sa.exc.OperationalError:
        return f"sqlite:///{tmp}/http.db", "sqlite"


@contextmanager
def _server(scenario_dir: Path, url: str, tmp: str, plan_time_limit_s: float, clock: str):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ)
    env |= {
        "LASTMILE_DATABASE_URL": url,
        "LASTMILE_STATE_DIR": str(Path(tmp) / "state"),
        "LASTMILE_SCENARIO": str(scenario_dir),
        "LASTMILE_CHECKOUT_KEYS": CHECKOUT_KEY,
        "LASTMILE_PLANNER_KEYS": PLANNER_KEY,
        "LASTMILE_PLAN_TIME_LIMIT_S": str(plan_time_limit_s),
        "LASTMILE_CLOCK": clock,
    }
    command = [sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning", "--workers", "1"]  # fmt: skip
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        with httpx.Client(base_url=base, headers={"X-API-Key": CHECKOUT_KEY}) as client:
            while time.monotonic() < deadline:
                if server.poll() is not None:
                    raise RuntimeError(
                        f"the server stopped: {server.stderr.read().decode()[-2000:]}"
                    )
                try:
                    r = client.post(
                        "/v1/promise", json=promise_body([OrderLine("SKU-1001", 1)], 48.86, 2.35)
                    )
                    if r.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.5)
            else:
                raise RuntimeError("the server did not get ready in 180 s")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def _http(base: str, scenario, requests: int, progress) -> dict:
    headers = {"X-API-Key": CHECKOUT_KEY}
    promise_s, hold_s = [], []
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for at_s, lines, lat, lon, rng in checkout_stream(scenario, requests, seed=12):
            now = scenario.settings.to_datetime(at_s)
            body = promise_body(lines, lat, lon, now)
            started = time.perf_counter()
            r = client.post("/v1/promise", json=body)
            promise_s.append(time.perf_counter() - started)
            options = r.json().get("options", []) if r.status_code == 200 else []
            if not options:
                continue
            option = options[int(rng.integers(len(options)))]
            started = time.perf_counter()
            h = client.post("/v1/holds", json={"option_id": option["option_id"]})
            hold_s.append(time.perf_counter() - started)
            if h.status_code == 201:  # give it back: the race below starts from the plan
                client.delete(f"/v1/holds/{h.json()['hold_id']}")
    progress("throughput")
    done, stop = [], time.monotonic() + 5.0
    stream = list(checkout_stream(scenario, 200, seed=13))

    def client_loop(k: int) -> None:
        n = 0
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            while time.monotonic() < stop:
                at_s, lines, lat, lon, _ = stream[(k * 31 + n) % len(stream)]
                body = promise_body(lines, lat, lon)
                client.post("/v1/promise", json=body)
                n += 1
        done.append(n)

    threads = [threading.Thread(target=client_loop, args=(k,)) for k in range(8)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "http_promise_p50_ms": _ms(promise_s, 50),
        "http_promise_p95_ms": _ms(promise_s, 95),
        "http_hold_p50_ms": _ms(hold_s, 50),
        "http_hold_p95_ms": _ms(hold_s, 95),
        "http_p95_ms": max(_ms(promise_s, 95), _ms(hold_s, 95)),
        "throughput_rps": round(sum(done) / (time.monotonic() - started), 1),
    }


def _race(base: str, url: str, scenario, clients: int) -> dict:
    """``clients`` customers near one hub hold the last 5 units of one SKU at once."""
    node = next(n for n in scenario.nodes.values() if n.kind == "urban_hub")
    sku = min(scenario.catalogue.values(), key=lambda s: s.weight_kg).sku
    units = 5
    db = Database(url)
    with db.transaction(write=False) as s:
        committed = s.get(StockLevel, (node.node_id, sku)).committed
    db.dispose()
    with httpx.Client(base_url=base, headers={"X-API-Key": PLANNER_KEY}, timeout=30) as planner:
        rows = [{"node_id": node.node_id, "sku": sku, "qty": committed + units}]
        planner.put("/v1/stock", json={"rows": rows}).raise_for_status()
    headers = {"X-API-Key": CHECKOUT_KEY}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        body = promise_body([OrderLine(sku, 1)], node.lat + 0.003, node.lon + 0.003)
        options = client.post("/v1/promise", json=body).json()["options"]
    options = [o for o in options if o["node_id"] == node.node_id]
    barrier = threading.Barrier(clients)
    codes: list[int] = []

    def attempt(k: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            barrier.wait()
            option = options[k % len(options)]
            r = client.post("/v1/holds", json={"option_id": option["option_id"]})
            codes.append(r.status_code)

    threads = [threading.Thread(target=attempt, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "race_clients": clients,
        "race_units": units,
        "race_holds_won": sum(c == 201 for c in codes),
        "race_refused_409": sum(c == 409 for c in codes),
        "race_errors_5xx": sum(c >= 500 for c in codes),
    }


def _audit(url: str, scenario) -> int:
    """Count what is oversold in the database: stock committed beyond what is on hand,
    and routes that no longer hold (capacity, slots, shift)."""
    db = Database(url)
    oversold = 0
    with db.transaction(write=False) as s:
        for row in s.scalars(sa.select(StockLevel)):
            oversold += max(0, row.committed - row.on_hand)
        rows = s.scalars(sa.select(VehicleRoute)).all()
    live = LiveRoutes(scenario, travel_of(scenario))
    returns = {r.return_id for r in scenario.returns}
    for row in rows:
        vehicle = live.vehicles[row.vehicle_id]
        vehicle.stops = [LiveStop(**x) for x in json.loads(row.stops_json)]
        vehicle.refresh(live.travel)
        vt = vehicle.vehicle_type
        # Load along the route: LiveRoutes counts a return's pickup as on board from the
        # start (safe for offers, but it would count a morning route with returns as
        # oversold); here deliveries leave and pickups board, as the checker counts.
        over = any(
            peak > capacity + 1e-6
            for peak, capacity in (
                (_peak_on_board(vehicle.stops, returns, "weight_kg"), vt.capacity_kg),
                (_peak_on_board(vehicle.stops, returns, "volume_l"), vt.capacity_l),
            )
        )
        oversold += int(over or not vehicle.feasible)
    db.dispose()
    return oversold


def _peak_on_board(stops, returns: set[str], field: str) -> float:
    """Most on board along a route that leaves with its deliveries and picks up returns."""
    on_board = sum(getattr(x, field) for x in stops if x.key not in returns)
    peak = on_board
    for x in stops:
        on_board += getattr(x, field) if x.key in returns else -getattr(x, field)
        peak = max(peak, on_board)
    return peak
