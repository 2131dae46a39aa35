"""Reading and writing GeoTIFF rasters (atomic, tiled, with overviews and tags)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import Resampling

from iptown_gis.errors import CRSError, DataNotFoundError, OutputError
from iptown_gis.io.atomic import atomic_path, check_output_path

__all__ = ["Raster", "read_raster", "write_geotiff"]

log = logging.getLogger(__name__)


@dataclass
class Raster:
    """A single-band raster in memory: values (masked outside data), transform, CRS, tags."""

    data: np.ma.MaskedArray
    transform: Affine
    crs: Any
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.data.shape[0]), int(self.data.shape[1]))

    @property
    def cell_size(self) -> float:
        return float(abs(self.transform.a))


def read_raster(path: str | os.PathLike[str], *, band: int = 1) -> Raster:
    """Read one band of a raster as a masked array (nodata masked).

    Raises
    ------
    DataNotFoundError
        If the file is missing or not a raster.
    CRSError
        If the raster has no CRS.
    """
    p = Path(path)
    if not p.exists():
        raise DataNotFoundError(f"raster {str(p)!r} does not exist: check the path")
    try:
        with rasterio.open(p) as src:
            if src.crs is None:
                raise CRSError(f"raster {str(p)!r} has no CRS: assign one (gdal_edit.py -a_srs EPSG:...)")
            data = src.read(band, masked=True)
            return Raster(data=data, transform=src.transform, crs=src.crs, tags=dict(src.tags()))
    except rasterio.errors.RasterioIOError as exc:
        raise DataNotFoundError(f"cannot read raster {str(p)!r}: {exc}") from exc


def _has_driver(name: str) -> bool:
    with rasterio.Env() as env:
        return name in env.drivers()


def write_geotiff(
    path: str | os.PathLike[str],
    data: np.ndarray,
    *,
    transform: Affine,
    crs: Any,
    nodata: float = -9999.0,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    cog: bool = True,
    overwrite: bool = True,
) -> Path:
    """Write a 2-D array as a single-band GeoTIFF, atomically.

    Masked or NaN cells become ``nodata``. The file is tiled, DEFLATE-compressed, with
    overviews; as a Cloud-Optimized GeoTIFF when GDAL's COG driver is available. ``tags``
    (parameters of the computation) are stored as GDAL metadata.

    Parameters
    ----------
    path
        The ``.tif`` file to write.
    data
        The band: a 2-D array (masked array or NaN for no data).
    transform, crs
        The grid's affine transform and CRS (required).
    nodata
        The no-data value written for masked/NaN cells.
    tags
        Metadata ``key -> value`` (the parameters of the computation).
    description
        The band description.
    cog
        Write a Cloud-Optimized GeoTIFF when GDAL's COG driver exists.
    overwrite
        Replace an existing file (else an :class:`OutputError`).
    """
    check_output_path(path, kind="raster", overwrite=overwrite, what="GeoTIFF")
    if crs is None:
        raise CRSError("cannot write a GeoTIFF without a CRS")
    arr = np.ma.asarray(data)
    if arr.ndim != 2:
        raise OutputError(f"write_geotiff expects a 2-D array, got shape {arr.shape}")
    out = np.ma.filled(arr.astype("float64"), np.nan)
    out = np.where(np.isfinite(out), out, nodata).astype("float32")
    h, w = out.shape
    str_tags = {str(k): str(v) for k, v in (tags or {}).items()}
    use_cog = cog and _has_driver("COG")
    target = Path(path)
    with atomic_path(target, overwrite=overwrite) as tmp:
        profile = {
            "driver": "GTiff",
            "height": h,
            "width": w,
            "count": 1,
            "dtype": "float32",
            "crs": crs,
            "transform": transform,
            "nodata": nodata,
            "compress": "deflate",
            "predictor": 3,
        }
        if min(h, w) >= 256:
            profile.update(tiled=True, blockxsize=256, blockysize=256)
        stage = tmp if not use_cog else tmp.with_name(tmp.stem + ".stage.tif")
        try:
            with rasterio.open(stage, "w", **profile) as dst:
                dst.write(out, 1)
                dst.update_tags(**str_tags)
                if description:
                    dst.set_band_description(1, description)
                if not use_cog:
                    factors = [f for f in (2, 4, 8, 16, 32) if min(h, w) // f >= 8]
                    if factors:
                        dst.build_overviews(factors, Resampling.average)
                        dst.update_tags(ns="rio_overview", resampling="average")
            if use_cog:
                from rasterio.shutil import copy as rio_copy

                rio_copy(stage, tmp, driver="COG", compress="DEFLATE", predictor="3",
                         overview_resampling="average", blocksize=256)
                stage.unlink()
        except rasterio.errors.RasterioError as exc:
            if stage != tmp and stage.exists():
                stage.unlink()
            raise OutputError(f"cannot write GeoTIFF {str(target)!r}: {exc}") from exc
    log.info("wrote %s (%d x %d)", target, w, h)
    return target
