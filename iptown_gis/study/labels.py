"""The words a planner reads: layer names, column headings with units, key-figure names.

One catalogue for every front of a study: the report's maps and HTML tables
(:mod:`iptown_gis.report`), the QGIS project's layer names and legends, and the layer names
:func:`iptown_gis.study.layers.output_layers` gives the QGIS plugin. Stages name their outputs
by file (``surfaces/kde.tif``, ``sites/ranked.gpkg``); this module turns a file, a GeoPackage
layer, a column or a summary key into a title a planner understands, with its unit:

>>> layer_title("surfaces", "kde", None)
'Density of the weighted points (kernel estimate)'
>>> column_label("pop_2020")
'Population 2020 (persons)'
>>> column_label("market_potential_mean")
'Market potential, mean over the zone (persons per m of travel)'

Identifiers (``adcode``, ``site_id``) are codes, never numbers: :func:`format_id` writes
``340104``, not ``340,104.0``. Unknown names fall back to a readable form of the name itself
(underscores to spaces, first letter capitalised), so nothing is ever dropped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

__all__ = ["ID_COLUMNS", "NAME_COLUMNS", "Label", "column_label", "column_unit", "fact_label", "format_id",
           "humanise", "is_id_column", "layer_title", "place_name", "scenario_title", "surface_unit"]


@dataclass(frozen=True)
class Label:
    """A title and its unit (empty when the quantity has none)."""

    title: str
    unit: str = ""

    def __str__(self) -> str:
        return f"{self.title} ({self.unit})" if self.unit else self.title


#: Columns that hold codes: written as text, never summed, never a choropleth.
ID_COLUMNS = frozenset({"adcode", "parent_adcode", "site_id", "region_id", "county_adcode", "prefecture_adcode",
                        "geonameid", "node_id", "u_id", "v_id", "origin_id", "destination_id", "town_id",
                        "seat_of", "id", "fid"})
#: Columns that hold place names, preferred first (Chinese name, then pinyin/English).
NAME_COLUMNS = ("name", "unit_name", "site_name", "name_zh", "name_en", "name_pinyin", "pinyin", "label")

#: Units of the surfaces by the cost they were computed on (raster tag ``iptown_cost``).
_COST_UNIT = {"length": "m", "time": "minute"}

#: Layers (``stage/stem`` or ``stage/stem:layer``) -> title.
LAYERS: dict[str, str] = {
    "network/network:nodes": "Road network: junctions",
    "network/network:edges": "Road network: roads",
    "surfaces/market_potential": "Market potential: population reachable over the road network",
    "surfaces/neg_market_access": "NEG market access: income reachable, net of trade costs",
    "surfaces/potential_all_cells": "Market potential, straight-line distance (every cell)",
    "surfaces/kde": "Density of the weighted points (kernel estimate)",
    "surfaces/zonal:counties": "Surfaces summarised by county",
    "surfaces/zonal:prefectures": "Surfaces summarised by prefecture",
    "surfaces/zonal_counties": "Surfaces summarised by county",
    "surfaces/zonal_prefectures": "Surfaces summarised by prefecture",
    "surfaces/hotspots": "Hot and cold spots (Getis-Ord Gi*)",
    "surfaces/hotspots:hotspots": "Hot and cold spots (Getis-Ord Gi*, by zone)",
    "sites/ranked": "Candidate towns, ranked by suitability",
    "sites/ranked:ranked": "Candidate towns, ranked by suitability",
    "sites/selected": "Chosen towns",
    "sites/selected:selected": "Chosen towns",
    "sites/anchors": "Anchors: science centre, universities, IP court, rail stations",
    "sites/map": "Candidate and chosen towns (map)",
    "zoning/layout:districts": "Town layout: districts (one body, two wings)",
    "zoning/layout:modules": "Town layout: the seven modules of the body",
    "zoning/layout:cells": "Town layout: planning grid cells",
    "zoning/layout": "Town layout (map)",
    "zoning/summary": "Town layout: figures",
    "neg/scenarios": "NEG policy scenarios: results by prefecture",
    "neg/bifurcation": "NEG: long-run shares as trade costs fall (bifurcation diagram)",
    "network/od_seats": "Travel times between county seats",
}

#: Column names (exact) -> label.
COLUMNS: dict[str, Label] = {
    "adcode": Label("Code (adcode)"),
    "parent_adcode": Label("Parent code (adcode)"),
    "site_id": Label("Site code"),
    "region_id": Label("Region code"),
    "town_no": Label("Town no."),
    "town_id": Label("Town code"),
    "town_name": Label("Town"),
    "choice": Label("Town no."),
    "name": Label("Name"),
    "unit_name": Label("Name"),
    "name_en": Label("Name (English)"),
    "name_pinyin": Label("Name (pinyin)"),
    "pinyin": Label("Name (pinyin)"),
    "province": Label("Province"),
    "city": Label("Prefecture"),
    "district": Label("District"),
    "module": Label("Module"),
    "level": Label("Level"),
    "seat_of": Label("Seat of (code)"),
    "area_km2": Label("Area", "km²"),
    "pop_2020": Label("Population 2020", "persons"),
    "population": Label("Population", "persons"),
    "gdp_2022": Label("GDP 2022", "CNY 100 million"),
    "gdp": Label("GDP", "CNY 100 million"),
    "gdp_growth_2022": Label("GDP growth 2022", "%"),
    "market_potential": Label("Market potential", "persons per m of travel"),
    "neg_market_access": Label("NEG market access", "model units"),
    "potential_all_cells": Label("Market potential, straight-line", "persons per m"),
    "kde": Label("Kernel density", "weight within the kernel radius"),
    "gi": Label("Getis-Ord Gi*"),
    "gi_z": Label("Gi* z-score", "standard deviations"),
    "gi_z_sim": Label("Gi* z-score, permutation", "standard deviations"),
    "p": Label("p-value"),
    "p_norm": Label("p-value, normal approximation"),
    "q": Label("q-value (false discovery rate)"),
    "gi_bin": Label("Hot/cold spot class", "-3 = cold 99% ... +3 = hot 99%"),
    "significance": Label("Significance"),
    "hot_spot": Label("Hot spot"),
    "cold_spot": Label("Cold spot"),
    "time_to_knowledge": Label("Travel time to the nearest university or science centre", "minutes"),
    "time_to_ip_court": Label("Travel time to the IP court", "minutes"),
    "time_to_rail": Label("Travel time to the nearest rail station", "minutes"),
    "neg_share": Label("NEG long-run share of manufacturing", "% of province"),
    "neg_change_hsr": Label("NEG change in share with the rail links", "percentage points"),
    "score": Label("Suitability score", "0 = worst, 1 = best"),
    "rank": Label("Rank", "1 = best"),
    "p_top_k": Label("Probability of being among the chosen k", "0-1"),
    "rank_p05": Label("Rank, optimistic (5th percentile)"),
    "rank_median": Label("Rank, median"),
    "rank_p95": Label("Rank, pessimistic (95th percentile)"),
    "demand_served": Label("Population served", "persons"),
    "demand_covered": Label("Population within the standard", "persons"),
    "share": Label("Long-run share of manufacturing workers", "% of province"),
    "observed_share": Label("Observed share of manufacturing workers", "% of province"),
    "d_share": Label("Change in share of manufacturing workers", "percentage points"),
    "wage": Label("Nominal wage", "model units"),
    "price_index": Label("Price index of manufactures", "model units"),
    "income": Label("Income", "model units"),
    "real_wage": Label("Real wage", "model units"),
    "utility": Label("Utility", "model units"),
    "d_real_wage_pct": Label("Change in real wage", "%"),
    "stable": Label("Stable equilibrium"),
    "tau": Label("Trade cost per minute (tau)"),
    "scenario": Label("Scenario"),
    "n_cells": Label("Cells"),
    "mean_suitability": Label("Mean suitability", "0-1"),
    "suitability": Label("Suitability", "0-1"),
    "module_suitability": Label("Module suitability", "0-1"),
    "length_m": Label("Length", "m"),
    "time_min": Label("Travel time", "minutes"),
    "cost": Label("Travel cost"),
    "mode": Label("Mode"),
    "kind": Label("Kind"),
    "lon": Label("Longitude", "°E"),
    "lat": Label("Latitude", "°N"),
    "dist_site_m": Label("Distance to the site", "m"),
}
#: Zonal statistic suffixes -> words.
_STATS = {"mean": "mean over the zone", "max": "maximum in the zone", "min": "minimum in the zone",
          "sum": "sum over the zone", "count": "cells in the zone", "median": "median over the zone",
          "std": "standard deviation in the zone"}
#: Columns whose values are fractions shown as percent (x 100) / percentage points.
PERCENT_COLUMNS = frozenset({"share", "observed_share", "neg_share"})
POINTS_COLUMNS = frozenset({"d_share", "neg_change_hsr"})

#: Summary keys (the last part of a dotted key) -> label.
FACTS: dict[str, Label] = {
    "dual_bound": Label("Best bound on the optimum"),
    "objective": Label("Objective value"),
    "gap": Label("Optimality gap", "0 = proven optimal"),
    "status": Label("Solver status"),
    "runtime_s": Label("Solver time", "s"),
    "time_s": Label("Time", "s"),
    "nodes": Label("Branch-and-bound nodes"),
    "variables": Label("Variables"),
    "rows": Label("Constraints"),
    "selected_ids": Label("Chosen towns (codes)"),
    "mean_cost": Label("Mean travel cost to the nearest chosen town"),
    "max_cost": Label("Longest travel cost to the nearest chosen town"),
    "standard": Label("Coverage standard"),
    "covered_share": Label("Share of population within the standard", "0-1"),
    "perimeter_cell_sides": Label("Perimeter of the districts", "cell sides"),
    "affinity_contact_cell_sides": Label("Contact between related districts", "cell sides"),
    "compactness_weight": Label("Weight of compactness"),
    "affinity_weight": Label("Weight of adjacency"),
    "suitability": Label("Total suitability of the cells used"),
    "bound": Label("Upper bound of the objective"),
    "n_candidates": Label("Candidate towns"),
    "n_cells": Label("Planning cells"),
    "n_excluded": Label("Cells excluded (water, steep, masked)"),
    "method": Label("Method"),
    "model": Label("Model"),
    "k": Label("Towns to choose"),
    "seed": Label("Random seed"),
    "measure": Label("Size measure"),
    "axis_bearing": Label("Axis bearing", "degrees from north"),
    "break_T": Label("Break point (trade cost T)"),
    "sustain_T": Label("Sustain point (trade cost T)"),
}
#: Stage names -> words.
STAGES: dict[str, str] = {"network": "Road network", "neg": "New Economic Geography", "surfaces": "Surfaces",
                          "sites": "Site selection", "zoning": "Town layout", "report": "Report",
                          "selection": "Choice of towns", "ranking": "Ranking", "districts": "Districts",
                          "modules": "Modules", "terms": "Objective terms"}


def humanise(name: str) -> str:
    """``market_potential_mean`` -> ``Market potential mean`` (the fallback for unknown names)."""
    words = re.sub(r"[_\-]+", " ", str(name)).strip()
    return words[:1].upper() + words[1:] if words else str(name)


def scenario_title(name: str) -> str:
    """A NEG scenario's name in words: ``hsr_links`` -> ``HSR links``."""
    words = humanise(name)
    return re.sub(r"\b(Hsr|hsr)\b", "HSR", re.sub(r"\b(Ip|ip)\b", "IP", words))


