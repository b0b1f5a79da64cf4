"""Promise accuracy figures on a few orders checked by hand, and the zone rule."""

import numpy as np
import pytest

from optimizer.live.report import Outcome, otif_report, service_time_factors, summary
from optimizer.model import Place
from optimizer.travel.zones import nearest_postcodes

H = 3600


def outcome(order_id, status, arrival, done, eta, zone="75011", mode="cargo_bike", hour=9,
            attempt=1, planned=120, actual=None):  # fmt: skip
    return Outcome(order_id, zone, mode, hour, 9 * H, 11 * H, status, arrival, done, eta,
                   attempt, planned, actual)  # fmt: skip


DAY = [
    # on time, ETA 5 min early
    outcome("A", "delivered", 9 * H + 600, 9 * H + 720, 9 * H + 300, actual=120),
    # late: at the door 10 min after the slot's end; ETA 20 min early
    outcome("B", "delivered", 11 * H + 600, 11 * H + 700, 11 * H - 600, actual=100, hour=10),
    # nobody home: not in full, not a first-attempt success
    outcome("C", "failed", 10 * H, 10 * H + 60, 10 * H, zone="75018", mode="van", hour=10),
    # second attempt, on time: OTIF but not first attempt
    outcome(
        "D", "delivered", 9 * H + 60, 9 * H + 300, 9 * H, zone="75018", attempt=2, actual=240
    ),  # fmt: skip
    # not there yet: open, out of the rates
    outcome("E", "open", None, None, 10 * H),
]


def test_otif_first_attempt_and_eta_error_of_a_hand_checked_day():
    figures = summary(DAY)
    assert (figures["orders"], figures["delivered"], figures["failed"], figures["open"]) == (
        5, 3, 1, 1,
    )  # fmt: skip
    assert figures["otif_pct"] == 50.0  # A and D of 4 ended
    assert figures["first_attempt_pct"] == 50.0  # A and B
    # errors (min): A +5, B +20, C 0, D +1 -> |.| sorted 0 1 5 20: p50 3.0, p90 15.5
    assert figures["eta_error_p50_min"] == 3.0
    assert figures["eta_error_p90_min"] == 15.5
    assert figures["eta_bias_min"] == 6.5


def test_the_report_groups_by_zone_mode_and_hour():
    report = otif_report(DAY)
    assert set(report["by_zone"]) == {"75011", "75018"}
    assert report["by_zone"]["75018"]["otif_pct"] == 50.0
    assert report["by_mode"]["van"]["failed"] == 1
    assert list(report["by_hour"]) == ["09", "10"]
    assert report["by_hour"]["10"]["otif_pct"] == 0.0
    assert otif_report([])["overall"]["otif_pct"] is None


def test_service_time_factors_per_zone_from_measured_deliveries_only():
    rows = service_time_factors(DAY, min_samples=1)
    # 75011: A 120/120, B 100/120 -> median ratio 0.9167; 75018: D 240/120 = 2 (C failed)
    assert rows == [
        {"zone": "75011", "factor": 0.917, "samples": 2, "planned_median_s": 120,
         "actual_median_s": 110},
        {"zone": "75018", "factor": 2.0, "samples": 1, "planned_median_s": 120,
         "actual_median_s": 240},
    ]  # fmt: skip
    assert service_time_factors(DAY, min_samples=2) == rows[:1]
    with pytest.raises(ValueError, match="min_samples"):
        service_time_factors(DAY, min_samples=0)


def test_an_outcome_refuses_an_unknown_status():
    with pytest.raises(ValueError, match="status"):
        outcome("X", "lost", None, None, None)


def test_an_address_belongs_to_the_nearest_postcode():
    places = {
        "75011": Place("75011", "11e", 48.8590, 2.3800),
        "75018": Place("75018", "18e", 48.8925, 2.3444),
    }
    assert nearest_postcodes(np.array([48.86, 48.89]), np.array([2.37, 2.35]), places) == [
        "75011",
        "75018",
    ]
    assert nearest_postcodes(np.array([48.86]), np.array([2.37]), {}) == [None]


def test_service_times_csv_scales_the_service_time_of_the_deliveries_of_its_zones(tmp_path):
    from data.generator import generate, write
    from optimizer.io import load_scenario

    write(generate(80, 2), tmp_path / "day")
    before = load_scenario(tmp_path / "day")
    zones = nearest_postcodes(
        np.array([o.lat for o in before.orders]), np.array([o.lon for o in before.orders]),
        before.places,
    )  # fmt: skip
    zone = next(z for z, o in zip(zones, before.orders, strict=True) if o.service_time_s > 0)
    (tmp_path / "day" / "service_times.csv").write_text(
        f"postcode,factor,samples\n{zone},1.5,12\n", encoding="utf-8"
    )
    after = load_scenario(tmp_path / "day")
    for old, new, z in zip(before.orders, after.orders, zones, strict=True):
        scaled = z == zone and old.service.value != "click_collect"
        assert new.service_time_s == (
            round(old.service_time_s * 1.5) if scaled else old.service_time_s
        )


def test_a_bad_service_times_csv_is_refused_with_every_problem_located(tmp_path):
    from data.generator import generate, write
    from optimizer.io import ScenarioError, load_scenario

    write(generate(5, 2), tmp_path / "day")
    (tmp_path / "day" / "service_times.csv").write_text(
        "postcode,factor\n99999,1.2\n75011,0\n75011,2\n", encoding="utf-8"
    )
    with pytest.raises(ScenarioError) as refused:
        load_scenario(tmp_path / "day")
    where = {(p.file, p.line, p.column) for p in refused.value.problems}
    assert where == {
        ("service_times.csv", 2, "postcode"),
        ("service_times.csv", 3, "factor"),
        ("service_times.csv", 4, "postcode"),
    }
