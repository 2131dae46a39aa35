"""The ``[zoning]`` scenario section."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from iptown_gis.scenario import Section

__all__ = ["DEFAULT_RECIPE", "DEFAULT_TRANSFORMS", "FACTORS", "ZoningConfig"]

#: Suitability factors the study-area builder computes per cell.
FACTORS = ("centre_time", "access_time", "market_potential", "agglomeration", "water_distance", "slope")

#: Default transforms: ``minmax`` (higher is better), ``cost`` (lower is better, 1 - minmax),
#: ``decay:S`` (exp(-value / S): near is better, S in the factor's unit).
DEFAULT_TRANSFORMS: dict[str, str] = {
    "centre_time": "decay:15",  # minutes
    "access_time": "decay:20",  # minutes
    "market_potential": "minmax",
    "agglomeration": "minmax",
    "water_distance": "decay:1500",  # metres
    "slope": "cost",  # degrees
}

#: Default recipe: weights of each factor in each district's suitability.
DEFAULT_RECIPE: dict[str, dict[str, float]] = {
    "body": {"centre_time": 0.4, "access_time": 0.2, "market_potential": 0.2, "agglomeration": 0.1, "slope": 0.1},
    "wing_east": {"agglomeration": 0.3, "water_distance": 0.3, "centre_time": 0.2, "slope": 0.2},
    "wing_west": {"access_time": 0.4, "market_potential": 0.3, "slope": 0.2, "centre_time": 0.1},
}

#: Default module recipe (module suitability inside the body).
DEFAULT_MODULE_RECIPE: dict[str, dict[str, float]] = {
    "ip_management": {"centre_time": 1.0},
    "ip_trading": {"access_time": 0.6, "market_potential": 0.4},
    "ip_services": {"centre_time": 0.5, "access_time": 0.5},
    "ip_education": {"agglomeration": 0.5, "water_distance": 0.5},
    "think_tank": {"water_distance": 0.6, "slope": 0.4},
    "ip_culture": {"water_distance": 0.7, "agglomeration": 0.3},
    "ip_finance": {"market_potential": 0.6, "centre_time": 0.4},
}


class ZoningConfig(Section):
    """``[zoning]``: lay out a "one body, two wings" town around a site.

    The site is ``site = "auto"`` (the top-ranked site of the sites stage, else the seat
    ``fallback_adcode``), ``site = "top"`` (sites stage required), ``site = [lon, lat]``
    (WGS84), or ``site_adcode`` (a seat of the ``seats`` input). When the sites stage chose towns
    (``[sites] k``), ``"auto"``/``"top"`` lay out each of them (``towns = "chosen"``) or town no. 1
    only (``towns = "first"``).
    """

    site: Literal["auto", "top"] | list[float] = "auto"
    site_adcode: int | None = None
    towns: Literal["chosen", "first"] = Field(
        "chosen", description="with a site selection: lay out every chosen town, or only town no. 1")
    fallback_adcode: int = 340100
    radius_m: float = Field(5000.0, gt=0)
    cell_size_m: float = Field(200.0, gt=0)
    body_km2: float = Field(6.0, gt=0)
    wing_east_km2: float = Field(4.0, gt=0)
    wing_west_km2: float = Field(4.0, gt=0)
    tolerance: float = Field(0.05, ge=0, lt=1)
    axis_bearing: float = 90.0
    axis_margin_m: float = Field(500.0, ge=0, description="wing centroids at least this far beyond the body's")
    method: Literal["auto", "exact", "heuristic"] = "auto"
    time_limit: float = Field(40.0, gt=0)
    seed: int | None = None
    compactness_weight: float = Field(0.02, ge=0)
    modules: bool = True
    module_shares: dict[str, float] | None = None
    module_tolerance: float = Field(0.3, ge=0, lt=1)
    module_affinity_weight: float = Field(0.05, ge=0)
    module_compactness_weight: float = Field(0.1, ge=0, description="perimeter penalty: compact modules")
    module_method: Literal["auto", "exact", "heuristic"] = "heuristic"
    recipe: dict[str, dict[str, float]] = Field(default_factory=lambda: {k: dict(v) for k, v in DEFAULT_RECIPE.items()})
    module_recipe: dict[str, dict[str, float]] = Field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_MODULE_RECIPE.items()})
    transforms: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_TRANSFORMS))
    water_buffer_m: float = Field(100.0, ge=0)
    mask: str | None = Field(default=None, description="input name of polygons to exclude")
    seats: str = "seats"
    rivers: str | None = "rivers"
    lakes: str | None = "lake_shores"
    roads: str | None = "roads"
    railways: str | None = "railways"
    places: str | None = "places"
    dem: str | None = "dem"
    town_centre_speed_kmh: float = Field(30.0, gt=0, description="Euclidean fallback speed")

    @field_validator("site")
    @classmethod
    def _site(cls, v: object) -> object:
        if isinstance(v, list) and (len(v) != 2 or not (-180 <= v[0] <= 180 and -90 <= v[1] <= 90)):
            raise ValueError("site must be 'auto', 'top' or [lon, lat] in degrees")
        return v

    @field_validator("transforms")
    @classmethod
    def _transforms(cls, v: dict[str, str]) -> dict[str, str]:
        for k, t in v.items():
            if k not in FACTORS:
                raise ValueError(f"unknown factor {k!r}; factors: {', '.join(FACTORS)}")
            if t not in ("minmax", "cost") and not t.startswith("decay:"):
                raise ValueError(f"transform of {k!r} must be 'minmax', 'cost' or 'decay:SCALE', got {t!r}")
            if t.startswith("decay:"):
                try:
                    ok = float(t.split(":", 1)[1]) > 0
                except ValueError:
                    ok = False
                if not ok:
                    raise ValueError(f"transform of {k!r}: decay scale must be a positive number, got {t!r}")
        return {**DEFAULT_TRANSFORMS, **v}

    @model_validator(mode="after")
    def _recipes(self) -> ZoningConfig:
        from iptown_gis.zoning.model import DISTRICTS, MODULES

        for name, rec, zones in (("recipe", self.recipe, DISTRICTS), ("module_recipe", self.module_recipe, MODULES)):
            for z, weights in rec.items():
                if z not in zones:
                    raise ValueError(f"{name}: unknown zone {z!r}; zones: {', '.join(zones)}")
                for f, w in weights.items():
                    if f not in FACTORS:
                        raise ValueError(f"{name}.{z}: unknown factor {f!r}; factors: {', '.join(FACTORS)}")
                    if not w >= 0:
                        raise ValueError(f"{name}.{z}.{f}: weight must be >= 0, got {w}")
        if self.module_shares is not None:
            bad = set(self.module_shares) - set(MODULES)
            if bad:
                raise ValueError(f"module_shares: unknown module(s) {sorted(bad)}; modules: {', '.join(MODULES)}")
        return self

    def references(self) -> list[tuple[str, str | None, str]]:
        refs: list[tuple[str, str | None, str]] = [(self.seats, "adcode", "seats")]
        for key in ("rivers", "lakes", "roads", "railways", "places", "dem", "mask"):
            v = getattr(self, key)
            if v is not None:
                refs.append((v, None, key))
        return refs
