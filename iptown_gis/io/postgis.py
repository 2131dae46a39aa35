"""Reading PostGIS: connections, identifiers and tables read back as (Geo)DataFrames.

:func:`read_layer` reads a table as a GeoDataFrame (a DataFrame when it has no geometry), so a
published layer (:mod:`iptown_gis.report.postgis`) can be an input again (``postgresql://``
inputs of a scenario). :func:`engine_for`, :func:`check_identifier` and :func:`safe_url` are
shared with the writer.

Needs the ``postgis`` extra: ``pip install 'iptown_gis[postgis]'`` (SQLAlchemy, GeoAlchemy2,
psycopg 3).
"""

from __future__ import annotations

import re
from typing import Any

from iptown_gis.errors import DataNotFoundError, DependencyError, OutputError, ParameterError

__all__ = ["check_identifier", "engine_for", "list_tables", "read_layer", "safe_url"]

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_identifier(name: str, *, what: str = "name") -> str:
    """Return ``name`` if it is a plain lower-case SQL identifier, else :class:`ParameterError`."""
    if not isinstance(name, str) or not _IDENT.match(name):
        raise ParameterError(
            f"{what} {name!r} is not a plain SQL identifier: use lower-case letters, digits and '_' "
            "(start with a letter or '_', at most 63 characters)"
        )
    return name


def _sqlalchemy() -> Any:
    try:
        import geoalchemy2  # noqa: F401  (registers the Geometry type used by to_postgis)
        import sqlalchemy
    except ImportError as exc:
        raise DependencyError(
            "PostGIS output needs SQLAlchemy, GeoAlchemy2 and psycopg: pip install 'iptown_gis[postgis]'"
        ) from exc
    return sqlalchemy


def safe_url(url: str) -> str:
    """The URL with its password hidden (for messages and logs)."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def engine_for(url: str, *, connect_timeout: int = 5) -> Any:
    """A SQLAlchemy engine for ``postgresql://...`` (psycopg 3 driver), checked to be reachable.

    Raises
    ------
    ParameterError
        Not a PostgreSQL URL.
    OutputError
        The database cannot be reached or refuses the login (the message hides the password).
    """
    sa = _sqlalchemy()
    if not url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        raise ParameterError(f"{safe_url(url)!r} is not a PostgreSQL URL: use postgresql://user:pw@host:5432/db")
    u = re.sub(r"^postgres(ql)?(\+psycopg)?://", "postgresql+psycopg://", url)
    engine = sa.create_engine(u, connect_args={"connect_timeout": connect_timeout}, pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        raise OutputError(
            f"cannot reach the database {safe_url(url)!r}: {reason}; check host, port, user and password, "
            "and that the server is running"
        ) from None
    return engine


def list_tables(url: str, *, schema: str) -> list[str]:
    """Tables in ``schema`` (empty if the schema does not exist)."""
    sa = _sqlalchemy()
    check_identifier(schema, what="schema")
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s "
                                        "ORDER BY table_name"), {"s": schema}).fetchall()
        return [str(r[0]) for r in rows]
    finally:
        engine.dispose()


def read_layer(url: str, table: str, *, schema: str = "public", geometry: str | None = None) -> Any:
    """Read a PostGIS table back as a GeoDataFrame (or a DataFrame when it has no geometry).

    Parameters
    ----------
    url
        ``postgresql://user:password@host:port/database``.
    table
        The table to read.
    schema
        Its schema.
    geometry
        The geometry column (default: the table's only one; a table without one reads as a
        DataFrame).

    Raises
    ------
    OutputError
        The database cannot be reached.
    DataNotFoundError
        No such table; the message lists the schema's tables.
    """
    import geopandas as gpd
    import pandas as pd

    sa = _sqlalchemy()
    check_identifier(schema, what="schema")
    check_identifier(table, what="table name")
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            cols = conn.execute(sa.text(
                "SELECT column_name, udt_name FROM information_schema.columns WHERE table_schema = :s "
                "AND table_name = :t ORDER BY ordinal_position"), {"s": schema, "t": table}).fetchall()
            if not cols:
                have = conn.execute(sa.text("SELECT table_name FROM information_schema.tables "
                                            "WHERE table_schema = :s ORDER BY 1"), {"s": schema}).fetchall()
                raise DataNotFoundError(
                    f"no table {schema}.{table} in {safe_url(url)!r}; tables in {schema!r}: "
                    f"{', '.join(str(r[0]) for r in have) or 'none'}"
                )
            geom_cols = [str(c[0]) for c in cols if str(c[1]) == "geometry"]
            gcol = geometry or (geom_cols[0] if geom_cols else None)
            sql = f'SELECT * FROM "{schema}"."{table}"'
            if gcol is None:
                return pd.read_sql(sa.text(sql), conn)
            return gpd.read_postgis(sa.text(sql), conn, geom_col=gcol)
    finally:
        engine.dispose()
