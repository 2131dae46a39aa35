"""``iptown crs``: China's offset coordinate systems (WGS84, GCJ-02, BD-09)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from iptown_gis.cli._common import IptownGroup, echo_json

_SYSTEMS = click.Choice(["wgs84", "gcj02", "bd09"], case_sensitive=False)


@click.group(name="crs", cls=IptownGroup)
def group() -> None:
    """Convert layers between WGS84, GCJ-02 (Amap, Tencent) and BD-09 (Baidu)."""


@group.command()
@click.option("--from", "src", required=True, type=_SYSTEMS, help="System of IN.")
@click.option("--to", "dst", required=True, type=_SYSTEMS, help="System to write.")
@click.option("--crs", "assume_crs", default=None, metavar="CRS",
              help="CRS to assume when IN has none (lon/lat, e.g. EPSG:4326).")
@click.option("--overwrite/--no-overwrite", default=True, show_default=True, help="Replace OUT if it exists.")
@click.argument("src_path", metavar="IN")
@click.argument("dst_path", metavar="OUT")
def convert(src: str, dst: str, assume_crs: str | None, overwrite: bool, src_path: str, dst_path: str) -> None:
    """Convert every coordinate of layer IN (FILE[:LAYER]) from --from to --to into OUT.

    Example: iptown crs convert --from gcj02 --to wgs84 pois_amap.geojson pois.gpkg:pois

    Points outside China are left unchanged (as Chinese web maps do). Round trips are exact
    to better than a millimetre.
    """
    from iptown_gis.crs import china
    from iptown_gis.errors import CRSError, OutputError
    from iptown_gis.io.atomic import check_output_path
    from iptown_gis.io.vector import check_overwrite, parse_layer_spec, read_vector, same_layer, write_vector

    src_spec, spec = parse_layer_spec(src_path), parse_layer_spec(dst_path)
    if spec.layer is None and Path(dst_path).suffix == "":
        raise OutputError(f"OUT {dst_path!r} needs a file suffix (.gpkg, .geojson, .shp, .fgb, .parquet)")
    if same_layer(src_spec, spec):
        raise OutputError(
            f"OUT {dst_path!r} is the same layer as IN {src_path!r}: converting in place would destroy the "
            "source; write to another file or another layer (FILE.gpkg:LAYER)"
        )
    check_output_path(spec.path, kind="vector", what="OUT")  # format and place, before reading anything
    check_overwrite(spec.path, layer=spec.layer, overwrite=overwrite)
    if assume_crs is None:
        try:
            gdf = read_vector(src_path, name=f"IN {src_path!r}", metric=False, allow_empty=True)
        except CRSError as exc:
            if "has no CRS" not in str(exc):
                raise
            raise CRSError(
                f"IN {src_path!r} has no CRS: give --crs to assume one (e.g. --crs EPSG:4326 for "
                "longitude/latitude)"
            ) from None
    else:
        gdf = _read_assume(src_path, assume_crs)
    out = china.convert_gdf(gdf, src=src, dst=dst, name=f"IN {src_path!r}")
    write_vector(out, spec.path, layer=spec.layer, overwrite=overwrite)
    echo_json({"features": len(out), "from": src, "to": dst, "out": str(spec)})


def _read_assume(src_path: str, assume_crs: str) -> Any:
    from iptown_gis.errors import DataNotFoundError
    from iptown_gis.io.vector import parse_layer_spec, read_frame

    spec = parse_layer_spec(src_path)
    if not spec.path.exists():
        raise DataNotFoundError(f"IN {str(spec.path)!r} does not exist: check the path")
    try:
        gdf = read_frame(spec, label=f"IN {src_path!r}")
    except DataNotFoundError:
        raise
    except Exception as exc:
        raise DataNotFoundError(f"cannot read IN {src_path!r}: {exc}") from exc
    if gdf.crs is None:
        gdf = gdf.set_crs(assume_crs)
    return gdf
