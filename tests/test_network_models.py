"""The exact facility-location models against brute-force enumeration and hand-solved
cases (spopt is not a dependency: enumeration over every subset is the reference)."""

from itertools import combinations

import numpy as np
import pytest

from optimizer.network import covers_within, facility_location, max_covering, p_median


def _case(seed: int, points: int = 9, sites: int = 6):
    rng = np.random.default_rng(seed)
    xy_points = rng.uniform(0, 10, size=(points, 2))
    xy_sites = rng.uniform(0, 10, size=(sites, 2))
    dist = np.hypot(*(xy_points[:, None, :] - xy_sites[None, :, :]).transpose(2, 0, 1))
    weight = rng.integers(1, 20, size=points).astype(float)
    return weight, dist


def _brute_p_median(weight, dist, p, must=()):
    best = np.inf
    for subset in combinations(range(dist.shape[1]), p):
        if not set(must) <= set(subset):
            continue
        best = min(best, float(weight @ dist[:, list(subset)].min(axis=1)))
    return best


def _brute_cover(weight, covers, p, must=()):
    best = -1.0
    for size in range(1, p + 1):
        for subset in combinations(range(covers.shape[1]), size):
            if set(must) <= set(subset):
                best = max(best, float(weight @ covers[:, list(subset)].any(axis=1)))
    return best


def _brute_uflp(weight, serve, fixed):
    best = np.inf
    for size in range(1, serve.shape[1] + 1):
        for subset in combinations(range(serve.shape[1]), size):
            s = list(subset)
            best = min(best, fixed[s].sum() + float(weight @ serve[:, s].min(axis=1)))
    return best


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("p", [1, 2, 3])
def test_p_median_matches_enumeration(seed, p):
    weight, dist = _case(seed)
    result = p_median(weight, dist, p)
    assert result.optimal
    assert result.open.sum() == p
    assert result.objective == pytest.approx(_brute_p_median(weight, dist, p), rel=1e-6)
    # every point goes to its nearest open site
    open_ = result.open_sites
    nearest = np.array(open_)[np.argmin(dist[:, open_], axis=1)]
    assert np.allclose(
        dist[np.arange(len(weight)), result.assign], dist[np.arange(len(weight)), nearest]
    )


@pytest.mark.parametrize("seed", range(6))
def test_p_median_keeps_forced_sites_and_matches_enumeration(seed):
    weight, dist = _case(seed)
    result = p_median(weight, dist, 3, must_open=np.eye(6, dtype=bool)[0])
    assert result.open[0]
    assert result.objective == pytest.approx(_brute_p_median(weight, dist, 3, must=(0,)), rel=1e-6)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("radius", [2.0, 3.5])
def test_max_covering_matches_enumeration(seed, radius):
    weight, dist = _case(seed)
    covers = covers_within(dist, radius)
    result = max_covering(weight, covers, 2)
    assert result.optimal and result.open.sum() <= 2
    assert result.objective == pytest.approx(_brute_cover(weight, covers, 2), rel=1e-6)
    covered = covers[:, result.open].any(axis=1)
    assert weight[covered].sum() == pytest.approx(result.objective)
    assert np.all((result.assign >= 0) == covered)


@pytest.mark.parametrize("seed", range(6))
def test_uncapacitated_facility_location_matches_enumeration(seed):
    weight, dist = _case(seed)
    fixed = np.random.default_rng(100 + seed).uniform(20, 120, size=dist.shape[1])
    serve = 1.0 + 0.5 * dist
    big = np.full(dist.shape[1], weight.sum())
    result = facility_location(weight, serve, fixed, big)
    assert result.optimal
    assert result.objective == pytest.approx(_brute_uflp(weight, serve, fixed), rel=1e-6)


def test_capacity_splits_demand_at_the_known_optimum():
    # Two points of 10 orders next to site 0 (capacity 15); site 1 is far but roomy.
    # Site 1 alone: 80 + 20 x 10 = 280. Both: site 0 takes 15 orders at 1 EUR, site 1
    # the other 5 at 10 EUR: 100 + 80 + 15 + 50 = 245, the optimum.
    weight = np.array([10.0, 10.0])
    serve = np.array([[1.0, 10.0], [1.0, 10.0]])
    result = facility_location(weight, serve, [100.0, 80.0], [15.0, 100.0])
    assert result.open.tolist() == [True, True]
    assert result.objective == pytest.approx(245.0)


def test_a_site_that_does_not_pay_for_itself_stays_closed_unless_forced():
    weight = np.array([10.0])
    serve = np.array([[2.0, 1.0]])  # site 1 saves 1 EUR per order, costs 50 a day
    free = facility_location(weight, serve, [0.0, 50.0], [100.0, 100.0])
    assert free.open.tolist() == [True, False] and free.objective == pytest.approx(20.0)
    forced = facility_location(weight, serve, [0.0, 50.0], [100.0, 100.0], must_open=[False, True])
    assert forced.open[1] and forced.objective == pytest.approx(60.0)
    barred = facility_location(weight, serve, [0.0, 0.0], [100.0, 100.0], may_open=[True, False])
    assert barred.open.tolist() == [True, False]


def test_out_of_reach_pairs_are_never_used():
    weight = np.array([5.0, 5.0])
    serve = np.array([[1.0, np.inf], [np.inf, 1.0]])
    result = facility_location(weight, serve, [10.0, 10.0], [100.0, 100.0])
    assert result.open.tolist() == [True, True] and result.assign.tolist() == [0, 1]


def test_bad_inputs_get_clear_errors():
    weight = np.array([10.0, 10.0])
    serve = np.ones((2, 2))
    with pytest.raises(ValueError, match="hold 10 orders a day, the demand is 20"):
        facility_location(weight, serve, [0, 0], [5, 5])
    with pytest.raises(ValueError, match="no site may serve"):
        facility_location(weight, np.full((2, 2), np.inf), [0, 0], [50, 50])
    with pytest.raises(ValueError, match="p = 3 sites cannot be opened"):
        p_median(weight, serve, 3)
    with pytest.raises(ValueError, match="one value per site"):
        facility_location(weight, serve, [0], [50, 50])
    with pytest.raises(ValueError, match="forced open and barred"):
        p_median(weight, serve, 1, must_open=[True, False], may_open=[False, True])
    with pytest.raises(ValueError, match="solver"):
        p_median(weight, serve, 1, solver="gurobi")
