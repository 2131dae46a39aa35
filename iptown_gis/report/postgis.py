"""PostGIS as an output (and input) target.

:func:`publish` writes layers to one schema **in one transaction**: the schema is created, every
table written, and the transaction committed only when all succeeded; any failure (a bad layer,
a lost connection, cancellation) rolls everything back, so no partial tables are left. An
existing schema is refused unless ``overwrite`` (then it is dropped and re-created inside the
same transaction, so a failed overwrite leaves the old schema intact).

Vector layers become PostGIS geometry tables (with a spatial index, SRID of the layer's CRS);
tables (CSV) become plain tables. Rasters are not published (open the GeoTIFFs, or load them
with ``raster2pgsql``). :func:`read_layer` (from :mod:`iptown_gis.io.postgis`, re-exported) reads
a table back as a GeoDataFrame, so a published layer can be an input again.

Needs the ``postgis`` extra: ``pip install 'iptown_gis[postgis]'`` (SQLAlchemy, GeoAlchemy2,
psycopg 3).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from iptown_gis.errors import DataNotFoundError, OutputError, ParameterError
from iptown_gis.io.postgis import _sqlalchemy, check_identifier, engine_for, list_tables, read_layer, safe_url
from iptown_gis.progress import Progress, ProgressCallback, as_progress

# check_identifier, engine_for, list_tables, read_layer and safe_url live in iptown_gis.io.postgis
# (the reader, used by the scenario's PostGIS inputs) and are re-exported here.
__all__ = ["check_identifier", "engine_for", "list_tables", "publish", "publish_run", "read_layer", "safe_url"]

log = logging.getLogger(__name__)


def table_name(text: str) -> str:
    """A safe table name from a layer key (lower-case, ``[a-z0-9_]``, at most 63 characters)."""
    t = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "layer"
    if t[0].isdigit():
        t = f"t_{t}"
    return t[:63]


def _has_postgis(conn: Any, sa: Any) -> bool:
    return bool(conn.execute(sa.text("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'")).scalar())


def publish(
    layers: Mapping[str, Any],
    url: str,
    *,
    schema: str = "iptown",
    overwrite: bool = False,
    progress: ProgressCallback | Progress | None = None,
) -> dict[str, Any]:
    """Write layers to a PostGIS schema in one transaction (all or nothing).

    Parameters
    ----------
    layers
        ``table name -> GeoDataFrame`` (geometry table) or ``DataFrame`` (plain table).
    url
        ``postgresql://user:password@host:port/database``.
    schema
        Target schema (a plain identifier); created by this call.
    overwrite
        Replace the schema if it exists (dropped and re-created in the same transaction).
    progress
        Progress/cancellation callback; cancelling rolls everything back.

    Returns
    -------
    dict
        ``{"schema": ..., "tables": [...], "url": <password hidden>}``.

    Raises
    ------
    OutputError
        Database unreachable; schema exists and not ``overwrite``; PostGIS missing; a write failed
        (everything rolled back, no partial tables).
    ParameterError
        A schema or table name that is not a plain identifier; no layers.
    CancelledError
        Cancelled through ``progress`` (rolled back).
    """
    import geopandas as gpd

    sa = _sqlalchemy()
    prog = as_progress(progress)
    check_identifier(schema, what="schema")
    if not layers:
        raise ParameterError("nothing to publish: give at least one layer")
    for name in layers:
        check_identifier(name, what="table name")
    engine = engine_for(url)
    written: list[str] = []
    try:
        with engine.begin() as conn:  # one transaction: commit only if everything below succeeds
            exists = bool(conn.execute(sa.text("SELECT count(*) FROM information_schema.schemata "
                                               "WHERE schema_name = :s"), {"s": schema}).scalar())
            if exists and not overwrite:
                raise OutputError(
                    f"schema {schema!r} already exists in {safe_url(url)!r}: choose another schema or pass "
                    "--overwrite (overwrite=True) to replace it"
                )
            if any(isinstance(g, gpd.GeoDataFrame) for g in layers.values()) and not _has_postgis(conn, sa):
                raise OutputError(
                    f"the database {safe_url(url)!r} has no PostGIS extension: run CREATE EXTENSION postgis "
                    "(as a superuser) first"
                )
            if exists:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            n = len(layers)
            for i, (name, df) in enumerate(layers.items()):
                prog.update(i / n, f"PostGIS {schema}.{name}")
                if isinstance(df, gpd.GeoDataFrame):
                    if df.crs is None:
                        raise OutputError(f"layer {name!r} has no CRS: PostGIS needs an SRID")
                    epsg = df.crs.to_epsg()
                    out = df if epsg is not None else df.to_crs(4326)
                    out.to_postgis(name, conn, schema=schema, if_exists="fail", index=False)
                else:
                    df.to_sql(name, conn, schema=schema, if_exists="fail", index=False)
                written.append(name)
            prog.update(1.0, f"committing {len(written)} tables")
    except OutputError:
        raise
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise OutputError(
            f"writing to {safe_url(url)!r} schema {schema!r} failed ({reason}); the transaction was rolled "
            "back, no tables were left"
        ) from exc
    finally:
        engine.dispose()
    log.info("PostGIS: wrote %d tables to %s.%s", len(written), safe_url(url), schema)
    return {"schema": schema, "tables": written, "url": safe_url(url)}


def publish_run(
    info: Any,
    url: str,
    *,
    schema: str = "iptown",
    overwrite: bool = False,
    progress: ProgressCallback | Progress | None = None,
) -> dict[str, Any]:
    """Publish every vector layer and table of a run (see :func:`publish`).

    Parameters
    ----------
    info
        A :class:`~iptown_gis.report.catalogue.RunInfo` (``collect_run(run_dir)``).
    url, schema, overwrite, progress
        As in :func:`publish`: the database, the target schema (created by this call), replace
        an existing schema, progress/cancellation (cancelling rolls everything back).

    Raises
    ------
    DataNotFoundError
        The run has no vector layers or tables.
    """
    import geopandas as gpd
    import pandas as pd

    from iptown_gis.report.catalogue import catalogue

    layers: dict[str, Any] = {}
    for it in catalogue(info):
        if it.is_raster or it.role in ("figure", "summary"):
            continue
        name = table_name(it.key)
        if name in layers:
            name = table_name(f"{it.stage}_{it.key}")
        if it.path.suffix.lower() == ".csv":
            layers[name] = pd.read_csv(it.path)
        elif it.geom_type:
            layers[name] = gpd.read_file(it.path, layer=it.layer, engine="pyogrio")
        else:
            import pyogrio

            layers[name] = pyogrio.read_dataframe(it.path, layer=it.layer, read_geometry=False)
    if not layers:
        raise DataNotFoundError(f"run folder {str(info.out_dir)!r} has no vector layers or tables to publish")
    return publish(layers, url, schema=schema, overwrite=overwrite, progress=progress)