def layer_title(stage: str, path: str | PurePath, layer: str | None) -> str | None:
    """The planner's title of an output layer, or ``None`` when the catalogue does not know it.

    Parameters
    ----------
    stage
        The stage that wrote it (``surfaces``); may be empty.
    path
        The file (only its stem is used).
    layer
        The GeoPackage layer, if any.
    """
    stem = PurePath(path).stem
    keys = [f"{stage}/{stem}:{layer}", f"{stage}/{stem}"] if layer else [f"{stage}/{stem}"]
    for k in keys:
        if k in LAYERS:
            return LAYERS[k]
    if layer and layer.startswith("neg_") and stem.startswith("neg_scenarios"):
        scen = layer[4:]
        what = "equilibrium shares" if scen == "baseline" else "change against the baseline"
        return f"NEG scenario {scenario_title(scen)}: {what} by prefecture"
    m = re.fullmatch(r"scenario_(\w+)", stem)
    if stage == "neg" and m:
        return f"NEG scenario {scenario_title(m.group(1))}: results by prefecture"
    m = re.fullmatch(r"layout_town(\d+)", stem)
    if m:
        return f"Town {int(m.group(1))} layout"
    return None


def surface_unit(name: str, tags: Mapping[str, Any] | None = None) -> str:
    """The unit of a surface raster from its ``iptown_*`` tags (the cost it was computed on)."""
    t = dict(tags or {})
    base = name.rsplit("_", 1)[0] if name.endswith(tuple(f"_{s}" for s in _STATS)) else name
    if base in ("market_potential", "potential_all_cells"):
        decay = str(t.get("iptown_decay", "power:1"))
        cost = _COST_UNIT.get(str(t.get("iptown_cost", "length")), "m")
        if decay.startswith("power:1") and decay in ("power:1", "power:1.0"):
            return f"persons per {cost} of travel"
        if decay.startswith("power:"):
            return f"persons per {cost}^{decay.split(':', 1)[1]}"
        return "persons reached (distance-weighted)"
    if base == "kde":
        out = str(t.get("iptown_output", "raw"))
        radius = t.get("iptown_radius_m")
        where = f" within {float(radius) / 1000:g} km, nearer counts more" if radius else ""
        weight = str(t.get("iptown_weight_field", "population"))
        what = "persons" if "pop" in weight.lower() else humanise(weight).lower()
        return f"{what} per m²" if out in ("density", "scaled") else f"{what}{where}"
    if base == "neg_market_access":
        return "model units (sum of income x price index^(sigma-1), discounted by trade cost)"
    return COLUMNS[base].unit if base in COLUMNS else ""


