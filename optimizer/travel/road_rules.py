"""Routing profiles on OpenStreetMap tags, as data: which streets a mode may use, in which
direction, at what free-flow speed, and which barriers stop it.

Two networks: ``van`` (delivery vans) and ``bike`` (cargo bikes and trikes). The rules
follow the OSRM project's car and bicycle profiles (``profiles/car.lua``,
``profiles/bicycle.lua``) and the OpenStreetMap wiki's tagging (``Key:oneway``,
``Key:access``, ``Key:cycleway``), narrowed to a delivery: a van may use ``delivery`` and
``destination`` streets, a cargo bike never pushes against a one-way street. Change a rule
and bump :data:`RULES_VERSION`: cached networks carry it in their key.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

RULES_VERSION = "road-rules/1"

YES = frozenset({"yes", "1", "true"})
NO = frozenset({"no", "0", "false"})
REVERSE = frozenset({"-1", "reverse"})

# Walking speed, for a cargo bike pushed where it may not be ridden (``bicycle=dismount``,
# pedestrian streets): OSRM's foot profile (profiles/foot.lua, walking_speed = 5 km/h),
# close to the 1.3-1.4 m/s of Bohannon (1997, Age and Ageing 26: comfortable gait speed).
WALKING_KMH = 5.0

# Speed limits written as a zone, not a number (OSRM car.lua, maxspeed_table_default;
# Denmark: 50 km/h in towns, 80 outside them, Færdselsloven § 42).
ZONE_MAXSPEED_KMH = {"urban": 50.0, "rural": 80.0, "living_street": 15.0, "walk": WALKING_KMH}


@dataclass(frozen=True)
class RoadRules:
    """How one network reads a way's tags.

    ``speed_kmh`` lists the highway classes the mode uses with their free-flow speed; a
    class not listed is closed whatever its access tags say, except the classes of
    ``opened_by_access`` (a footway with ``bicycle=yes``), at the speed given there.
    ``access_keys`` are read most specific first (``motorcar`` before ``access``); the
    first one present decides, and a value in ``denied`` closes the way (or, on a node,
    the passage through it). ``pushed`` classes are walked at :data:`WALKING_KMH` (both
    directions allowed only where the way is two-way).
    """

    name: str
    speed_kmh: Mapping[str, float]
    access_keys: tuple[str, ...]
    denied: frozenset[str]
    barriers_passed: frozenset[str]
    implied_oneway: frozenset[str]
    opened_by_access: Mapping[str, float] = field(default_factory=dict)
    pushed: frozenset[str] = frozenset()
    contraflow: bool = False  # reads oneway:bicycle, cycleway=opposite*, bicycle=opposite
    closing_tags: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def digest(self) -> str:
        """A hash of the rules and :data:`RULES_VERSION`: the cache key of a network."""
        text = json.dumps(
            [RULES_VERSION, WALKING_KMH, ZONE_MAXSPEED_KMH, asdict(self)],
            sort_keys=True,
            default=sorted,  # frozensets, in an order that does not vary between runs
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


VAN = RoadRules(
    name="van",
    # OSRM profiles/car.lua, speeds.highway (km/h): free-flow speeds of the class. The
    # vehicle's own average speed caps them (optimizer.travel.road), so in a city centre
    # only the slow classes (living streets, service roads) differ from it.
    speed_kmh={
        "motorway": 90.0,
        "motorway_link": 45.0,
        "trunk": 85.0,
        "trunk_link": 40.0,
        "primary": 65.0,
        "primary_link": 30.0,
        "secondary": 55.0,
        "secondary_link": 25.0,
        "tertiary": 40.0,
        "tertiary_link": 20.0,
        "unclassified": 25.0,
        "residential": 25.0,
        "living_street": 10.0,
        "service": 15.0,
    },
    # OSRM car.lua access_tags_hierarchy.
    access_keys=("motorcar", "motor_vehicle", "vehicle", "access"),
    # OSRM car.lua access_tag_blacklist without ``delivery``, ``destination`` and
    # ``customers``: a delivery van is what those streets let in.
    denied=frozenset(
        {"no", "private", "agricultural", "forestry", "emergency", "psv", "bus", "military"}
    ),
    # OSRM car.lua barrier_whitelist: a van passes these; a bollard or a fence stops it.
    barriers_passed=frozenset(
        {
            "cattle_grid",
            "border_control",
            "toll_booth",
            "sally_port",
            "gate",
            "lift_gate",
            "no",
            "entrance",
            "height_restrictor",
        }
    ),
    # OSM wiki Key:oneway: motorways are one-way without a tag (OSRM does the same).
    implied_oneway=frozenset({"motorway"}),
    # OSRM car.lua service_tag_forbidden.
    closing_tags={"service": frozenset({"emergency_access"})},
)

BIKE = RoadRules(
    name="bike",
    # OSRM profiles/bicycle.lua, bicycle_speeds: 15 km/h on streets and cycleways
    # (default_speed), 12 on tracks and paths. Trunk roads are ridden as in Danish and
    # French law (only motorways and signed motor roads, ``motorroad=yes``, bar bikes;
    # OSM wiki OSM_tags_for_routing/Access_restrictions, Denmark and France); motorways
    # are not listed, so ``bicycle=yes`` on one opens nothing.
    speed_kmh={
        "trunk": 15.0,
        "trunk_link": 15.0,
        "primary": 15.0,
        "primary_link": 15.0,
        "secondary": 15.0,
        "secondary_link": 15.0,
        "tertiary": 15.0,
        "tertiary_link": 15.0,
        "unclassified": 15.0,
        "residential": 15.0,
        "living_street": 15.0,
        "road": 15.0,
        "service": 15.0,
        "cycleway": 15.0,
        "track": 12.0,
        "path": 12.0,
    },
    # OSRM bicycle.lua access_tags_hierachy.
    access_keys=("bicycle", "vehicle", "access"),
    # OSRM bicycle.lua access_tag_blacklist, plus ``use_sidepath`` (OSM wiki
    # Key:bicycle: ride the cycle track beside it) and ``psv`` (buses and taxis only).
    denied=frozenset({"no", "private", "agricultural", "forestry", "use_sidepath", "psv"}),
    # OSRM bicycle.lua barrier_whitelist (a bike passes a bollard), plus lift gates.
    barriers_passed=frozenset(
        {
            "cycle_barrier",
            "bollard",
            "entrance",
            "cattle_grid",
            "border_control",
            "toll_booth",
            "sally_port",
            "gate",
            "lift_gate",
            "no",
        }
    ),
    implied_oneway=frozenset({"motorway"}),
    # A footway or pedestrian street signed for bikes is ridden (OSRM bicycle.lua rides
    # an unknown class with an allowing access tag at default_speed).
    opened_by_access={"footway": 15.0, "pedestrian": 15.0, "bridleway": 12.0},
    # Pedestrian streets are walked, the bike pushed (OSRM bicycle.lua pedestrian_speeds,
    # mode_pushing): a courier delivers on them on foot beside the bike.
    pushed=frozenset({"pedestrian"}),
    contraflow=True,
    closing_tags={"motorroad": YES},
)

RULES: dict[str, RoadRules] = {rules.name: rules for rules in (VAN, BIKE)}


def way_speeds_kmh(tags: Mapping[str, str], rules: RoadRules) -> tuple[float, float]:
    """Free-flow speed along the way's drawing order and against it; 0 where closed."""
    speed = _class_speed_kmh(tags, rules)
    if speed <= 0:
        return 0.0, 0.0
    maxspeed = parse_maxspeed_kmh(tags.get("maxspeed", ""))
    if maxspeed:
        speed = min(speed, maxspeed)
    forward, backward = _directions(tags, rules)
    return (speed if forward else 0.0), (speed if backward else 0.0)


