"""Real-world facts about Paris that the day generator builds on.

Plain constants, each figure with where it comes from. Coordinates are WGS 84 degrees,
rounded to what a street map gives (~10-50 m): good enough to plan a city day, not
to find a door. Polygons are lists of ``(lon, lat)`` like GeoJSON, first point not
repeated.
"""

from __future__ import annotations

import math
from typing import NamedTuple


class Area(NamedTuple):
    """A residential area orders are drawn from (an arrondissement or a commune)."""

    name: str
    postcode: str
    population: int
    lat: float  # approximate residential centroid
    lon: float
    area_km2: float  # built-up area (the Bois de Boulogne / Vincennes left out)

    @property
    def radius_km(self) -> float:
        """Radius of the disc with the same area: sqrt(area / pi)."""
        return math.sqrt(self.area_km2 / math.pi)


# Populations: INSEE, populations légales 2021 (population municipale, in force on
# 1 January 2024), rounded to the nearest thousand. They only weight where orders
# fall; Paris sums to 2.125 M against INSEE's 2,133,111 for the whole commune.
# Checked against INSEE's pages when written: the 1er (15,919), the 20e (189,805) and
# the total; re-check the others against INSEE's table before quoting one of them.
# Areas: surface of each arrondissement from the Ville de Paris / INSEE
# (e.g. 1er 1.826 km², 16e 16.305 km²). For the 12e and 16e the woods are taken out:
# Bois de Vincennes 9.95 km², Bois de Boulogne 8.46 km² (Ville de Paris), so orders
# are not drawn in the middle of a forest.
# Centroids: the middle of the arrondissement's built-up part, read off a map.
ARRONDISSEMENTS: tuple[Area, ...] = (
    Area("Paris 1er (Louvre)", "75001", 16_000, 48.8625, 2.3390, 1.826),
    Area("Paris 2e (Bourse)", "75002", 20_000, 48.8683, 2.3428, 0.992),
    Area("Paris 3e (Temple)", "75003", 33_000, 48.8630, 2.3601, 1.171),
    Area("Paris 4e (Hôtel-de-Ville)", "75004", 28_000, 48.8560, 2.3560, 1.601),
    Area("Paris 5e (Panthéon)", "75005", 56_000, 48.8445, 2.3497, 2.541),
    Area("Paris 6e (Luxembourg)", "75006", 40_000, 48.8491, 2.3328, 2.154),
    Area("Paris 7e (Palais-Bourbon)", "75007", 48_000, 48.8562, 2.3122, 4.088),
    Area("Paris 8e (Élysée)", "75008", 35_000, 48.8727, 2.3125, 3.881),
    Area("Paris 9e (Opéra)", "75009", 59_000, 48.8770, 2.3375, 2.179),
    Area("Paris 10e (Entrepôt)", "75010", 83_000, 48.8762, 2.3608, 2.892),
    Area("Paris 11e (Popincourt)", "75011", 142_000, 48.8590, 2.3800, 3.666),
    Area("Paris 12e (Reuilly)", "75012", 140_000, 48.8405, 2.3900, 16.324 - 9.95),
    Area("Paris 13e (Gobelins)", "75013", 178_000, 48.8283, 2.3623, 7.146),
    Area("Paris 14e (Observatoire)", "75014", 134_000, 48.8292, 2.3265, 5.621),
    Area("Paris 15e (Vaugirard)", "75015", 228_000, 48.8401, 2.2930, 8.502),
    Area("Paris 16e (Passy)", "75016", 161_000, 48.8600, 2.2740, 16.305 - 8.46),
    Area("Paris 17e (Batignolles-Monceau)", "75017", 164_000, 48.8873, 2.3067, 5.669),
    Area("Paris 18e (Buttes-Montmartre)", "75018", 189_000, 48.8925, 2.3484, 6.005),
    Area("Paris 19e (Buttes-Chaumont)", "75019", 181_000, 48.8871, 2.3848, 6.786),
    Area("Paris 20e (Ménilmontant)", "75020", 190_000, 48.8634, 2.4011, 5.984),
)

