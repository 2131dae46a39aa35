"""The ``[surfaces]`` scenario section (validated on load; unknown keys are errors)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from iptown_gis.scenario import Section

__all__ = ["SurfacesConfig"]


class SurfacesConfig(Section):
    """Parameters of the surfaces stage.

    Inputs are named by their key in ``[inputs]``. Distances are metres unless ``cost =
    "time"`` (then minutes).
    """

    boundary: str = Field(default="boundary", description="input with the study-area polygon(s)")
    cell: float = Field(default=1000.0, gt=0, description="cell size in metres")
    memory_budget: str = Field(default="4GB", description="largest working memory for one grid")

    # Harris market potential
    masses: str = Field(default="county_seats", description="input with the mass points")
    mass_field: str | None = Field(default="pop_2020", description="mass column (None: count points)")
    mode: Literal["euclidean", "network"] = "network"
    decay: str = Field(default="power:1", description="'power:BETA' or 'exp:D0' (D0 in metres)")
    cost: Literal["length", "time"] = "length"
    min_distance: float | None = Field(default=None, ge=0, description="default: half a cell")
    access_speed_kmh: float = Field(default=30.0, gt=0)
    roads: str = Field(default="roads", description="input with roads (network mode without a network stage)")

    # NEG market access
    market_access: bool = True
    income_field: str | None = Field(default=None, description="income column of masses (default mass_field)")
    sigma: float = Field(default=5.0, gt=1)
    tau: float = Field(default=0.002, ge=0, description="iceberg cost per km (or per minute with cost='time')")

    # kernel density
    kde_points: str | None = Field(default="places", description="input with the points (None: no KDE)")
    kde_weight: str | None = "population"
    kde_kernel: Literal["quartic", "gaussian"] = "quartic"
    kde_radius: float | None = Field(default=30000.0, gt=0, description="radius/bandwidth (None: rule)")
    kde_rule: Literal["silverman", "scott"] = "silverman"
    kde_output: Literal["raw", "scaled", "density"] = "raw"

    # hot spots
    hotspot_zones: str | None = Field(default="counties", description="input of zones, or 'cells'")
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
    zonal_zones: list[str] = Field(default_factory=lambda: ["counties", "prefectures"])
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

    def references(self) -> list[tuple[str, str | None, str]]:
        refs: list[tuple[str, str | None, str]] = [
            (self.boundary, None, "boundary"),
            (self.masses, self.mass_field, "mass_field"),
        ]
        if self.income_field is not None:
            refs.append((self.masses, self.income_field, "income_field"))
        if self.mode == "network":
            refs.append((self.roads, None, "roads"))
        if self.kde_points is not None:
            refs.append((self.kde_points, self.kde_weight, "kde_weight"))
        if self.hotspot_zones not in (None, "cells"):
            col = None if self.hotspot_variable in ("kde", "market_potential", "neg_market_access") \
                else self.hotspot_variable.removeprefix("density:")
            refs.append((self.hotspot_zones, col, "hotspot_variable"))
        refs.extend((z, None, "zonal_zones") for z in self.zonal_zones)
        return refs