def _class_speed_kmh(tags: Mapping[str, str], rules: RoadRules) -> float:
    highway = tags.get("highway", "")
    if tags.get("area") in YES:
        return 0.0  # a square drawn as an area (OSRM avoids 'area')
    if any(tags.get(key, "") in values for key, values in rules.closing_tags.items()):
        return 0.0
    access = access_value(tags, rules)
    if access in rules.denied:
        return 0.0
    if access == "dismount":
        return WALKING_KMH
    if highway in rules.speed_kmh:
        return rules.speed_kmh[highway]
    own_tag = tags.get(rules.access_keys[0], "")  # bicycle=yes, not a general access=yes
    if highway in rules.opened_by_access and own_tag in {"yes", "designated", "permissive"}:
        return rules.opened_by_access[highway]
    if highway in rules.pushed and tags.get("foot", "") not in NO:
        return WALKING_KMH
    return 0.0


def access_value(tags: Mapping[str, str], rules: RoadRules) -> str:
    """The most specific access tag the rules read ("" when none is present)."""
    for key in rules.access_keys:
        value = tags.get(key, "")
        if value:
            return value
    return ""


def _directions(tags: Mapping[str, str], rules: RoadRules) -> tuple[bool, bool]:
    if rules.contraflow:
        by_bike = tags.get("oneway:bicycle", "")
        if by_bike in YES:
            return True, False
        if by_bike in REVERSE:
            return False, True
        if by_bike in NO or _cycles_against_the_flow(tags):
            return True, True
    oneway = tags.get("oneway", "")
    if oneway in NO:
        return True, True
    if oneway in YES:
        return True, False
    if oneway in REVERSE:
        return False, True
    if oneway in {"reversible", "alternating"}:
        return False, False  # changes with the time of day: OSRM leaves it out too
    implied = tags.get("junction", "") in {"roundabout", "circular"}
    if implied or tags.get("highway", "") in rules.implied_oneway:
        return True, False
    return True, True


def _cycles_against_the_flow(tags: Mapping[str, str]) -> bool:
    """A contraflow lane or track (OSM wiki Key:cycleway: ``opposite``,
    ``opposite_lane``, ``opposite_track``; the older ``bicycle=opposite``)."""
    if tags.get("bicycle", "") == "opposite":
        return True
    return any(
        tags.get(key, "").startswith("opposite")
        for key in ("cycleway", "cycleway:left", "cycleway:right", "cycleway:both")
    )


def node_passable(tags: Mapping[str, str], rules: RoadRules) -> bool:
    """Whether the mode passes a node with these tags (OSRM's process_node: an access
    tag on the node decides; else a barrier not in the rules' list stops the mode)."""
    access = access_value(tags, rules)
    if access:
        return access not in rules.denied
    barrier = tags.get("barrier", "")
    return not barrier or barrier in rules.barriers_passed


_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh)?\s*$")


def parse_maxspeed_kmh(value: str) -> float:
    """A ``maxspeed`` tag in km/h: ``"40"``, ``"30 mph"``, ``"DK:urban"``; 0 when it says
    nothing usable (``"none"``, ``"signals"``, a typo)."""
    match = _NUMBER.match(value)
    if match:
        number = float(match.group(1))
        return number * 1.609344 if match.group(2) == "mph" else number
    zone = value.partition(":")[2].strip().lower()
    return ZONE_MAXSPEED_KMH.get(zone, 0.0)
