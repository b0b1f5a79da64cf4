"""Read and validate a scenario folder (the contract is ``docs/scenario-format.md``).

:func:`load_scenario` reads every file and collects every problem it finds, each with its
file, line (a CSV header is line 1) and column, then raises one :class:`ScenarioError`
listing them all; it returns a :class:`Scenario` only when there are none.

Files are read in dependency order (nodes before the fleet that refers to them). A
reference is checked only when the file it points into could be read completely, so one
broken file is reported once rather than as a cascade of unknown ids in the others.

The generic CSV machinery is :mod:`optimizer.io.tables`; each group of files has its
reader: :mod:`optimizer.io.scenario_settings` (``scenario.yaml``),
:mod:`optimizer.io.scenario_zones` (``zones.geojson``, ``.gpkg`` or ``.shp``),
:mod:`optimizer.io.scenario_fleet` (nodes, vehicle types, fleet) and
:mod:`optimizer.io.scenario_orders` (catalogue, stock, orders, returns and their
companions). This module reads a file's text (or a GIS layer, :mod:`optimizer.io.gis`)
within the planner's size limits and puts the scenario together.
"""

from __future__ import annotations

from pathlib import Path

from optimizer.io.file_limits import FileTooLargeError, read_text_within
from optimizer.io.gis import LayerError, read_layer
from optimizer.io.problems import Problem, ScenarioError
from optimizer.io.scenario_fleet import _FleetFiles
from optimizer.io.scenario_orders import (
    INBOUND_FILE,
    LEAD_TIMES_FILE,
    MAX_SERVICE_TIME_FACTOR,
    POSTCODES_FILE,
    RETURN_LINES_FILE,
    RETURNS_FILE,
    SERVICE_TIMES_EXTRA,
    SERVICE_TIMES_FILE,
    _OrderFiles,
)
from optimizer.io.scenario_settings import (
    _FALLBACK_DATE,
    _FALLBACK_TIMEZONE,
    SETTINGS_FILE,
    _SettingsFiles,
)
from optimizer.io.scenario_travel import road_travel, snap_warnings
from optimizer.io.scenario_zones import ZONES_FILE, ZONES_FILES, _ZoneFiles
from optimizer.io.tables import (
    MAX_NUMBER,
    MISSING_COORDINATES,
    PARCEL_SEPARATOR,
    _Index,
    coordinates_look_missing,
    header_problems,
    header_readable,
    id_problem,
)
from optimizer.model.scenario import Scenario, Settings

__all__ = [
    "SCENARIO_FILES",
    "INBOUND_FILE",
    "LEAD_TIMES_FILE",
    "MAX_FILE_BYTES",
    "MAX_NUMBER",
    "MAX_ORDERS",
    "MAX_ROWS_BY_FILE",
    "MAX_SERVICE_TIME_FACTOR",
    "MAX_TABLE_ROWS",
    "MISSING_COORDINATES",
    "PARCEL_SEPARATOR",
    "POSTCODES_FILE",
    "RETURNS_FILE",
    "RETURN_LINES_FILE",
    "SERVICE_TIMES_EXTRA",
    "SERVICE_TIMES_FILE",
    "SETTINGS_FILE",
    "ZONES_FILE",
    "ZONES_FILES",
    "coordinates_look_missing",
    "header_problems",
    "header_readable",
    "id_problem",
    "load_scenario",
]

# Every file of the scenario format (docs/scenario-format.md), optional ones included, and
# a Shapefile's companions: what `generate --force` clears before it writes a new day.
SCENARIO_FILES = (
    SETTINGS_FILE, "nodes.csv", "vehicle_types.csv", "fleet.csv", "catalogue.csv",
    "stock.csv", "orders.csv", "order_lines.csv", INBOUND_FILE, LEAD_TIMES_FILE, POSTCODES_FILE,
    SERVICE_TIMES_FILE, RETURNS_FILE, RETURN_LINES_FILE, *ZONES_FILES,
    "zones.dbf", "zones.shx", "zones.prj", "zones.cpg",
)  # fmt: skip