# Inner-suburb communes (petite couronne) served from the same network, plus
# Aulnay-sous-Bois, which lies outside the A86 ring next to the warehouse.
# Populations: INSEE populations légales 2021, rounded to the nearest thousand (not
# checked one by one; re-check before quoting).
# Areas: INSEE commune surfaces (Code officiel géographique). Centroids: town centre.
SUBURBS: tuple[Area, ...] = (
    Area("Boulogne-Billancourt", "92100", 121_000, 48.8352, 2.2410, 6.17),
    Area("Neuilly-sur-Seine", "92200", 59_000, 48.8847, 2.2686, 3.73),
    Area("Levallois-Perret", "92300", 66_000, 48.8950, 2.2870, 2.41),
    Area("Issy-les-Moulineaux", "92130", 68_000, 48.8240, 2.2700, 4.25),
    Area("Montreuil", "93100", 111_000, 48.8610, 2.4430, 8.92),
    Area("Vincennes", "94300", 50_000, 48.8474, 2.4390, 1.91),
    Area("Saint-Denis", "93200", 113_000, 48.9300, 2.3580, 12.36),
    Area("Ivry-sur-Seine", "94200", 64_000, 48.8130, 2.3850, 6.10),
    Area("Clichy", "92110", 63_000, 48.9040, 2.3060, 3.08),
    Area("Aulnay-sous-Bois", "93600", 87_000, 48.9380, 2.4970, 16.20),
)

AREAS: tuple[Area, ...] = ARRONDISSEMENTS + SUBURBS


class NodeProfile(NamedTuple):
    """Opening hours and picking figures of a kind of node."""

    opens: str
    closes: str
    pick_capacity_per_hour: float  # orders of 1-4 lines
    handling_cost_eur: float


# Picking figures per order (order-of-magnitude industry figures):
PROFILES: dict[str, NodeProfile] = {
    # Warehouse: zone picking at ~100-200 lines per picker-hour with a team of pickers
    # -> 150 orders/h; cheapest per order thanks to scale and low rents; two shifts.
    "warehouse": NodeProfile("05:00", "22:00", 150, 1.2),
    # Urban hub (logistics hotel): a smaller team on dearer urban floor space; open
    # early and late enough to dispatch both vehicle shifts.
    "urban_hub": NodeProfile("06:00", "21:00", 60, 1.8),
    # Dark store: quick-commerce layout, 2-4 pickers, Paris rents; open 07:00-23:00
    # like the quick-commerce dark stores of 2021-22.
    "dark_store": NodeProfile("07:00", "23:00", 40, 2.2),
    # Store: sales staff pick between customers, at 3-5x the warehouse's cost per
    # order (the range retailers quote for store picking); usual Paris shop hours.
    "store": NodeProfile("09:00", "20:00", 15, 3.5),
}
# Department stores (boulevard Haussmann) and shopping centres (Forum des Halles,
# Italie Deux, Les Quatre Temps) open at 10:00.
OPENS_AT_TEN = frozenset({"ST-HALLES", "ST-OPERA", "ST-ITALIE2", "ST-DEFENSE"})

