"""The parameters of one engine job, read with the checks and messages a user needs.

A job's ``parameters`` map Processing-style keys (``ROADS``, ``ID_FIELD``, ``OUTPUT``) to plain
JSON values:

- vector inputs: ``"FILE[:LAYER]"`` or ``{"path": FILE, "layer": LAYER, "label": "Road lines 'roads'",
  "crs": "EPSG:4326"}`` (the label names the layer in error messages; ``crs`` is the CRS the
  user's GIS declares for the layer, used when the file has none);
- raster inputs: ``"FILE.tif"`` or ``{"path": FILE, "name": "market_potential"}``; a list of
  them for multiple rasters;
- numbers, booleans, strings; choices as their option text (``"time"``), never an index;
  multiple fields as a list of names;
- outputs: the file path the engine writes (``.gpkg`` for vectors and tables, ``.tif`` for
  rasters, a folder for studies).

Absent keys, ``None`` and ``""`` all mean "not given".
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from iptown_gis.errors import ParameterError
from iptown_gis.progress import Progress

__all__ = ["Params"]

log = logging.getLogger(__name__)

#: The key of the optional metric CRS every algorithm with layers accepts.
METRIC_CRS = "METRIC_CRS"


def _given(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip()) and value != []


class Params:
    """Typed access to a job's parameters.

    Parameters
    ----------
    values
        The job's ``parameters`` object.
    algorithm
        The algorithm id (for messages).
    defaults
        Values used when a key is not given (the algorithm's published defaults).
    progress
        The job's progress reporter.
    """

    def __init__(self, values: Mapping[str, Any], *, algorithm: str, defaults: Mapping[str, Any] | None = None,
                 progress: Progress | None = None) -> None:
        self.values = dict(values)
        self.algorithm = algorithm
        self.defaults = dict(defaults or {})
        self.progress = progress if progress is not None else Progress()

    # ------------------------------------------------------------------------ plain values
    def raw(self, key: str) -> Any:
        """The value as given (``None`` when not given), else the default."""
        v = self.values.get(key)
        return v if _given(v) else self.defaults.get(key)

    def has(self, key: str) -> bool:
        """True when ``key`` was given (or has a default)."""
        return _given(self.raw(key))

    def _fail(self, key: str, what: str) -> ParameterError:
        return ParameterError(f"{self.algorithm}: parameter {key}: {what}")

    def text(self, key: str, default: str | None = None) -> str | None:
        v = self.raw(key)
        if not _given(v):
            return default
        if isinstance(v, (dict, list)):
            raise self._fail(key, f"expected text, got {type(v).__name__}")
        return str(v).strip()

    def number(self, key: str, default: float | None = None, *, minimum: float | None = None,
               maximum: float | None = None) -> float | None:
        """Parameter ``key`` as a float.

        Parameters
        ----------
        key
            The parameter key, e.g. ``"SNAP_TOLERANCE"``.
        default
            Returned when the key is not given and has no published default.
        minimum, maximum
            Inclusive bounds (``None``: unbounded); a value outside them is an error.

        Returns
        -------
        float or None
            The value, else ``default`` (``None`` when that is not given either).

        Raises
        ------
        ParameterError
            The value is not a number, is NaN, or lies outside ``minimum``..``maximum``.
        """
        v = self.raw(key)
        if not _given(v):
            return default
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise self._fail(key, f"{v!r} is not a number") from None
        if math.isnan(x):
            raise self._fail(key, "NaN is not a valid value")
        if minimum is not None and x < minimum:
            raise self._fail(key, f"{x:g} is below the smallest allowed value {minimum:g}")
        if maximum is not None and x > maximum:
            raise self._fail(key, f"{x:g} is above the largest allowed value {maximum:g}")
        return x

    def need_number(self, key: str, **kw: Any) -> float:
        x = self.number(key, **kw)
        if x is None:
            raise self._fail(key, "is required: give a number")
        return x

    def integer(self, key: str, default: int | None = None, *, minimum: int | None = None) -> int | None:
        """Parameter ``key`` as a whole number (``3`` and ``3.0`` are accepted, ``3.5`` is not).

        Parameters
        ----------
        key
            The parameter key.
        default
            Returned when the key is not given and has no published default.
        minimum
            Smallest allowed value (inclusive; ``None``: unbounded).

        Returns
        -------
        int or None
            The value, else ``default`` (``None`` when that is not given either).

        Raises
        ------
        ParameterError
            The value is not a number, not whole, or below ``minimum``.
        """
        x = self.number(key, None if default is None else float(default), minimum=minimum)
        if x is None:
            return None
        if x != int(x):
            raise self._fail(key, f"{x:g} is not a whole number")
        return int(x)

    def need_integer(self, key: str, **kw: Any) -> int:
        x = self.integer(key, **kw)
        if x is None:
            raise self._fail(key, "is required: give a whole number")
        return x

    def flag(self, key: str, default: bool = False) -> bool:
        v = self.raw(key)
        if not _given(v):
            return default
        if isinstance(v, bool):
            return v
        if isinstance(v, (int, float)):
            return bool(v)
        s = str(v).strip().lower()
        if s in ("true", "yes", "1", "on"):
            return True
        if s in ("false", "no", "0", "off"):
            return False
        raise self._fail(key, f"{v!r} is not true or false")

    def choice(self, key: str, options: Sequence[str], default: str | None = None) -> str:
        """Parameter ``key`` as one of ``options`` (given as the option text, never an index).

        Parameters
        ----------
        key
            The parameter key, e.g. ``"WEIGHT"``.
        options
            The allowed option texts, e.g. ``("time", "length")``.
        default
            Used when the key is not given and has no published default (``None``: the first
            of ``options``).

        Returns
        -------
        str
            The chosen option.

        Raises
        ------
        ParameterError
            The value is not one of ``options``.
        """
        v = self.text(key, default if default is not None else options[0])
        assert v is not None
        if v not in options:
            raise self._fail(key, f"{v!r} is not one of {', '.join(options)}")
        return v

    def choices(self, key: str, options: Sequence[str]) -> list[str]:
        v = self.raw(key)
        items = [] if not _given(v) else ([v] if isinstance(v, str) else list(v))
        bad = [str(x) for x in items if str(x) not in options]
        if bad:
            raise self._fail(key, f"{bad[0]!r} is not one of {', '.join(options)}")
        return [str(x) for x in items]

    def names(self, key: str) -> list[str]:
        """A list of names (fields): a JSON list or comma-separated text."""
        v = self.raw(key)
        if not _given(v):
            return []
        items = v.split(",") if isinstance(v, str) else list(v)
        return [str(x).strip() for x in items if str(x).strip()]

    def numbers(self, key: str, *, what: str) -> list[float]:
        """``"15, 30, 60"`` (or a JSON list) as numbers."""
        v = self.raw(key)
        if not _given(v):
            return []
        parts = str(v).replace(";", ",").split(",") if isinstance(v, str) else list(v)
        out = []
        for part in parts:
            text = str(part).strip()
            if not text:
                continue
            try:
                out.append(float(text))
            except ValueError:
                raise ParameterError(f"{what}: {text!r} is not a number; give numbers separated by commas") from None
        if not out:
            raise ParameterError(f"{what}: give at least one number, e.g. 15, 30, 60")
        return out

    def mapping(self, key: str, *, what: str) -> dict[str, float]:
        """``"a=0.5, b=0.25"`` (or a JSON object) as ``{"a": 0.5, "b": 0.25}``."""
        v = self.raw(key)
        if not _given(v):
            return {}
        if isinstance(v, Mapping):
            items: Iterable[tuple[str, Any]] = v.items()
        else:
            pairs = []
            for part in str(v).replace(";", ",").split(","):
                part = part.strip()
                if not part:
                    continue
                name, sep, value = part.partition("=")
                if not sep or not name.strip():
                    raise ParameterError(f"{what}: {part!r} is not name=value; e.g. market_potential=0.4")
                pairs.append((name.strip(), value))
            items = pairs
        out: dict[str, float] = {}
        for name, value in items:
            try:
                out[str(name)] = float(value)
            except (TypeError, ValueError):
                raise ParameterError(f"{what}: {name}={str(value).strip()!r} is not a number") from None
        return out

    def crs(self) -> str | None:
        """The metric CRS the user chose (``METRIC_CRS``), or ``None`` (the library's choice)."""
        return self.text(METRIC_CRS)

    # ------------------------------------------------------------------------ layers
    def _spec(self, key: str) -> tuple[str, str | None, str, str | None]:
        v = self.raw(key)
        if isinstance(v, Mapping):
            path = v.get("path")
            if not _given(path):
                raise self._fail(key, "a layer needs a 'path'")
            layer = v.get("layer") or None
            label = str(v.get("label") or key)
            crs = v.get("crs") or None
            return str(path), (str(layer) if layer else None), label, (str(crs) if crs else None)
        return str(v), None, key, None

    def vector(self, key: str, *, crs: Any = None, metric: bool = True, geom_types: Iterable[str] | None = None,
               required: bool = True) -> Any:
        """Vector input ``key`` as a GeoDataFrame (projected to a metric CRS by default).

        Parameters
        ----------
        key
            The parameter key, e.g. ``"ROADS"``; its value is ``"FILE[:LAYER]"`` or a
            ``{"path", "layer", "label", "crs"}`` object (see the module docstring).
        crs
            The metric CRS to use (default ``None``: ``METRIC_CRS`` when given, else the
            layer's own projected CRS, else its UTM zone).
        metric
            Project geographic data to that metric CRS (``False``: keep the layer's CRS).
        geom_types
            Allowed geometry families (``"Point"``, ``"LineString"``, ``"Polygon"``);
            ``None`` accepts any.
        required
            A missing input is an error (``False``: return ``None`` instead).

        Returns
        -------
        geopandas.GeoDataFrame or None
            The layer read by :func:`iptown_gis.io.vector.read_vector`; ``None`` when the
            input is optional and not given.

        Raises
        ------
        ParameterError
            The input is required and not given, or its object has no ``path``.
        """
        from iptown_gis.io.vector import parse_layer_spec, read_vector

        if not self.has(key):
            if required:
                raise self._fail(key, "is required: give a layer")
            return None
        path, layer, label, declared = self._spec(key)
        spec = parse_layer_spec(path, layer)
        target = crs if crs is not None else self.crs()
        return read_vector(spec, name=label, metric=metric, crs=target, geom_types=geom_types, declared_crs=declared)

    def raster(self, key: str, *, required: bool = True) -> tuple[Path, str] | None:
        """Raster input ``key`` as ``(path, name)``."""
        if not self.has(key):
            if required:
                raise self._fail(key, "is required: give a raster")
            return None
        return self._raster_item(key, self.raw(key))

    def rasters(self, key: str) -> list[tuple[Path, str]]:
        """A list of raster inputs as ``(path, name)`` pairs."""
        v = self.raw(key)
        if not _given(v):
            return []
        items = v if isinstance(v, list) else [v]
        return [self._raster_item(key, item) for item in items]

    def _raster_item(self, key: str, item: Any) -> tuple[Path, str]:
        from iptown_gis.errors import DataNotFoundError

        if isinstance(item, Mapping):
            path = Path(str(item.get("path", "")))
            name = str(item.get("name") or path.stem)
        else:
            path = Path(str(item))
            name = path.stem
        if not path.is_file():
            raise DataNotFoundError(f"{self.algorithm}: parameter {key}: raster {str(path)!r} does not exist")
        return path, name

    # ------------------------------------------------------------------------ outputs
    def output(self, key: str, *, required: bool = True, suffixes: Sequence[str] | None = None) -> Path | None:
        """The path the engine writes output ``key`` to.

        Parameters
        ----------
        key
            The output key, e.g. ``"OUTPUT"`` (published defaults are not used for outputs).
        required
            A missing output path is an error (``False``: return ``None`` instead).
        suffixes
            Allowed lower-case file suffixes, e.g. ``(".gpkg",)`` (``None``: any).

        Returns
        -------
        pathlib.Path or None
            The path as given (not created); ``None`` when optional and not given.

        Raises
        ------
        ParameterError
            The output is required and not given.
        OutputError
            The path's suffix is not one of ``suffixes``.
        """
        from iptown_gis.errors import OutputError

        v = self.values.get(key)
        if not _given(v):
            if required:
                raise self._fail(key, "is required: give an output path")
            return None
        p = Path(str(v))
        if suffixes and p.suffix.lower() not in suffixes:
            raise OutputError(f"{self.algorithm}: output {key} {str(p)!r}: use a {' or '.join(suffixes)} file name")
        return p

    def write_vector(self, key: str, gdf: Any, *, layer: str | None = None) -> str:
        """Write a GeoDataFrame to output ``key`` (GeoPackage); return the path.

        Parameters
        ----------
        key
            The output key; its path must end in ``.gpkg``.
        gdf
            The GeoDataFrame to write (atomically, by :func:`iptown_gis.io.vector.write_vector`).
        layer
            The GeoPackage layer name (default: the file's stem).

        Returns
        -------
        str
            The path written.

        Raises
        ------
        ParameterError
            The output path is not given.
        OutputError
            The path is not a ``.gpkg`` file, or writing failed.
        """
        from iptown_gis.io.vector import write_vector

        path = self.output(key, suffixes=(".gpkg",))
        assert path is not None
        write_vector(gdf, path, layer=layer or path.stem)
        return str(path)

    def write_table(self, key: str, df: Any, *, layer: str | None = None) -> str:
        """Write a table without geometry to output ``key`` (a GeoPackage attribute table).

        Parameters
        ----------
        key
            The output key; its path must end in ``.gpkg``.
        df
            The table (a :class:`pandas.DataFrame`), written atomically by
            :func:`iptown_gis.io.vector.write_table`.
        layer
            The table name in the GeoPackage (default: the file's stem).

        Returns
        -------
        str
            The path written.

        Raises
        ------
        ParameterError
            The output path is not given.
        OutputError
            The path is not a ``.gpkg`` file, or writing failed.
        """
        from iptown_gis.io.vector import write_table

        path = self.output(key, suffixes=(".gpkg",))
        assert path is not None
        write_table(df, path, layer=layer or path.stem)
        return str(path)