def column_label(col: str, *, tags: Mapping[str, Any] | None = None) -> str:
    """A column heading with its unit: ``pop_2020`` -> ``Population 2020 (persons)``."""
    c = str(col)
    if c in COLUMNS:
        lab = COLUMNS[c]
        if c in ("market_potential", "kde", "potential_all_cells", "neg_market_access") and tags:
            return str(Label(lab.title, surface_unit(c, tags)))
        return str(lab)
    for stat, words in _STATS.items():
        if c.endswith(f"_{stat}") and c[: -len(stat) - 1] in COLUMNS:
            base = COLUMNS[c[: -len(stat) - 1]]
            unit = "" if stat == "count" else (surface_unit(c[: -len(stat) - 1], tags) or base.unit)
            return str(Label(f"{base.title}, {words}", unit))
    if c.startswith("norm_") and c[5:] in COLUMNS:
        return str(Label(f"{COLUMNS[c[5:]].title}, normalised", "0 = worst, 1 = best"))
    if c.startswith("f_"):
        return str(Label(f"Factor: {humanise(c[2:]).lower()}", "0-1"))
    if c.startswith(("suit_", "score_")):
        return str(Label(f"Suitability for {humanise(c.split('_', 1)[1]).lower()}", "0-1"))
    return humanise(c)