# Real logistics sites and shopping streets, coordinates read off a map:
# (node_id, kind, lat, lon, name).
PLACES: tuple[tuple[str, str, float, float, str], ...] = (
    # Garonor logistics park, Aulnay-sous-Bois, at the A1/A3 junction: outside Paris
    # and outside the A86 ring (so outside the low-emission zone).
    ("WH-GARONOR", "warehouse", 48.9420, 2.5070, "Garonor warehouse (Aulnay-sous-Bois)"),
    # Chapelle International: Sogaris' rail-served logistics hotel, 18e, by the
    # boulevard périphérique.
    ("HUB-CHAPELLE", "urban_hub", 48.8965, 2.3598, "Chapelle International logistics hotel (18e)"),
    # The Bercy-Charenton rail yards, 12e, near the porte de Charenton.
    ("HUB-BERCY", "urban_hub", 48.8320, 2.3920, "Bercy-Charenton urban hub (12e)"),
    ("DS-VAUGIRARD", "dark_store", 48.8395, 2.2990, "Vaugirard dark store (15e)"),
    ("DS-BATIGNOLLES", "dark_store", 48.8860, 2.3165, "Batignolles dark store (17e)"),
    ("DS-GAMBETTA", "dark_store", 48.8655, 2.3975, "Gambetta dark store (20e)"),
    # Forum des Halles, 1er: inside the Paris Centre limited-traffic zone.
    ("ST-HALLES", "store", 48.8625, 2.3465, "Les Halles store (Forum des Halles, 1er)"),
    ("ST-OPERA", "store", 48.8737, 2.3320, "Opéra-Haussmann store (9e)"),
    ("ST-MONTPARNASSE", "store", 48.8420, 2.3215, "Montparnasse store (15e)"),
    # Rue du Faubourg-Saint-Antoine, just east of the place de la Bastille (outside the
    # limited-traffic zone, which stops at the place).
    ("ST-BASTILLE", "store", 48.8528, 2.3745, "Bastille store (Faubourg-Saint-Antoine, 11e)"),
    ("ST-ITALIE2", "store", 48.8303, 2.3557, "Italie Deux store (13e)"),
    ("ST-DEFENSE", "store", 48.8913, 2.2375, "La Défense store (Les Quatre Temps)"),
    ("ST-BOULOGNE", "store", 48.8360, 2.2400, "Boulogne store (Boulogne-Billancourt)"),
    ("ST-MONTREUIL", "store", 48.8578, 2.4360, "Montreuil store (Croix-de-Chavaux)"),
)


class NodeFacts(NamedTuple):
    """A fulfilment node as ``nodes.csv`` describes it (times are ``HH:MM``)."""

    node_id: str
    name: str
    kind: str  # store | urban_hub | dark_store | warehouse
    lat: float
    lon: float
    opens: str
    closes: str
    pick_capacity_per_hour: float
    handling_cost_eur: float


NODES: tuple[NodeFacts, ...] = tuple(
    NodeFacts(
        node_id,
        name,
        kind,
        lat,
        lon,
        opens="10:00" if node_id in OPENS_AT_TEN else PROFILES[kind].opens,
        closes=PROFILES[kind].closes,
        pick_capacity_per_hour=PROFILES[kind].pick_capacity_per_hour,
        handling_cost_eur=PROFILES[kind].handling_cost_eur,
    )
    for node_id, kind, lat, lon, name in PLACES
)


class VehicleTypeFacts(NamedTuple):
    """A vehicle type as ``vehicle_types.csv`` describes it."""

    vehicle_type_id: str
    mode: str  # van | cargo_bike | cargo_trike
    capacity_kg: float
    capacity_l: float
    range_km: float
    speed_kmh: float
    fixed_cost_eur: float
    cost_per_km_eur: float
    cost_per_hour_eur: float
    co2_g_per_km: float
    zero_emission: bool


