"""Re-planning the rest of the day from what happened on the road.

Pure: the morning's :class:`Plan`, the scenario (with the orders confirmed since), what
each vehicle did up to ``now`` (:class:`LiveState`) in; a new :class:`Plan` and a
:class:`ReplanReport` of what changed out. Times are seconds since local midnight.

The rules (docs/replan.md):

* **Locked.** Every stop that happened (delivered, failed) or is under way (the vehicle
  is at the door or on its way to it) stays where it is, with its reported times.
* **On board.** The rest of a trip the vehicle is on stays on that vehicle (the parcels
  are on board), in its order, re-timed from the locked stop's departure; a stop that
  can no longer be served inside its slot, or would bring the vehicle back after its
  shift or past its range, rides back to the node and is treated as a failed delivery.
* **Re-optimised.** Trips not started, the parcels of broken-down vehicles (recovered to
  their node), orders confirmed since the morning, returns booked since (:mod:`.booked`)
  and failed deliveries retried in a later slot form one routing problem per node,
  over the node's vehicles that still work, each leaving no earlier than ``now`` or
  its return, with the range it has left.
* **Failed deliveries** follow :class:`FailedPolicy`: a later slot the same day, click
  & collect at the nearest store with the stock, or (``auto``) whichever costs less;
  else unassigned with the reason.

The steps, leaf first: :mod:`.state` (the inputs and their check), :mod:`.times`
(re-timing, slots, costs), :mod:`.report` (what changed), :mod:`.ledger` (what is
settled besides the routes), :mod:`.locked` (what stays), :mod:`.pool` (what is routed
again), :mod:`.core` (the re-plan over order-like units), :mod:`.parcels` (split
orders' parcels as units), :mod:`.booked` (returns booked since the plan),
:mod:`.returns` (pickups as units).
"""

from __future__ import annotations

from optimizer.live.replan.parcels import _replan_parcels
from optimizer.live.replan.report import ReplanReport
from optimizer.live.replan.returns import _replan_returns
from optimizer.live.replan.state import (
    OUTCOMES,
    FailedPolicy,
    LiveState,
    ReplanError,
    ReplanParams,
    StopFact,
    TripFacts,
)
from optimizer.model import Plan, Scenario
from optimizer.travel import TravelProvider

__all__ = [
    "OUTCOMES",
    "FailedPolicy",
    "LiveState",
    "ReplanError",
    "ReplanParams",
    "ReplanReport",
    "StopFact",
    "TripFacts",
    "replan",
]


def replan(
    scenario: Scenario,
    plan: Plan,
    state: LiveState,
    params: ReplanParams | None = None,
    travel: TravelProvider | None = None,
) -> tuple[Plan, ReplanReport]:
    """Re-plan the rest of the day (see the package's docstring).

    ``scenario`` holds every order of the day, including those confirmed after ``plan``
    was made (they are the "new" orders). The parcels of split orders are re-planned
    as stops of their own (``ORDER/1``...: tracking's ids too); a failed parcel is
    refused (not supported yet). A return in ``scenario`` the plan has no row for
    (booked since) is routed like a new order, or listed unassigned with the reason
    (:mod:`.booked`). Raises :class:`ReplanError` when the live state does
    not fit the plan (a fact about an order not on that vehicle's trip...).
    """
    picked = {s.order_id: r.node_id for r in plan.routes for s in r.stops if s.is_pickup}
    # Returns booked since the plan (by API): no row in it; routed now if they can be.
    listed = {row.return_id for row in plan.returns}
    booked = [r.return_id for r in scenario.returns if r.return_id not in listed]
    if not picked and not booked:
        new, report = _replan_parcels(scenario, plan, state, params, travel)
        new.returns = list(plan.returns)  # none routed: unassigned as in the morning
        return new, report
    return _replan_returns(scenario, plan, state, params, travel, picked, booked)