def column_unit(col: str) -> str:
    """The unit of a column (empty when unknown or none)."""
    return COLUMNS[col].unit if col in COLUMNS else ""


def fact_label(key: str) -> str:
    """A dotted summary key in words: ``selection.dual_bound`` -> ``Choice of towns: best bound ...``."""
    parts = str(key).split(".")
    last = parts[-1]
    lab = str(FACTS[last]) if last in FACTS else (column_label(last) if last in COLUMNS else humanise(last))
    head = [STAGES.get(p, humanise(p)) for p in parts[:-1] if p not in ("summary",)]
    if not head:
        return lab
    words = ", ".join([head[0], *[h[:1].lower() + h[1:] for h in head[1:]]])
    first = lab.split(" ", 1)[0]
    return f"{words}: {lab if first.isupper() else lab[:1].lower() + lab[1:]}"


def is_id_column(col: str) -> bool:
    """True for code columns (``adcode``, ``site_id``, ``*_adcode``, ``*_id``)."""
    c = str(col).lower()
    return c in ID_COLUMNS or c.endswith(("_adcode", "_id"))


def format_id(v: Any) -> str:
    """A code as text: ``340104.0`` -> ``340104`` (never thousands separators)."""
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        if v.is_integer():
            return str(int(v))
    try:
        import numpy as np

        if isinstance(v, np.floating) and float(v).is_integer():
            return str(int(v))
        if isinstance(v, np.integer):
            return str(int(v))
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    return str(v)


def place_name(row: Mapping[str, Any], *, id_col: str | None = None) -> str:
    """``瑶海区 (Yaohai, 340102)``: the Chinese name, the pinyin/English name when given, the code.

    Parameters
    ----------
    row
        A record (dict or pandas row) with some of :data:`NAME_COLUMNS` and a code column.
    id_col
        The code column (default: the first of ``site_id``, ``adcode``, ``region_id`` present).
    """
    keys = list(row.keys()) if hasattr(row, "keys") else []
    names: list[str] = []
    for c in NAME_COLUMNS:
        if c in keys:
            v = row[c]
            if v is not None and str(v).strip() and str(v) != "nan" and str(v) not in names:
                names.append(str(v))
    code_col = id_col or next((c for c in ("site_id", "adcode", "region_id", "town_id") if c in keys), None)
    code = format_id(row[code_col]) if code_col else ""
    if not names:
        return code
    extra = [*names[1:2], code] if code else names[1:2]
    return f"{names[0]} ({', '.join(extra)})" if extra else names[0]
