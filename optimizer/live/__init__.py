"""Live operations: ETAs of the remaining stops from the vehicles' events, and the
promise-accuracy report (on time in full, first attempt, ETA error, service times)."""

from optimizer.live.eta import Eta, Fix, Waypoint, at_stop, estimate, eta_window

__all__ = ["Eta", "Fix", "Waypoint", "at_stop", "estimate", "eta_window"]