# parsed: beyond it a plan would exhaust the machine's memory, not finish later. The
# scale-out bench plans 50,000 orders (orders.csv about 4.5 MB, order_lines.csv 86,000
# rows); the limits leave twice that.
MAX_FILE_BYTES = 32 * 1024 * 1024  # any file of the folder
MAX_ORDERS = 100_000  # rows of orders.csv, and of returns.csv
MAX_TABLE_ROWS = 500_000  # rows of every other CSV file
MAX_ROWS_BY_FILE = {"orders.csv": MAX_ORDERS, RETURNS_FILE: MAX_ORDERS}


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate the scenario folder ``path``.

    Raises
    ------
    ScenarioError
        Listing every problem found in every file; nothing else is raised for bad data.
    """
    folder = Path(path)
    try:
        is_dir, exists = folder.is_dir(), folder.exists()
    except OSError as error:  # e.g. a name too long for the file system
        message = f"cannot be read: {error.strerror or error}"
        raise ScenarioError(path, [Problem(str(path), None, None, message)]) from None
    if not is_dir:
        message = "is not a folder" if exists else "scenario folder not found"
        raise ScenarioError(path, [Problem(str(path), None, None, message)])
    return _ScenarioReader(folder).read(path)


# --- the scenario --------------------------------------------------------------------


def _too_big(size_bytes: int | None) -> str:
    size = "more" if size_bytes is None else f"{size_bytes / 2**20:.1f} MiB"
    return (
        f"the file is {size}, beyond the planner's limit of "
        f"{MAX_FILE_BYTES // 2**20} MiB per file (see docs/scenario-format.md, Size limits): "
        "split the day into smaller scenarios"
    )


def _too_many(lines: int, limit: int) -> str:
    return (
        f"{lines:,} rows, beyond the planner's limit of {limit:,} for this file (see "
        "docs/scenario-format.md, Size limits): split the day into smaller scenarios"
    )


class _ScenarioReader(_SettingsFiles, _ZoneFiles, _FleetFiles, _OrderFiles):
    """Reads one scenario folder file by file, collecting problems in ``problems``: each
    group of files with its mixed-in reader (settings, zones, fleet, orders)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.problems: list[Problem] = []
        # Times are converted with the scenario's day and zone (a fallback if broken).
        self.clock = Settings(name="", date=_FALLBACK_DATE, timezone=_FALLBACK_TIMEZONE)
        self.node_ids = _Index("node", "nodes.csv")
        self.vehicle_type_ids = _Index("vehicle type", "vehicle_types.csv")
        self.skus = _Index("SKU", "catalogue.csv")
        self.order_ids = _Index("order", "orders.csv")
        self.return_ids = _Index("return", RETURNS_FILE)

    def read(self, path: str | Path) -> Scenario:
        settings = self.settings()
        nodes = self.nodes()
        vehicle_types = self.vehicle_types()
        catalogue = self.catalogue()
        zones = self.zones()
        fleet = self.fleet(nodes, vehicle_types, zones)
        stock = self.stock()
        orders = self.orders()
        inbound = self.inbound()
        lead_times, variant_lead_times = self.lead_times(catalogue)
        places = self.places()
        orders = self.install_times(self.service_times(orders, places), catalogue)
        returns = self.returns(orders)
        if self.problems:
            raise ScenarioError(path, self.problems)
        scenario = Scenario(
            settings,
            nodes,
            vehicle_types,
            fleet,
            catalogue,
            stock,
            orders,
            zones,
            inbound,
            places,
            returns,
            lead_times,
            variant_lead_times=variant_lead_times,
        )
        return self.on_streets(scenario, path)

    def on_streets(self, scenario: Scenario, path: str | Path) -> Scenario:
        """The scenario with its street network, when it plans on roads, and the
        warnings for addresses far from it (:mod:`optimizer.io.scenario_travel`)."""
        travel = road_travel(scenario, self.folder, self.problems)
        if self.problems:
            raise ScenarioError(path, self.problems)
        if travel is None:
            return scenario
        scenario.road_travel = travel
        scenario.warnings.extend(snap_warnings(scenario, travel))
        return scenario

    def read_text(self, file: str) -> str | None:
        """The file's text; None (with a problem) when it is missing, unreadable, not
        UTF-8, or beyond the planner's size (:data:`MAX_FILE_BYTES`, and for a CSV file
        its rows: :data:`MAX_ROWS_BY_FILE`, :data:`MAX_TABLE_ROWS`), checked before it
        is parsed (its bytes before it is read)."""
        path = self.folder / file
        try:
            text = read_text_within(path, MAX_FILE_BYTES, "a scenario file", "utf-8-sig")
            if file.endswith(".csv"):
                limit = MAX_ROWS_BY_FILE.get(file, MAX_TABLE_ROWS)
                # Lines after the header: at least the rows (a quoted cell may span lines).
                lines = text.count("\n") - 1 + (not text.endswith("\n"))
                if lines > limit:
                    self.problems.append(Problem(file, None, None, _too_many(lines, limit)))
                    return None
            return text
        except FileTooLargeError as error:
            self.problems.append(Problem(file, None, None, _too_big(error.size_bytes)))
            return None
        except FileNotFoundError:
            message = "the file is missing"
        except UnicodeDecodeError as error:
            line = error.object.count(b"\n", 0, error.start) + 1
            byte = error.object[error.start]
            self.problems.append(Problem(file, line, None, f"not UTF-8 text (byte 0x{byte:02x})"))
            return None
        except OSError as error:
            message = f"cannot be read: {error.strerror or error}"
        self.problems.append(Problem(file, None, None, message))
        return None

    def layer(self, file: str, name: str, properties: tuple[str, ...]) -> list[dict] | None:
        """The GIS layer ``file`` (a GeoPackage's layer ``name`` if it holds several) as
        GeoJSON features in WGS 84 (:func:`optimizer.io.gis.read_layer`); None (with a
        problem) when it cannot be read, has no CRS it needs, or is beyond
        :data:`MAX_FILE_BYTES` (each of a Shapefile's files)."""
        try:
            return read_layer(self.folder / file, name, properties, MAX_FILE_BYTES)
        except FileTooLargeError as error:
            problem = Problem(error.path.name, None, None, _too_big(error.size_bytes))
        except LayerError as error:
            problem = Problem(file, None, None, str(error))
        except OSError as error:
            problem = Problem(file, None, None, f"cannot be read: {error.strerror or error}")
        self.problems.append(problem)
        return None
