"""Split baskets: the ways to ship one basket from several nodes, a parcel from each.

A basket no single node holds may still be served by two (or up to ``max_split``) nodes
that hold it between them. Each SKU line ships whole from one node; each node of a split
ships one parcel with its own route stop. The lines of an order are few and so are the
nodes that can deliver to one address, so the search is exact over the cheapest nodes:
every set of 2..``max_split`` of them that covers the basket, each SKU going to the
cheapest node of the set that holds it (a set where some node would get nothing is left
out: a smaller set covers the basket). Candidates come back cheapest lower bound first;
the caller prices the few best exactly (each parcel's own route insertion).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

# Nodes, cheapest first, among which splits are searched: C(8, 2) = 28 pairs, 56 triples.
SEARCH_NODES = 8


@dataclass(frozen=True)
class SplitCandidate:
    """One way to split a basket: ``parts[k]`` = (node index, units per SKU)."""

    parts: tuple[tuple[int, np.ndarray], ...]
    bound_eur: float  # sum of the nodes' lower-bound parcel costs + the split penalties


def split_candidates(
    need: np.ndarray,
    stock: np.ndarray,
    usable: np.ndarray,
    parcel_eur: np.ndarray,
    max_split: int,
    penalty_eur: float,
) -> list[SplitCandidate]:
    """Splits of a basket over 2..``max_split`` usable nodes, cheapest bound first.

    Parameters
    ----------
    need
        (S,) units per SKU of the basket.
    stock
        (N, S) units per node and SKU left.
    usable
        (N,) nodes that may ship a parcel of this order (reach, picking, exclusions).
    parcel_eur
        (N,) lower bound of what one parcel from each node costs (EUR); inf: none.
    max_split
        The most parcels (nodes) a basket may ship in.
    penalty_eur
        Cost of each parcel beyond the first.
    """
    if max_split < 2:
        return []
    skus = np.flatnonzero(need > 0)
    holds = stock[:, skus] >= need[skus]  # (N, L): node holds the whole line
    nodes = np.flatnonzero(usable & np.isfinite(parcel_eur) & holds.any(axis=1))
    nodes = nodes[np.argsort(parcel_eur[nodes], kind="stable")][:SEARCH_NODES]
    out = []
    for m in range(2, min(max_split, len(nodes), len(skus)) + 1):
        for combo in combinations(nodes.tolist(), m):  # cheapest node first in each
            h = holds[list(combo)]
            if not h.any(axis=0).all():
                continue
            owner = h.argmax(axis=0)  # each line to the cheapest node of the set holding it
            if len(np.unique(owner)) < m:
                continue
            parts = []
            for k, j in enumerate(combo):
                part = np.zeros_like(need)
                mine = skus[owner == k]
                part[mine] = need[mine]
                parts.append((j, part))
            bound = float(parcel_eur[list(combo)].sum()) + penalty_eur * (m - 1)
            out.append(SplitCandidate(tuple(parts), bound))
    out.sort(key=lambda c: c.bound_eur)
    return out
