"""What a driver key may do: report its own vehicles' events (never a store's
``collected``) and see its own vehicles of a plan, with the name and phone of their
stops' customers (to ring at the door). Refusals are 403 problems with the field's path;
a planner key passes through unchanged (and sees no contact)."""

from __future__ import annotations

from collections.abc import Callable

from api.auth import Caller
from api.errors import problem
from api.schemas.tracking import EventIn, LivePlan, StopContact, VehicleState


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


def live_for(
    caller: Caller, live: LivePlan, customers: Callable[[list[str]], dict] | None = None
) -> LivePlan:
    """``live`` as ``caller`` sees it: whole for a planner key; a driver key's own
    vehicles and their nodes (403 if none of them is on the plan), each stop with the
    name and phone of its customer when ``customers`` (stop ids -> their ``customer``
    objects, :func:`api.services.personal_data.customers_of`) knows it."""
    if caller.role != "driver":
        return live
    mine = [v for v in live.vehicles if v.vehicle_id in caller.vehicle_ids]
    if not mine:
        raise problem(
            403,
            f"none of this driver key's vehicles ({_theirs(caller)}) has a route in this plan",
            ("path", "plan_id"),
        )
    if customers is not None:
        known = customers([stop.order_id for v in mine for stop in v.stops])
        mine = [_with_contacts(v, known) for v in mine]
    used = {v.node_id for v in mine}
    return live.model_copy(
        update={"vehicles": mine, "nodes": [n for n in live.nodes if n["node_id"] in used]}
    )


def _with_contacts(vehicle: VehicleState, known: dict) -> VehicleState:
    """``vehicle`` with the name and phone of each stop's customer, when known."""
    stops = []
    for stop in vehicle.stops:
        who = known.get(stop.order_id) or {}
        if who.get("name") or who.get("phone"):
            stop = stop.model_copy(
                update={"contact": StopContact(name=who["name"], phone=who["phone"])}
            )
        stops.append(stop)
    return vehicle.model_copy(update={"stops": stops})
