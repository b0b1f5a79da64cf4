"""What a driver key may do: report its own vehicles' events (never a store's
``collected``) and see its own vehicles of a plan. Refusals are 403 problems with the
field's path; a planner key passes through unchanged."""

from __future__ import annotations

from api.auth import Caller
from api.errors import problem
from api.schemas.tracking import EventIn, LivePlan


def _theirs(caller: Caller) -> str:
    return ", ".join(sorted(caller.vehicle_ids))


def check_driver(caller: Caller, event: EventIn) -> None:
    """A driver key reports for its own vehicles only (and never a store's collected)."""
    if caller.role != "driver":
        return
    if event.vehicle_id is None:
        raise problem(
            403,
            f"a driver key reports its vehicles' events; {event.kind} (no vehicle) needs a "
            "planner key",
            ("body", "kind"),
        )
    if event.vehicle_id not in caller.vehicle_ids:
        raise problem(
            403,
            f"this driver key reports for {_theirs(caller)} only, not {event.vehicle_id!r}",
            ("body", "vehicle_id"),
        )


def live_for(caller: Caller, live: LivePlan) -> LivePlan:
    """``live`` as ``caller`` sees it: whole for a planner key; a driver key's own
    vehicles and their nodes (403 if none of them is on the plan)."""
    if caller.role != "driver":
        return live
    mine = [v for v in live.vehicles if v.vehicle_id in caller.vehicle_ids]
    if not mine:
        raise problem(
            403,
            f"none of this driver key's vehicles ({_theirs(caller)}) has a route in this plan",
            ("path", "plan_id"),
        )
    used = {v.node_id for v in mine}
    return live.model_copy(
        update={"vehicles": mine, "nodes": [n for n in live.nodes if n["node_id"] in used]}
    )
