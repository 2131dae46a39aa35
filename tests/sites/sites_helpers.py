"""Small scenarios over the bundled Anhui sample for the sites stage and CLI."""

from __future__ import annotations

from pathlib import Path

SITES = """
[sites]
candidates = "county_seats"
id_field = "adcode"
name_field = "unit_name"
prefecture_field = "parent_adcode"
k = 3
model = "{model}"
shortlist = 12
cost = "time"
standard = 90.0
demand = "places"
demand_weight = "population"
max_snap_distance = 30000.0
constraints = {{ min_spacing = 45.0, max_per_prefecture = 1 }}
robustness = {{ draws = 200, concentration = 50.0 }}
map = {map}
{extra}

[[sites.criteria]]
name = "time_to_innovation_hub"
source = "access"
anchors = ["science_centre", "university", "ip_demonstration_city", "innovation_zone"]
aggregate = "min"
direction = "cost"
weight = 0.4

[[sites.criteria]]
name = "gdp_per_capita"
source = "column"
column = "gdp_2022"
per = "pop_2020"
transform = "log1p"
weight = 0.2

[[sites.criteria]]
name = "population"
source = "column"
column = "pop_2020"
transform = "log1p"
weight = 0.2

[[sites.criteria]]
name = "market_potential"
source = "market_potential"
weight = 0.2

[[sites.anchors]]
name = "science_island"
kind = "science_centre"
lon = 117.163
lat = 31.906

[[sites.anchors]]
name = "ustc"
kind = "university"
lon = 117.264
lat = 31.839

[[sites.anchors]]
name = "wuhu"
kind = "ip_demonstration_city"
lon = 118.42755
lat = 31.354704

[[sites.anchors]]
name = "bengbu"
kind = "innovation_zone"
lon = 117.382671
lat = 32.918339
"""


def write_scenario(tmp: Path, gpkg: Path, *, model: str = "pmedian", map_: bool = False, extra: str = "",
                   inputs_extra: str = "") -> Path:
    text = f"""
[study]
name = "sites test"
crs = "EPSG:4548"
seed = 7

[inputs]
boundary = "{gpkg}:province"
roads = "{gpkg}:roads"
county_seats = {{ path = "{gpkg}", layer = "seats", where = "level == 'county'", id_field = "adcode" }}
places = {{ path = "{gpkg}", layer = "places", id_field = "geonameid" }}
{inputs_extra}
""" + SITES.format(model=model, map="true" if map_ else "false", extra=extra)
    p = tmp / "scenario.toml"
    p.write_text(text, encoding="utf-8")
    return p

