"""Drivers' breaks: long enough, and no more work than allowed before, between, after."""

from __future__ import annotations

from collections import defaultdict

from optimizer.check.figures import _clock, _span
from optimizer.check.records import _Context, _Plan, _Route


def _check_breaks(ctx: _Context, plan: _Plan) -> None:
    """A working day (first departure to last return, the vehicle's tours together)
    longer than the settings' threshold has a break of the full length, with no more
    work than allowed before the first, between two, or after the last."""
    rules = ctx.scenario.settings
    duration_s, work_s = rules.break_duration_s, rules.max_work_before_break_s
    days: dict[str, list[_Route]] = defaultdict(list)
    for route in plan.routes:
        for b in route.breaks:
            if b.start_s is not None and b.end_s is not None and b.end_s - b.start_s < duration_s:
                ctx.flag(
                    "break_too_short",
                    f"{route.label}: the break {_clock(b.start_s)}-{_clock(b.end_s)} lasts "
                    f"{_span(b.end_s - b.start_s)}, under the {_span(duration_s)} required",
                    vehicle_id=route.vehicle_id,
                )
        if route.vehicle is not None and route.start_s is not None and route.end_s is not None:
            days[route.vehicle.vehicle_id].append(route)
    if duration_s <= 0:
        return
    for vid, routes in days.items():
        first_s = min(r.start_s for r in routes)
        # A re-plan's locked stops happened: breaks are not reported by tracking, so the
        # day the plan answers for starts when its last reported stop ends.
        done = [s.departure_s for r in routes for s in r.stops if s.locked and s.departure_s]
        first_s = max([first_s, *done])
        last_s = max(r.end_s for r in routes)
        if last_s - first_s <= rules.break_over_s:
            continue
        rests = sorted(
            (b.start_s, b.end_s)
            for r in routes
            for b in r.breaks
            if b.start_s is not None
            and b.end_s is not None
            and b.end_s - b.start_s >= duration_s
            and first_s <= b.start_s
            and b.end_s <= last_s
        )
        if not rests:
            ctx.flag(
                "break_missing",
                f"{vid} works {_clock(first_s)}-{_clock(last_s)} "
                f"({_span(last_s - first_s)}, over {_span(rules.break_over_s)}) without a "
                f"{_span(duration_s)} break",
                vehicle_id=vid,
            )
            continue
        bounds = [first_s] + [x for rest in rests for x in rest] + [last_s]
        for from_s, to_s in zip(bounds[::2], bounds[1::2], strict=True):
            if to_s - from_s > work_s:
                ctx.flag(
                    "work_without_break",
                    f"{vid} works {_clock(from_s)}-{_clock(to_s)} ({_span(to_s - from_s)}) "
                    f"without a break, over the {_span(work_s)} allowed",
                    vehicle_id=vid,
                )
