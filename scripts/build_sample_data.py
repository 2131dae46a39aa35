"""Build the bundled Anhui sample (``sample_data/anhui/``) from the shared source set.

Usage::

    python scripts/build_sample_data.py [SOURCE_DIR] [--out sample_data/anhui]

SOURCE_DIR defaults to ``../shared/data/anhui`` (the layers described in its SOURCES.md).
What it does, step by step (everything is derived; nothing is typed in by hand):

1. Copies ``dem_coarse.tif``, ``cities.csv`` and ``counties_population.csv`` unchanged.
2. Copies every layer of ``anhui.gpkg`` (EPSG:4326) and adds statistics as columns:

   * ``counties.pop_2020``: 2020 census resident population of each county-level unit
     (``counties_population.csv``, joined on ``adcode_2023``). The 15 development-zone rows and
     the abolished Sanshan district belong to no current unit; their residents are added to
     the prefecture's *central district*, the county whose seat lies nearest the prefecture
     seat, so county totals add up to the prefecture totals of the census.
   * ``prefectures.pop_2020``, ``prefectures.gdp_2022`` (100 million CNY) and
     ``prefectures.gdp_growth_2022`` (real, %) from ``cities.csv`` (rows with indicator
     ``pop_census_2020_conflicting_source`` are ignored, as SOURCES.md instructs).
   * ``seats.pop_2020`` and ``seats.gdp_2022``: county-level seats carry their county's
     population; prefecture seats carry the prefecture's population and GDP. GDP of county
     seats is the prefecture GDP shared by population (a documented approximation: there is
     no county GDP in the sources).
3. Writes ``anhui.gpkg`` atomically.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

HERE = Path(__file__).resolve().parent
DEFAULT_SRC = HERE.parent.parent / "shared" / "data" / "anhui"
DEFAULT_OUT = HERE.parent / "sample_data" / "anhui"


def build(src: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in ("dem_coarse.tif", "cities.csv", "counties_population.csv"):
        shutil.copyfile(src / name, out / name)
    gpkg = src / "anhui.gpkg"
    layers = {str(row[0]): gpd.read_file(gpkg, layer=str(row[0])) for row in pyogrio.list_layers(gpkg)}

    cities = pd.read_csv(src / "cities.csv")
    cities = cities[cities["indicator"].isin(["pop_census_2020", "gdp", "gdp_real_growth"])]
    wide = cities.pivot_table(index="adcode", columns="indicator", values="value", aggfunc="first")
    pref = layers["prefectures"]
    pref["adcode"] = pref["adcode"].astype(int)
    pref["pop_2020"] = pref["adcode"].map(wide["pop_census_2020"]).astype("int64")
    pref["gdp_2022"] = pref["adcode"].map(wide["gdp"]).astype(float)
    pref["gdp_growth_2022"] = pref["adcode"].map(wide["gdp_real_growth"]).astype(float)

    seats = layers["seats"]
    seats["adcode"] = seats["adcode"].astype(int)
    counties = layers["counties"]
    counties["adcode"] = counties["adcode"].astype(int)
    counties["parent_adcode"] = counties["parent_adcode"].astype(int)
    cpop = pd.read_csv(src / "counties_population.csv")
    current = cpop.dropna(subset=["adcode_2023"]).copy()
    current["adcode_2023"] = current["adcode_2023"].astype(int)
    pop = current.groupby("adcode_2023")["pop_census_2020"].sum()
    counties["pop_2020"] = counties["adcode"].map(pop).astype("int64")

    # residents of development zones / abolished units: to the prefecture's central district
    metric = seats.to_crs(4548)
    extra = cpop[cpop["adcode_2023"].isna()]
    for pref_code, group in extra.groupby("prefecture_adcode"):
        pref_code = int(pref_code)
        pseat = metric[(metric["adcode"] == pref_code)]
        cseats = metric[metric["adcode"].isin(counties.loc[counties["parent_adcode"] == pref_code, "adcode"])]
        d = cseats.distance(pseat.geometry.iloc[0])
        central = int(cseats.loc[d.idxmin(), "adcode"])
        counties.loc[counties["adcode"] == central, "pop_2020"] += int(group["pop_census_2020"].sum())

    check = counties.groupby("parent_adcode")["pop_2020"].sum()
    diff = (check - pref.set_index("adcode")["pop_2020"]).abs().max()
    print(f"max |sum(county) - prefecture| population: {diff}", file=sys.stderr)

    county_pop = counties.set_index("adcode")["pop_2020"]
    county_parent = counties.set_index("adcode")["parent_adcode"]
    pref_pop = pref.set_index("adcode")["pop_2020"]
    pref_gdp = pref.set_index("adcode")["gdp_2022"]
    is_pref = seats["level"] == "prefecture"
    seats["pop_2020"] = np.where(is_pref, seats["adcode"].map(pref_pop), seats["adcode"].map(county_pop))
    seats["pop_2020"] = seats["pop_2020"].astype("int64")
    parent = seats["adcode"].map(county_parent)
    share = seats["pop_2020"] / parent.map(pref_pop)
    seats["gdp_2022"] = np.where(is_pref, seats["adcode"].map(pref_gdp), (share * parent.map(pref_gdp)).round(2))
    layers["prefectures"], layers["counties"], layers["seats"] = pref, counties, seats

    tmp = out / ".anhui.gpkg.tmp.gpkg"
    if tmp.exists():
        tmp.unlink()
    for name, gdf in layers.items():
        gdf.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio")
    tmp.replace(out / "anhui.gpkg")
    print(f"wrote {out / 'anhui.gpkg'} with layers {', '.join(layers)}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", nargs="?", type=Path, default=DEFAULT_SRC)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    build(args.source, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
