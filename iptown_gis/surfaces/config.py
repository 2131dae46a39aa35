"""The ``[surfaces]`` scenario section (validated on load; unknown keys are errors).

TOML has no ``None``: ``false`` switches a part off (``masses = false``: no market
potential, market access or all-cells potential; ``kde_points = false``: no KDE;
``hotspot_zones = false``: no hot spots; ``zonal_zones = false`` or ``[]``: no zonal
statistics) or takes the documented "none" meaning of a column key (``mass_field = false``
counts points, ``kde_weight = false`` weighs every point 1, ``kde_radius = false`` applies
``kde_rule``). The defaults that name an input (``kde_points = "places"``, ``hotspot_zones =
"counties"``, ``zonal_zones = ["counties", "prefectures"]``) apply only when the scenario
defines that input: a section that does not set them does not require them.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator

from iptown_gis.errors import ScenarioError
from iptown_gis.scenario import Section

__all__ = ["SurfacesConfig"]

#: Strings people write for "nothing", refused in favour of ``false`` (they would name inputs).
_NONE_WORDS = {"", "none", "null", "nil", "off", "false", "no"}


def _off(value: Any) -> Any:
    """``false`` -> ``None``; ``true`` and the strings "none", "", ... are refused with the fix."""
    if value is False:
        return None
    if value is True:
        raise ValueError("true is not a value here: give a name, or false to switch it off")
    if isinstance(value, str) and value.strip().lower() in _NONE_WORDS:
        raise ValueError(f"{value!r} would be taken as a name: write false (without quotes) to switch it off")
    return value


def _off_list(value: Any) -> Any:
    if value is False:
        return []
    if value is True:
        raise ValueError("true is not a value here: give a list of input names, or false for none")
    return value


#: An optional name (input or column): ``false`` means none.
OptName = Annotated[str | None, BeforeValidator(_off)]
#: An optional number: ``false`` means none (the documented default rule).
OptFloat = Annotated[float | None, BeforeValidator(_off)]

#: Surfaces a hot-spot variable may name, and the key that switches each off.
_SURFACE_KEYS = {"market_potential": "masses", "neg_market_access": "market_access", "kde": "kde_points",
                 "potential_all_cells": "raster_potential"}


class SurfacesConfig(Section):
    """Parameters of the surfaces stage.

    Inputs are named by their key in ``[inputs]``. Distances are metres unless ``cost =
    "time"`` (then minutes).
    """

    boundary: str = Field(default="boundary", description="input with the study-area polygon(s)")
    cell: float = Field(default=1000.0, gt=0, description="cell size in metres")
    memory_budget: str = Field(default="4GB", description="largest working memory for one grid")

    # Harris market potential
    masses: OptName = Field(default="county_seats",
                            description="input with the mass points (false: no potential surfaces)")
    mass_field: OptName = Field(default="pop_2020", description="mass column (false: count points)")
    mode: Literal["euclidean", "network"] = "network"
    decay: str = Field(default="power:1", description="'power:BETA' or 'exp:D0' (D0 in metres)")
    cost: Literal["length", "time"] = "length"
    min_distance: OptFloat = Field(default=None, ge=0, description="default: half a cell")
    access_speed_kmh: float = Field(default=30.0, gt=0)
    drop_far: bool = Field(default=False, description=(
        "network mode: grid cells (and masses) farther than [network] max_snap_distance from the network get "
        "no value (a warning counts them) instead of stopping the stage, e.g. islands without roads"))
    roads: str = Field(default="roads", description="input with roads (network mode without a network stage)")

    # NEG market access
    market_access: bool = True
    income_field: OptName = Field(default=None, description="income column of masses (default mass_field)")
    sigma: float = Field(default=5.0, gt=1)
    tau: float = Field(default=0.002, ge=0, description="iceberg cost per km (or per minute with cost='time')")

    # kernel density
    kde_points: OptName = Field(default="places", description="input with the points (false: no KDE)")
    kde_weight: OptName = Field(default="population", description="weight column (false: every point 1)")
    kde_kernel: Literal["quartic", "gaussian"] = "quartic"
    kde_radius: OptFloat = Field(default=30000.0, gt=0, description="radius/bandwidth (false: kde_rule)")
    kde_rule: Literal["silverman", "scott"] = "silverman"
    kde_output: Literal["raw", "scaled", "density"] = "raw"

    # hot spots
    hotspot_zones: OptName = Field(default="counties",
                                   description="input of zones, 'cells', or false (no hot spots)")
    hotspot_variable: str = Field(
        default="kde",
        description="a column of the zones, 'density:COLUMN' (COLUMN per km2 of zone area: the raw "
                    "variable, recommended), or 'kde', 'market_potential', 'neg_market_access' (zonal mean of "
                    "a smoothed surface: its autocorrelation is partly the smoothing's)",
    )
    hotspot_statistic: Literal["gi*", "moran"] = "gi*"
    hotspot_weights: Literal["queen", "rook", "knn", "distance"] = "queen"
    permutations: int = Field(default=999, ge=99)
    alpha: float = Field(default=0.05, gt=0, lt=1)
    fdr: bool = True

    # zonal statistics
    zonal_zones: Annotated[list[str], BeforeValidator(_off_list)] = Field(
        default_factory=lambda: ["counties", "prefectures"], description="zones inputs (false: none)")
    zonal_stats: list[str] = Field(default_factory=lambda: ["mean", "max", "sum"])

    # all-cells potential of a mass raster (FFT)
    raster_potential: bool = Field(default=True, description="also write the all-cells FFT potential")

    @field_validator("decay")
    @classmethod
    def _decay(cls, v: str) -> str:
        from iptown_gis.surfaces.potential import parse_decay

        return str(parse_decay(v))

    @field_validator("memory_budget")
    @classmethod
    def _budget(cls, v: str) -> str:
        from iptown_gis.surfaces.grid import parse_bytes

        parse_bytes(v)
        return v

    @field_validator("zonal_stats")
    @classmethod
    def _stats(cls, v: list[str]) -> list[str]:
        from iptown_gis.surfaces.zonal import STATS

        bad = [s for s in v if s not in STATS]
        if bad:
            raise ValueError(f"unknown statistic(s) {bad}; choose from {', '.join(STATS)}")
        return v

    @field_validator("zonal_zones")
    @classmethod
    def _zones(cls, v: list[str]) -> list[str]:
        for z in v:
            _off(z)
        return v

    def _computed(self) -> set[str]:
        on = set()
        if self.masses is not None:
            on.add("market_potential")
            if self.market_access:
                on.add("neg_market_access")
            if self.raster_potential:
                on.add("potential_all_cells")
        if self.kde_points is not None:
            on.add("kde")
        return on

    def _inconsistency(self) -> str | None:
        var = self.hotspot_variable
        if self.hotspot_zones is None or var not in _SURFACE_KEYS or var in self._computed():
            return None
        return (f"hotspot_variable = {var!r} needs the {var} surface, which is off ({_SURFACE_KEYS[var]} is false "
                f"or its default input is absent): "
                f"choose another hotspot_variable, or hotspot_zones = false for no hot spots")

    def bind_inputs(self, inputs: Collection[str], *, source: str) -> SurfacesConfig:
        """The section with the input-naming defaults the scenario cannot satisfy switched off.

        ``kde_points``, ``hotspot_zones`` and ``zonal_zones`` left at their defaults apply only
        when the scenario defines those inputs; a ``hotspot_variable`` left at ``"kde"`` falls
        back to ``"market_potential"`` when KDE is off. Keys the file sets are kept (and
        checked by :meth:`Scenario.check_references`).

        Raises
        ------
        ScenarioError
            ``hotspot_variable`` names a surface the section switches off.
        """
        given = self.model_fields_set
        update: dict[str, Any] = {}
        if "kde_points" not in given and self.kde_points not in inputs:
            update["kde_points"] = None
        if "hotspot_zones" not in given and self.hotspot_zones not in inputs:
            update["hotspot_zones"] = None
        if "zonal_zones" not in given:
            update["zonal_zones"] = [z for z in self.zonal_zones if z in inputs]
        out = self.model_copy(update=update) if update else self
        if "hotspot_variable" not in given and out.hotspot_variable in _SURFACE_KEYS \
                and out.hotspot_variable not in out._computed():
            fallback = next((n for n in ("kde", "market_potential") if n in out._computed()), None)
            if fallback is not None:
                out = out.model_copy(update={"hotspot_variable": fallback})
            elif "hotspot_zones" not in given:
                out = out.model_copy(update={"hotspot_zones": None})
        problem = out._inconsistency()
        if problem:
            raise ScenarioError(f"{source}: [surfaces] {problem}")
        return out

    def references(self) -> list[tuple[str, str | None, str]]:
        refs: list[tuple[str, str | None, str]] = [(self.boundary, None, "boundary")]
        if self.masses is not None:
            refs.append((self.masses, None, "masses"))
            refs.append((self.masses, self.mass_field, "mass_field"))
            if self.income_field is not None and self.market_access:
                refs.append((self.masses, self.income_field, "income_field"))
            if self.mode == "network":
                refs.append((self.roads, None, "roads"))
        if self.kde_points is not None:
            refs.append((self.kde_points, None, "kde_points"))
            refs.append((self.kde_points, self.kde_weight, "kde_weight"))
        if self.hotspot_zones not in (None, "cells"):
            col = None if self.hotspot_variable in _SURFACE_KEYS else self.hotspot_variable.removeprefix("density:")
            refs.append((self.hotspot_zones, None, "hotspot_zones"))
            refs.append((self.hotspot_zones, col, "hotspot_variable"))
        refs.extend((z, None, "zonal_zones") for z in self.zonal_zones)
        return refs
