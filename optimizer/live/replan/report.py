"""What a re-plan changed, for the planner: :class:`ReplanReport`, built by comparing
the plan before with the plan after."""

from __future__ import annotations

from dataclasses import dataclass, field

from optimizer.model import Plan, Scenario


@dataclass
class ReplanReport:
    """What a re-plan changed, for the planner."""

    moved: list[dict] = field(default_factory=list)  # order, from/to vehicle and arrival
    vehicles_changed: list[str] = field(default_factory=list)
    newly_unassigned: list[dict] = field(default_factory=list)  # order, code, reason
    inserted: list[dict] = field(default_factory=list)  # new orders: order, vehicle|node
    order_changes: list[dict] = field(default_factory=list)  # later slot / click & collect
    # Returns whose end node lost its vehicles: return, from/to node, why.
    returns_rerouted: list[dict] = field(default_factory=list)
    # Returns booked since the plan: return, routed (node, vehicle) or unassigned (code,
    # reason), the priced candidate end nodes.
    returns_added: list[dict] = field(default_factory=list)
    locked_stops: int = 0
    solve_s: float = 0.0

    def to_dict(self) -> dict:
        return {
            "locked_stops": self.locked_stops,
            "moved": self.moved,
            "vehicles_changed": self.vehicles_changed,
            "newly_unassigned": self.newly_unassigned,
            "inserted": self.inserted,
            "order_changes": self.order_changes,
            "returns_rerouted": self.returns_rerouted,
            "returns_added": self.returns_added,
            "solve_s": round(self.solve_s, 3),
        }


def _report(
    scenario: Scenario, before: Plan, after: Plan, new_orders: list[str], locked: int
) -> ReplanReport:
    iso = scenario.settings.to_iso

    def where(plan: Plan) -> dict[str, tuple[str, int]]:
        return {
            s.order_id: (r.vehicle_id, s.arrival_s)
            for r in plan.routes
            for s in r.stops
            if not s.failed_attempt
        }

    was, now = where(before), where(after)
    report = ReplanReport(locked_stops=locked)
    changed: set[str] = set()
    for order_id, (vid, arrival) in sorted(now.items()):
        old = was.get(order_id)
        if old is None or order_id in new_orders:
            continue
        # Moved: another vehicle, or an arrival more than 5 minutes off (the ETA
        # window's own scale, docs/tracking.md).
        if old[0] != vid or abs(old[1] - arrival) > 300:
            report.moved.append(
                {
                    "order_id": order_id,
                    "from_vehicle_id": old[0],
                    "to_vehicle_id": vid,
                    "from_arrival": iso(old[1]),
                    "to_arrival": iso(arrival),
                }
            )
            changed.update({old[0], vid})
    for order_id, (vid, _) in was.items():
        if order_id not in now:
            changed.add(vid)
    report.vehicles_changed = sorted(changed)
    before_unassigned = {u.order_id for u in before.unassigned}
    report.newly_unassigned = [
        {"order_id": u.order_id, "code": str(u.code), "reason": u.reason}
        for u in after.unassigned
        if u.order_id not in before_unassigned
    ]
    collected = {c.order_id: c.node_id for c in after.collections}
    for order_id in new_orders:
        if order_id in now:
            report.inserted.append({"order_id": order_id, "vehicle_id": now[order_id][0]})
        elif order_id in collected:
            report.inserted.append({"order_id": order_id, "collect_node_id": collected[order_id]})
    report.order_changes = [c.as_dict(iso) for c in after.order_changes]
    return report


def _report_parcels(report: ReplanReport, parent: dict[str, str]) -> None:
    """The report's entries about parcels name their order too."""
    for entry in report.moved + report.newly_unassigned + report.order_changes:
        if entry.get("order_id") in parent:
            entry["parcel_id"] = entry["order_id"]
            entry["order_id"] = parent[entry["parcel_id"]]
