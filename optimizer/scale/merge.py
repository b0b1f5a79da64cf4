"""Put the parts' plans back together into the day's plan."""

from __future__ import annotations

from dataclasses import replace

from optimizer.model import Plan, Scenario, Unassigned, UnassignedCode
from optimizer.scale.decompose import Decomposition


def merge_plans(
    scenario: Scenario, decomposition: Decomposition, plans: list[Plan], solve_s: float
) -> Plan:
    """The day's plan from one plan per part (in ``decomposition.parts`` order).

    Parts share no vehicle and no unit of stock (a node cut into sectors gives each its
    own share), so routes, collections, sources and the parcels of split orders are
    simply put together, a sector's vehicles renamed to the day's ids.
    An order a part could not serve keeps that part's reason, said to hold within its
    region; "out of stock" inside a region becomes ``stock_allocated``, since the
    network-wide pass found the stock for it (in the region) before other orders of the
    region took it.
    """
    if len(plans) != len(decomposition.parts):
        raise ValueError(f"{len(plans)} plans for {len(decomposition.parts)} parts.")
    routes, collections, sources, decisions, parcels, returns = [], [], {}, {}, {}, []
    unassigned = list(decomposition.unassigned)
    engines = set()
    for part, plan in zip(decomposition.parts, plans, strict=True):
        routes += [replace(r, vehicle_id=part.global_vehicle_id(r.vehicle_id)) for r in plan.routes]
        collections += plan.collections
        sources.update(plan.sources)
        decisions.update(plan.decisions)
        parcels.update(plan.parcels)
        returns += [  # a return is in one part (its region's)
            replace(a, vehicle_id=part.global_vehicle_id(a.vehicle_id)) if a.vehicle_id else a
            for a in plan.returns
        ]
        if plan.engine:
            engines.add(plan.engine)
        region = _region(part.node_ids, part.sector)
        unassigned += [_in_region(u, region) for u in plan.unassigned]
    return Plan(
        scenario_name=scenario.settings.name,
        sources=sources,
        routes=sorted(routes, key=lambda r: (r.vehicle_id, r.start_s)),
        collections=sorted(collections, key=lambda c: c.order_id),
        unassigned=sorted(unassigned, key=lambda u: u.order_id),
        engine="+".join(sorted(engines)),
        solve_s=solve_s,
        decisions=decisions,
        parcels=dict(sorted(parcels.items())),
        max_split=max((plan.max_split for plan in plans), default=1),
        returns=sorted(returns, key=lambda a: a.return_id),
    )


def _region(node_ids: list[str], sector: tuple[int, int] | None = None) -> str:
    shown = ", ".join(node_ids[:4])
    more = f" and {len(node_ids) - 4} more" if len(node_ids) > 4 else ""
    cut = f" (sector {sector[0] + 1} of {sector[1]})" if sector else ""
    return f"region of {shown}{more}{cut}"


def _in_region(u: Unassigned, region: str) -> Unassigned:
    code = UnassignedCode.STOCK_ALLOCATED if u.code is UnassignedCode.OUT_OF_STOCK else u.code
    return replace(u, code=code, reason=f"{u.reason} (planned in the {region})")