# Electricity figures used below: French grid ~52 gCO2e/kWh (ADEME Base Empreinte,
# "mix moyen" France, life cycle, 2022); professional price ~0.20 EUR/kWh excl. VAT (2024).
VEHICLE_TYPES: tuple[VehicleTypeFacts, ...] = (
    VehicleTypeFacts(
        "evan",
        "van",
        # Renault Kangoo Van E-Tech Electric (2023): payload up to ~600 kg, load volume
        # 3.3-3.9 m³ (Renault Pro+ spec sheets).
        capacity_kg=600,
        capacity_l=3300,
        # 45 kWh battery, WLTP ~300 km; ~200 km is what fleets see in winter urban
        # stop-and-go with the heating on.
        range_km=200,
        # Observatoire des déplacements à Paris (Ville de Paris, "Bilan des
        # déplacements"): average traffic speed on the Paris road network ~14-16 km/h
        # intramuros. Part of the routes run in the suburbs and on the A1/A86, so a
        # slightly higher door-to-door average; parking search is in the service time.
        speed_kmh=18,
        # Leasing ~600 EUR/month + insurance ~100 EUR/month over ~20 working days.
        fixed_cost_eur=35,
        # 20 kWh/100 km x 0.20 EUR/kWh = 0.04 EUR/km energy, + ~0.04 EUR/km tyres and
        # maintenance.
        cost_per_km_eur=0.08,
        # Driver: ~14 EUR/h gross (road haulage collective agreement, delivery driver)
        # x ~1.45 employer contributions, + paid breaks and supervision -> ~28 EUR/h.
        cost_per_hour_eur=28,
        # Well to wheel: 20 kWh/100 km x 52 gCO2e/kWh = 10.4, + charging losses -> ~11.
        co2_g_per_km=11,
        zero_emission=True,
    ),
    VehicleTypeFacts(
        "ebike",
        "cargo_bike",
        # Urban Arrow Cargo-class front-box e-cargo bike: ~125 kg of goods once the rider
        # is counted in the gross weight, ~500 L box (manufacturer figures, rounded).
        capacity_kg=125,
        capacity_l=500,
        # 500-750 Wh battery: 50-80 km of loaded urban riding (assisted to 25 km/h);
        # one spare battery is not assumed.
        range_km=60,
        # Door-to-door average of cargo-bike couriers in dense cities ~13-16 km/h:
        # capped at 25 km/h by the EU assistance limit, no queueing, bus and cycle lanes
        # (e.g. Verlinghieri et al. 2021, cargo bikes in central London).
        speed_kmh=15,
        # Leasing ~150 EUR/month + insurance and upkeep, over ~22 working days.
        fixed_cost_eur=8,
        # ~1.5 kWh/100 km of electricity is negligible; tyres, brakes and chain
        # ~0.02 EUR/km.
        cost_per_km_eur=0.02,
        # Rider: ~12.5 EUR/h gross x ~1.45 employer contributions + breaks -> ~24 EUR/h.
        cost_per_hour_eur=24,
        # Electricity ~1.5 kWh/100 km x 52 g, plus a share of the battery's manufacture.
        co2_g_per_km=1,
        zero_emission=True,
    ),
    VehicleTypeFacts(
        "etrike",
        "cargo_trike",
        # Container e-cargo trike (Fulpra / Armadillo class): ~250 kg of goods, ~1.5 m³
        # box (manufacturer figures, rounded).
        capacity_kg=250,
        capacity_l=1500,
        # ~2 kWh of batteries, heavier than a bike: ~50 km loaded.
        range_km=50,
        # Wider than a bike, cannot use every cycle lane: ~12 km/h door to door.
        speed_kmh=12,
        # Leasing ~250 EUR/month + insurance and upkeep, over ~22 working days.
        fixed_cost_eur=12,
        # Tyres, brakes, drivetrain ~0.03 EUR/km.
        cost_per_km_eur=0.03,
        # Same rider cost as the bike.
        cost_per_hour_eur=24,
        # Electricity ~3 kWh/100 km x 52 g, plus a share of the battery's manufacture.
        co2_g_per_km=2,
        zero_emission=True,
    ),
    VehicleTypeFacts(
        "dvan",
        "van",
        # Subcontracted 3.5 t diesel panel van (Renault Trafic / Ford Transit Custom
        # class): ~800 kg payload, ~4 m³ (manufacturer figures, rounded).
        capacity_kg=800,
        capacity_l=4000,
        # One tank (~70 L) lasts a day's work.
        range_km=500,
        # Same traffic as the electric van, a little more time on the ring roads.
        speed_kmh=20,
        # Subcontractor's day rate for the vehicle (driver billed per hour below).
        fixed_cost_eur=60,
        # ~9 L/100 km in town x ~1.75 EUR/L diesel = 0.16 EUR/km, + ~0.09 EUR/km upkeep.
        cost_per_km_eur=0.25,
        # Subcontracted driver, with the carrier's margin.
        cost_per_hour_eur=30,
        # ~9 L/100 km x 3.16 kgCO2e/L (ADEME Base Empreinte, gazole routier, upstream
        # + combustion) = ~285 -> 290 gCO2e/km well to wheel.
        co2_g_per_km=290,
        zero_emission=False,
    ),
)


class ZoneFacts(NamedTuple):
    zone_id: str
    name: str
    rule: str  # limited_traffic | low_emission
    ring: tuple[tuple[float, float], ...]  # (lon, lat), not closed


