"""What a re-plan settles besides the routes (``_Ledger``): the node of each order, the
changes agreed with customers (a later slot, click & collect), the collections and the
unassigned; and the nearest store that can hand a basket over."""

from __future__ import annotations

import math
from dataclasses import dataclass

from optimizer.live.replan.state import FailedPolicy, ReplanParams, _Failed
from optimizer.live.replan.times import _later_window
from optimizer.model import (
    Collection,
    NodeKind,
    OrderChange,
    Scenario,
    Unassigned,
    UnassignedCode,
    with_order_changes,
)
from optimizer.planning import fleet_full_unassigned
from optimizer.travel.great_circle import great_circle_km


@dataclass
class _Ledger:
    """What a re-plan has settled besides the routes: the node of each order, the
    changes agreed with customers, the collections and the unassigned. ``scenario`` is
    the day before any change; :attr:`day` is the day as the customers agreed it."""

    scenario: Scenario
    params: ReplanParams
    now: int
    sources: dict[str, str]
    changes: list[OrderChange]
    collections: list[Collection]
    unassigned: list[Unassigned]

    @property
    def day(self) -> Scenario:
        return with_order_changes(self.scenario, self.changes)

    def retry(self, f: _Failed, window: tuple[int, int]) -> None:
        """Agree a later slot (every later slot today, narrowed once routed)."""
        self.changes = [c for c in self.changes if c.order_id != f.order_id]
        self.changes.append(
            OrderChange(
                f.order_id,
                FailedPolicy.RETRY_LATER_SLOT.value,
                *window,
                f"{f.why}; retried in a later slot",
            )
        )

    def fall_back(self, retry: dict[str, _Failed], order_id: str, note: str) -> None:
        """A retry the routes cannot keep: click & collect, or unassigned."""
        self.collect_or_give_up(retry.pop(order_id), note)

    def stranded(self, order_id: str, node_id: str) -> None:
        """A parcel of a broken-down vehicle, back at its node, that no vehicle left can
        deliver in its slot: click & collect at the nearest store holding the basket (the
        customer is offered it, as after a failed delivery), else unassigned
        (``fleet_full``, saying so)."""
        day = self.day
        ready = self.now + self.params.collect_ready_after_s
        if _nearest_store(day, self.sources, order_id, ready) is None:
            u = fleet_full_unassigned(day, order_id, node_id)
            u.reason = "its vehicle broke down and " + u.reason
            self.unassigned.append(u)
            self.sources.pop(order_id, None)
            return
        why = (f"its vehicle broke down and no vehicle of {node_id} left can deliver it in "
               "its slot today")  # fmt: skip
        self.collect_or_give_up(_Failed(order_id, node_id, self.now, why))

    def collect_or_give_up(self, f: _Failed, note: str = "") -> None:
        """Click & collect at the nearest store with the basket in stock (after what the
        plan ships from it), open long enough to get it ready; else unassigned. A failed
        pickup is unassigned: the customer rebooks or drops the item at a store."""
        day, now, params = self.day, self.now, self.params
        order = day.orders_by_id[f.order_id]
        why = f.why + (f"; {note}" if note else "")
        # What an earlier re-plan agreed (a later slot that failed again) is superseded.
        self.changes = [c for c in self.changes if c.order_id != f.order_id]
        if f.pickup:
            store = _nearest_store(day, {}, f.order_id, now, any_stock=True)
            where = f" or to drop it at {day.nodes[store].name} ({store})" if store else ""
            self.unassigned.append(
                Unassigned(
                    f.order_id,
                    UnassignedCode.PICKUP_FAILED,
                    f"{why}; no later slot today: call the customer to rebook the pickup" + where,
                    None,
                )
            )
            self.sources.pop(f.order_id, None)
            return
        ready = now + params.collect_ready_after_s
        store = _nearest_store(day, self.sources, f.order_id, ready)
        if store is None:
            self.unassigned.append(
                Unassigned(
                    f.order_id,
                    UnassignedCode.DELIVERY_FAILED,
                    f"{why}; no later slot today and no store near {order.order_id}'s "
                    "address holds the basket for click & collect: call the customer to rebook",
                    None,
                )
            )
            self.sources.pop(f.order_id, None)
            return
        node = day.nodes[store]
        self.changes.append(
            OrderChange(
                f.order_id,
                FailedPolicy.CLICK_AND_COLLECT.value,
                ready,
                node.closes_s,
                f"{why}; offered click & collect at {node.name} ({store})",
                store,
            )
        )
        self.collections.append(Collection(f.order_id, store, ready))
        self.sources[f.order_id] = store


def _settle_failed(book: _Ledger, failed: list[_Failed]) -> dict[str, _Failed]:
    """Failed deliveries: a later slot (routed with the pool), or click & collect (the
    policy's, or no later slot is left today). A failed pickup: a later slot, else
    unassigned. Returns the retries to route, by order."""
    params = book.params
    retry: dict[str, _Failed] = {}
    for f in failed:
        if params.policy is FailedPolicy.CLICK_AND_COLLECT and not f.pickup:
            book.collect_or_give_up(f)
            continue
        window = _later_window(book.day.orders_by_id[f.order_id], f.ready_s, params)
        if window is None:
            book.collect_or_give_up(f)
            continue
        retry[f.order_id] = f
        book.retry(f, window)
    return retry


def _nearest_store(
    day: Scenario, sources: dict[str, str], order_id: str, ready_s: int, any_stock: bool = False
):
    """The store nearest the order's address, open after ``ready_s``, that holds its
    basket after what ``sources`` ship from it (with ``any_stock``: any open store)."""
    order = day.orders_by_id[order_id]
    shipped: dict[tuple[str, str], int] = {}
    for other, node_id in sources.items():
        if other == order_id or other not in day.orders_by_id:
            continue
        for line in day.orders_by_id[other].lines:
            shipped[node_id, line.sku] = shipped.get((node_id, line.sku), 0) + line.qty
    best, best_km = None, math.inf
    for node in day.nodes.values():
        if node.kind is not NodeKind.STORE or node.closes_s <= ready_s:
            continue
        if any_stock or all(
            day.stock.get((node.node_id, line.sku), 0) - shipped.get((node.node_id, line.sku), 0)
            >= line.qty
            for line in order.lines
        ):
            km = great_circle_km(order.lat, order.lon, node.lat, node.lon)
            if km < best_km:
                best, best_km = node.node_id, km
    return best
