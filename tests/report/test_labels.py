"""The label catalogue: planner's words with units for layers, columns and key figures; codes as text."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from iptown_gis.study.labels import (
    column_label,
    fact_label,
    format_id,
    is_id_column,
    layer_title,
    place_name,
    surface_unit,
)

#: Every map layer the bundled study writes (stage, file, GeoPackage layer).
STUDY_LAYERS = [
    ("network", "network/network.gpkg", "nodes"), ("network", "network/network.gpkg", "edges"),
    ("surfaces", "surfaces/market_potential.tif", None), ("surfaces", "surfaces/neg_market_access.tif", None),
    ("surfaces", "surfaces/potential_all_cells.tif", None), ("surfaces", "surfaces/kde.tif", None),
    ("surfaces", "surfaces/zonal.gpkg", "counties"), ("surfaces", "surfaces/zonal.gpkg", "prefectures"),
    ("surfaces", "surfaces/hotspots.gpkg", "hotspots"), ("sites", "sites/ranked.gpkg", "ranked"),
    ("sites", "sites/selected.gpkg", "selected"), ("sites", "sites/anchors.geojson", None),
    ("zoning", "zoning/layout.gpkg", "districts"), ("zoning", "zoning/layout.gpkg", "modules"),
    ("zoning", "zoning/layout.gpkg", "cells"), ("neg", "neg/neg_scenarios.gpkg", "neg_baseline"),
    ("neg", "neg/neg_scenarios.gpkg", "neg_hsr_links"),
]


def test_every_study_layer_has_a_distinct_planner_title() -> None:
    titles = [layer_title(stage, path, layer) for stage, path, layer in STUDY_LAYERS]
    assert None not in titles
    assert len(set(titles)) == len(titles)  # no two layers called "Network nodes and edges"
    for t in titles:
        assert "_" not in t, t
        assert "gpkg" not in t.lower(), t
    assert layer_title("neg", "neg/neg_scenarios.gpkg", "neg_hsr_links") == \
        "NEG scenario HSR links: change against the baseline by prefecture"
    assert layer_title("x", "x/unknown.gpkg", "y") is None


def test_columns_carry_units() -> None:
    assert column_label("pop_2020") == "Population 2020 (persons)"
    assert column_label("gdp_2022") == "GDP 2022 (CNY 100 million)"
    assert column_label("time_to_rail").endswith("(minutes)")
    assert column_label("d_share") == "Change in share of manufacturing workers (percentage points)"
    assert column_label("market_potential_mean") == \
        "Market potential, mean over the zone (persons per m of travel)"
    tags = {"iptown_radius_m": "30000", "iptown_weight_field": "population"}
    assert column_label("kde_max", tags=tags).endswith("(persons within 30 km, nearer counts more)")
    assert surface_unit("kde", {"iptown_weight_field": "seat_count"}) == "seat count"
    assert column_label("norm_gdp") == "GDP, normalised (0 = worst, 1 = best)"
    assert column_label("some_new_column") == "Some new column"
    assert surface_unit("market_potential", {"iptown_cost": "time", "iptown_decay": "power:1"}) == \
        "persons per minute of travel"
    assert surface_unit("kde", {"iptown_output": "density"}) == "persons per m²"


def test_key_figures_in_words() -> None:
    assert fact_label("selection.dual_bound") == "Choice of towns: best bound on the optimum"
    assert fact_label("districts.terms.perimeter_cell_sides") == \
        "Districts, objective terms: perimeter of the districts (cell sides)"
    assert fact_label("summary.dual_bound") == "Best bound on the optimum"


def test_codes_are_text_and_names_stand_beside_them() -> None:
    assert format_id(340100.0) == "340100"
    assert format_id(np.float64(340104.0)) == "340104"
    assert format_id(np.int64(340104)) == "340104"
    assert format_id(float("nan")) == ""
    assert format_id("A12") == "A12"
    assert is_id_column("adcode")
    assert is_id_column("county_adcode")
    assert is_id_column("site_id")
    assert not is_id_column("pop_2020")
    row = {"unit_name": "瑶海区", "name_en": "Yaohai", "site_id": 340102.0, "score": 0.8}
    assert place_name(row) == "瑶海区 (Yaohai, 340102)"
    assert place_name({"site_id": 340102}) == "340102"
    assert place_name({"name": "合肥市", "adcode": 340100}) == "合肥市 (340100)"


@given(st.integers(min_value=0, max_value=10**12))
def test_format_id_never_looks_like_a_quantity(code: int) -> None:
    for v in (code, float(code), np.float64(code), np.int64(code)):
        text = format_id(v)
        assert text == str(code)
        assert "," not in text
        assert "." not in text