ZONES: tuple[ZoneFacts, ...] = (
    # "Paris Centre" limited-traffic zone (zone à trafic limité, arrondissements 1-4,
    # announced by the Ville de Paris): the boulevards that bound it, from the place de
    # la Concorde along the Grands Boulevards to République and Bastille, then back
    # along the Seine (the islands are inside).
    ZoneFacts(
        "ZTL-CENTRE",
        "Paris Centre limited-traffic zone",
        "limited_traffic",
        (
            (2.3225, 48.8637),  # pont de la Concorde
            (2.3235, 48.8675),  # rue Saint-Florentin / rue Saint-Honoré
            (2.3290, 48.8700),  # rue Cambon / boulevard de la Madeleine
            (2.3330, 48.8708),  # boulevard des Capucines (Opéra)
            (2.3420, 48.8715),  # boulevard Montmartre
            (2.3530, 48.8705),  # Strasbourg-Saint-Denis
            (2.3635, 48.8675),  # République
            (2.3665, 48.8610),  # Filles-du-Calvaire
            (2.3690, 48.8535),  # Bastille
            (2.3665, 48.8490),  # pont de Sully / boulevard Morland
            (2.3560, 48.8470),  # pont de la Tournelle (left arm of the Seine)
            (2.3440, 48.8525),  # Petit-Pont / Saint-Michel
            (2.3380, 48.8570),  # Pont-Neuf
            (2.3300, 48.8605),  # pont Royal
        ),
    ),
    # Grand Paris low-emission zone (ZFE-m of the Métropole du Grand Paris): the area
    # inside the A86 ring road, approximated by the interchanges it passes.
    ZoneFacts(
        "ZFE-A86",
        "Grand Paris low-emission zone (inside the A86 ring)",
        "low_emission",
        (
            (2.2400, 48.9200),  # Colombes
            (2.2900, 48.9320),  # Gennevilliers
            (2.3300, 48.9380),  # Villeneuve-la-Garenne / L'Île-Saint-Denis
            (2.3650, 48.9350),  # Saint-Denis
            (2.4000, 48.9230),  # La Courneuve
            (2.4400, 48.9070),  # Bobigny
            (2.4750, 48.8850),  # Rosny-sous-Bois
            (2.4800, 48.8550),  # Fontenay-sous-Bois / Nogent
            (2.4700, 48.8200),  # Joinville / Saint-Maur
            (2.4500, 48.7900),  # Créteil
            (2.4000, 48.7650),  # Thiais / Choisy-le-Roi
            (2.3300, 48.7620),  # Fresnes / Antony
            (2.2700, 48.7700),  # Châtenay-Malabry
            (2.2100, 48.7900),  # Vélizy-Villacoublay
            (2.1900, 48.8350),  # Chaville / Versailles side
            (2.1900, 48.8750),  # Rueil-Malmaison
            (2.2100, 48.9000),  # Nanterre
        ),
    ),
)

# Paris intramuros: the boulevard périphérique, woods left out, approximated by its
# gates (portes). Used to check that the urban nodes are in the city.
PARIS_PERIPHERIQUE: tuple[tuple[float, float], ...] = (
    (2.2825, 48.8780),  # porte Maillot
    (2.2920, 48.8860),  # porte de Champerret
    (2.3130, 48.8945),  # porte de Clichy
    (2.3300, 48.8975),  # porte de Saint-Ouen
    (2.3445, 48.9000),  # porte de Clignancourt
    (2.3590, 48.8985),  # porte de la Chapelle
    (2.3700, 48.8985),  # porte d'Aubervilliers
    (2.3855, 48.8975),  # porte de la Villette
    (2.3925, 48.8885),  # porte de Pantin
    (2.4065, 48.8770),  # porte des Lilas
    (2.4090, 48.8640),  # porte de Bagnolet
    (2.4105, 48.8470),  # porte de Vincennes
    (2.4055, 48.8350),  # porte Dorée
    (2.3990, 48.8290),  # porte de Charenton
    (2.3700, 48.8215),  # porte d'Ivry
    (2.3590, 48.8190),  # porte d'Italie
    (2.3255, 48.8230),  # porte d'Orléans
    (2.3040, 48.8275),  # porte de Vanves
    (2.2870, 48.8320),  # porte de Versailles
    (2.2570, 48.8380),  # porte de Saint-Cloud
    (2.2560, 48.8480),  # porte d'Auteuil
    (2.2690, 48.8620),  # porte de la Muette
    (2.2765, 48.8715),  # porte Dauphine
)
