"""The ``[neg]`` scenario section: NEG parameters, the regions and the policy scenarios."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from iptown_gis.scenario import Section

__all__ = ["NEGConfig", "NEGScenario"]


class NEGScenario(Section):
    """One policy scenario (``[[neg.scenarios]]``); unset keys keep the baseline values."""

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$", description="identifier (letters, digits, _ -)")
    description: str = ""
    links: list[list[str]] = Field(
        default_factory=list,
        description="city pairs [id_a, id_b] whose direct travel cost is multiplied by link_factor")
    link_factor: float = Field(default=0.6, gt=0.0, le=1.0)
    links_layer: str | None = Field(default=None, description="input with new lines (expressway / HSR)")
    link_speed_kmh: float = Field(default=250.0, gt=0.0, description="speed on the new lines")
    link_access_min: float = Field(default=15.0, ge=0.0, description="access time at each end, minutes")
    link_snap_km: float = Field(default=15.0, gt=0.0, description="seats within this distance are served")
    moving_cost: float | None = Field(default=None, ge=0.0)
    moving_cost_per_hour: float | None = Field(default=None, ge=0.0)
    barrier: float | None = Field(default=None, ge=0.0)
    amenity: dict[str, float] = Field(default_factory=dict, description="region id -> amenity premium")
    congestion: float | None = Field(default=None, ge=0.0)
    tau: float | None = Field(default=None, gt=0.0)
    migration_cost_factor: float | None = Field(
        default=None, ge=0.0, description="model = 'qsm': log migration cost x factor (hukou reform: < 1)")

    @field_validator("links")
    @classmethod
    def _pairs(cls, v: list[list[str]]) -> list[list[str]]:
        for p in v:
            if len(p) != 2:
                raise ValueError(f"each link is a pair [id_a, id_b], got {p!r}")
        return [[str(a) for a in p] for p in v]

    @field_validator("amenity")
    @classmethod
    def _amen(cls, v: dict[str, float]) -> dict[str, float]:
        for k, a in v.items():
            if not a >= 0:
                raise ValueError(f"amenity for {k!r} = {a!r}: must be >= 0")
        return v


class NEGConfig(Section):
    """Core-periphery simulation of the regions (default: Anhui's 16 prefecture cities).

    Travel costs come from the network stage (``seat_od``, minutes) and become
    ``T = exp(tau * minutes)``. Mobile shares start from ``mobile_field`` (observed), immobile
    shares come from ``immobile_field`` (``None``: uniform).
    """

    sigma: float = Field(default=5.0, gt=1.0)
    mu: float = Field(default=0.4, gt=0.0, lt=1.0)
    tau: float = Field(default=0.006, gt=0.0, description="trade-cost rate per minute of travel")
    strict: bool = False
    cost: Literal["network", "euclidean"] = Field(
        default="network", description="'network' (seat OD times) or 'euclidean' (crow-fly, see speed)")
    euclidean_speed_kmh: float = Field(default=60.0, gt=0.0)
    regions: str = Field(default="prefecture_seats", description="input with one point per region")
    id_field: str = "adcode"
    name_field: str | None = "unit_name"
    polygons: str | None = Field(default="prefectures", description="input with region polygons")
    polygon_id_field: str = "adcode"
    mobile_field: str | None = Field(default="gdp_2022", description="observed mobile shares (None: uniform)")
    immobile_field: str | None = Field(default="pop_2020", description="immobile shares (None: uniform)")
    moving_cost: float = Field(default=0.0, ge=0.0, description="utility gap needed to move (hukou)")
    moving_cost_per_hour: float = Field(default=0.0, ge=0.0, description="extra gap per hour of travel")
    barrier: float = Field(default=0.0, ge=0.0, description="flow damping exp(-barrier) between regions")
    congestion: float = Field(default=0.05, ge=0.0, description="crowding of immobile factors (theta)")
    tol: float = Field(default=1e-9, gt=0.0)
    bifurcation_taus: list[float] = Field(default_factory=list, description="tau grid for a diagram")
    scenarios: list[NEGScenario] = Field(default_factory=lambda: [NEGScenario(name="baseline")])
    model: Literal["qsm", "fkv"] = Field(
        default="qsm", description="'qsm': calibrated quantitative spatial model (scenarios as changes "
        "from today); 'fkv': the stylised core-periphery long run")
    population_field: str | None = Field(default="pop_2020", description="qsm: observed residents")
    gdp_field: str | None = Field(default="gdp_2022", description="qsm: observed GDP (wages = GDP / residents)")
    area_field: str | None = Field(
        default=None, description="qsm: region area (km2) for internal trip times; None: from the polygons")
    trade_elasticity: float = Field(default=4.0, gt=0.0, description="qsm: sigma - 1 (Tombe & Zhu 2019)")
    alpha: float = Field(default=0.75, gt=0.0, le=1.0, description="qsm: tradables expenditure share")
    migration_elasticity: float = Field(default=1.5, gt=0.0, description="qsm: Fréchet shape (Tombe & Zhu 2019)")
    distance_elasticity: float = Field(default=1.0, gt=0.0, description="qsm: |elasticity of trade to time|")
    stay_share: float = Field(default=0.85, gt=0.0, lt=1.0,
                              description="qsm: share of registered residents living in their home region "
                                          "(sets the log migration cost; assumption, banded)")
    migration_cost: float | None = Field(default=None, ge=0.0,
                                         description="qsm: log migration cost (None: from stay_share)")
    band_draws: int = Field(default=64, ge=0, description="qsm: Latin hypercube draws for the bands (0: none)")
    band_seed: int | None = Field(default=None, description="qsm: seed of the draws (None: [study] seed)")
    tornado_region: str | None = Field(default=None, description="qsm: region whose share the tornado tracks")
    county_regions: str | None = Field(
        default=None, description="qsm: second run on finer regions (e.g. county seats) with the same scenarios")
    county_polygons: str | None = None
    county_parent_field: str = Field(
        default="parent_adcode", description="county -> region id, to map scenario links / amenities")

    @model_validator(mode="after")
    def _check(self) -> NEGConfig:
        names = [s.name for s in self.scenarios]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"scenario names must be unique; repeated: {sorted(dup)}")
        if "baseline" not in names:
            self.scenarios.insert(0, NEGScenario(name="baseline"))
        return self

    def references(self) -> list[tuple[str, str | None, str]]:
        refs: list[tuple[str, str | None, str]] = [(self.regions, self.id_field, "id_field")]
        for fld, key in ((self.name_field, "name_field"), (self.mobile_field, "mobile_field"),
                         (self.immobile_field, "immobile_field")):
            if fld is not None:
                refs.append((self.regions, fld, key))
        if self.polygons is not None:
            refs.append((self.polygons, self.polygon_id_field, "polygon_id_field"))
        if self.model == "qsm":
            for fld, key in ((self.population_field, "population_field"), (self.gdp_field, "gdp_field"),
                             (self.area_field, "area_field")):
                if fld is not None:
                    refs.append((self.regions, fld, key))
        if self.county_regions is not None:
            refs.append((self.county_regions, self.id_field, "id_field"))
            refs.append((self.county_regions, self.county_parent_field, "county_parent_field"))
        refs.extend((s.links_layer, None, f"scenarios.{s.name}.links_layer")
                    for s in self.scenarios if s.links_layer)
        return refs
