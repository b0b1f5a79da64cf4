"""Run the parts of a decomposed day as dask.distributed tasks.

The driver decomposes the day (:mod:`optimizer.scale.decompose`), submits one task per
part (:func:`optimizer.planning.plan_day` on the part's scenario, one process each),
merges the plans, then retries what the parts left unserved across the borders (one more
task: :mod:`optimizer.scale.repair`). By default it starts a ``LocalCluster`` of
``workers`` processes with one thread each; given a scheduler address
(``tcp://host:8786``) it uses that cluster, whose workers must have the same version of
lastmile installed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from optimizer.model import Plan, Scenario
from optimizer.planning import PlanParams, plan_day
from optimizer.scale.decompose import Decomposition, Part, ScaleParams, decompose
from optimizer.scale.merge import merge_plans
from optimizer.scale.repair import repair_part, with_repair
from optimizer.sourcing import SourcingParams
from optimizer.travel import TravelProvider, travel_of

Progress = Callable[[float, str], None]
# How long to wait for an existing scheduler to answer before giving up.
CONNECT_TIMEOUT_S = 10


@contextmanager
def cluster_client(workers: int = 2, scheduler: str | None = None) -> Iterator:
    """A ``distributed.Client``: on the scheduler at ``scheduler``, or on a new
    ``LocalCluster`` of ``workers`` single-threaded processes (closed on exit).
    Raises ``OSError`` when no scheduler answers at ``scheduler``."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except ValueError as exc:  # not an address dask understands
            raise OSError(f"{exc} (expected e.g. tcp://host:8786)") from None
        with client:
            yield client
        return
    if workers < 1:
        raise ValueError("workers < 1 not understood.")
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _part_sourcing(sourcing: SourcingParams, part: Part) -> SourcingParams:
    """Route-aware sourcing in a part becomes ``shared_route``, the price the network-wide
    first pass chose the part's orders' nodes by. In a region of one node there is no
    node to choose (and the cheapest insertions cost time quadratic in the orders). In a
    region of several, route-aware sourcing sees only the region's routes: in a region of
    stores and dark stores without a hub, the dark stores' routes as built fill up and
    their orders overflow to the stores, at 3.5 EUR of handling each (5,000-order day,
    seed 7, 6 stops an hour: 30,633 EUR decomposed with route-aware parts, 30,353 with
    ``shared_route`` parts, against 30,158 monolithic; seed 3, 12 an hour: 30,665 and
    30,070 EUR against 29,961). The joint solve in the part still chooses among the
    region's nodes."""
    if sourcing.policy == "route_aware":
        return replace(sourcing, policy="shared_route")
    return sourcing


def part_params(params: PlanParams, scale: ScaleParams, part: Part) -> PlanParams:
    """How one part is planned: its share of the routing time, one process."""
    return replace(
        params,
        time_limit_s=scale.time_limit_s(part.routed_orders),
        workers=1,
        sourcing=_part_sourcing(params.sourcing, part),
    )


def plan_part(scenario: Scenario, params: PlanParams, travel: TravelProvider) -> Plan:
    """One part, planned on a worker (the task dask runs)."""
    return plan_day(scenario, params, travel)


def plan_decomposed(
    scenario: Scenario,
    client,
    params: PlanParams | None = None,
    scale: ScaleParams | None = None,
    travel: TravelProvider | None = None,
    progress: Progress | None = None,
) -> tuple[Plan, Decomposition]:
    """Plan the day part by part on the cluster behind ``client``; the merged plan and
    the decomposition it came from. ``params.time_limit_s`` is replaced per part by
    ``scale.time_limit_s(part's orders)``; each part is solved by one worker process."""
    from distributed import as_completed

    params = params or PlanParams()
    scale = scale or ScaleParams()
    travel = travel or travel_of(scenario)
    report = progress or (lambda fraction, message: None)
    started = time.perf_counter()
    report(0.0, "decomposing")
    decomposition = decompose(scenario, scale, travel)
    parts = decomposition.parts
    submitted = []
    for part in parts:
        future = client.submit(
            plan_part,
            part.scenario,
            part_params(params, scale, part),
            travel,
            pure=False,
            priority=part.routed_orders,  # the biggest parts start first
        )
        submitted.append(future)
    index = {future.key: part.index for future, part in zip(submitted, parts, strict=True)}
    plans: dict[int, Plan] = {}
    for done, future in enumerate(as_completed(submitted), 1):
        plans[index[future.key]] = future.result()
        report(done / len(parts), f"part {index[future.key] + 1} of {len(parts)} planned")
    merged = merge_plans(
        scenario, decomposition, [plans[p.index] for p in parts], time.perf_counter() - started
    )
    repair = repair_part(scenario, decomposition, merged) if scale.repair else None
    if repair is not None:
        report(1.0, f"retrying {repair.orders} unserved orders across the borders")
        future = client.submit(
            plan_part, repair.scenario, part_params(params, scale, repair), travel, pure=False
        )
        before = len(merged.unassigned)
        merged = with_repair(merged, repair, future.result())
        decomposition.repair = repair
        decomposition.repaired_orders = before - len(merged.unassigned)
    return replace(merged, solve_s=time.perf_counter() - started), decomposition
