"""The ``[sites]`` scenario section: candidates, criteria, weights, constraints, location model.

Example (the bundled Anhui study)::

    [sites]
    candidates = "county_seats"        # an input name (points or polygons)
    id_field = "adcode"
    name_field = "unit_name"
    prefecture_field = "parent_adcode"
    normalisation = "minmax"           # minmax | zscore | rank
    k = 3
    model = "mclp"                     # rank | mclp | pmedian
    standard = 60.0                    # minutes (cost = "time") or metres (cost = "length")
    demand = "places"
    demand_weight = "population"

    [[sites.criteria]]
    name = "market_potential"
    source = "market_potential"
    direction = "benefit"
    weight = 0.25

    [[sites.anchors]]
    name = "ustc"
    kind = "university"
    lon = 117.2640
    lat = 31.8390
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, field_validator, model_validator

from iptown_gis.scenario import Section

__all__ = [
    "CRITERION_SOURCES",
    "AnchorSpec",
    "ConstraintsConfig",
    "CriterionSpec",
    "RobustnessConfig",
    "SitesConfig",
    "SolverConfig",
]

#: Where a criterion's values come from.
#:
#: - ``market_potential``: Harris market potential raster of the surfaces stage, sampled at the site.
#: - ``neg_market_access``: NEG (real) market access raster of the surfaces stage.
#: - ``kde``: kernel density raster of the surfaces stage.
#: - ``gi_z`` / ``gi_p`` / ``gi_significant``: Getis-Ord Gi* z-score, p-value, and a 0/1 flag of a
#:   significant hot spot, from the surfaces stage's ``hotspots`` layer (joined by location).
#: - ``access``: network travel cost from the site to the anchors named in ``anchors`` (nearest,
#:   or mean, by ``aggregate``).
#: - ``station_access``: network travel cost from the site to the nearest rail station of the
#:   network (every road<->rail transfer point the network stage built, province-wide).
#: - ``neg_share``: NEG equilibrium share of the site's prefecture (joined by ``prefecture_field``).
#: - ``neg_share_change``: change of that share under the NEG scenario named in ``scenario``.
#: - ``column``: any numeric column of the candidate layer (``column``), optionally divided by
#:   another (``per``, e.g. GDP per resident).
CriterionSource = Literal[
    "market_potential",
    "neg_market_access",
    "kde",
    "gi_z",
    "gi_p",
    "gi_significant",
    "access",
    "station_access",
    "neg_share",
    "neg_share_change",
    "column",
]
CRITERION_SOURCES: tuple[str, ...] = get_args(CriterionSource)


class CriterionSpec(Section):
    """One criterion: where its values come from, whether more is better, and its weight."""

    name: str = Field(min_length=1, description="column name of the criterion in the outputs")
    source: CriterionSource
    direction: Literal["benefit", "cost"] = Field(
        default="benefit", description="benefit: more is better; cost: less is better"
    )
    weight: float = Field(ge=0.0, description="non-negative; weights are rescaled to sum to 1")
    column: str | None = Field(default=None, description="candidate column (source = 'column')")
    per: str | None = Field(default=None, description="divide column by this candidate column (source = 'column')")
    anchors: list[str] = Field(default_factory=list, description="anchor names or kinds (source = 'access')")
    aggregate: Literal["min", "mean"] = Field(default="min", description="over anchors (source = 'access')")
    scenario: str | None = Field(default=None, description="NEG scenario name (source = 'neg_share_change')")
    transform: Literal["none", "log1p"] = "none"
    required: bool = Field(
        default=False, description="raise instead of skipping the criterion when its stage did not run"
    )

    @model_validator(mode="after")
    def _check_source_keys(self) -> CriterionSpec:
        if self.source == "column" and not self.column:
            raise ValueError(f"criterion {self.name!r}: source = 'column' needs column = \"NAME\"")
        if self.per is not None and self.source != "column":
            raise ValueError(f"criterion {self.name!r}: per = {self.per!r} works with source = 'column' only")
        if self.source == "access" and not self.anchors:
            raise ValueError(f"criterion {self.name!r}: source = 'access' needs anchors = [\"NAME\", ...]")
        return self


class AnchorSpec(Section):
    """A named anchor (science centre, university, IP court, rail station) in WGS84."""

    name: str = Field(min_length=1)
    kind: str = Field(default="anchor", description="e.g. science_centre, university, ip_court, rail_station")
    lon: float = Field(ge=-180.0, le=180.0)
    lat: float = Field(ge=-90.0, le=90.0)
    label: str = ""


class ConstraintsConfig(Section):
    """Constraints on the chosen set (greedy selection in rank order, or inside the location IP)."""

    min_spacing: float | None = Field(
        default=None, gt=0.0, description="minimum network cost between two chosen sites (unit of cost)"
    )
    max_per_prefecture: int | None = Field(default=None, ge=1)


class RobustnessConfig(Section):
    """Monte Carlo perturbation of the weights (Dirichlet around the given weights)."""

    draws: int = Field(default=1000, ge=0, description="0 disables the analysis")
    concentration: float = Field(
        default=50.0, gt=0.0, description="Dirichlet concentration: larger = weights closer to the given ones"
    )
    top_k: int | None = Field(default=None, ge=1, description="k of 'probability in top k' (default: k)")


class SolverConfig(Section):
    """HiGHS options for the location models."""

    mip_gap: float = Field(default=0.0, ge=0.0, lt=1.0, description="relative gap; 0 = exact optimum")
    time_limit: float | None = Field(default=None, gt=0.0, description="seconds")


class SitesConfig(Section):
    """The ``[sites]`` section: ranking candidates and choosing k towns."""

    candidates: str = Field(default="places", description="input name of the candidate layer")
    candidates_raster: str | None = Field(
        default=None,
        description="use the cells of this surfaces raster (market_potential, neg_market_access, kde) "
        "above candidates_threshold / candidates_quantile as candidates instead of a layer",
    )
    candidates_threshold: float | None = None
    candidates_quantile: float | None = Field(default=None, ge=0.0, le=1.0)
    id_field: str | None = Field(default=None, description="unique candidate id column (default: the input's)")
    name_field: str | None = None
    prefecture_field: str | None = Field(
        default=None, description="candidate column holding the prefecture adcode (NEG joins, per-prefecture cap)"
    )
    criteria: list[CriterionSpec] = Field(min_length=1)
    normalisation: Literal["minmax", "zscore", "rank"] = "minmax"
    missing: Literal["error", "worst"] = Field(
        default="worst", description="a candidate without a criterion value: error, or worst value (warned)"
    )
    k: int = Field(default=3, ge=1)
    model: Literal["rank", "mclp", "pmedian"] = Field(
        default="rank", description="rank: greedy by score under constraints; mclp / pmedian: location IP"
    )
    shortlist: int | None = Field(
        default=None, ge=1, description="location models choose among the best-ranked N candidates only"
    )
    cost: Literal["time", "length"] = Field(default="time", description="network cost: minutes or metres")
    standard: float | None = Field(default=None, gt=0.0, description="MCLP coverage standard (unit of cost)")
    demand: str | None = Field(default=None, description="input name of the demand layer (location models)")
    demand_weight: str | None = Field(default=None, description="demand column (default: 1 per feature)")
    max_snap_distance: float = Field(
        default=10_000.0, gt=0.0, description="metres from a point to the network before it is an error"
    )
    largest_component: bool = Field(default=True, description="snap points to the largest connected network part")
    anchors: list[AnchorSpec] = Field(default_factory=list)
    anchors_layer: str | None = Field(default=None, description="input name of a point layer of anchors")
    anchors_name_field: str = "name"
    anchors_kind_field: str | None = "kind"
    constraints: ConstraintsConfig = ConstraintsConfig()
    robustness: RobustnessConfig = RobustnessConfig()
    solver: SolverConfig = SolverConfig()
    map: bool = Field(default=True, description="draw sites/map.png")

    @field_validator("criteria")
    @classmethod
    def _unique_names(cls, v: list[CriterionSpec]) -> list[CriterionSpec]:
        names = [c.name for c in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"criterion names must be unique; repeated: {', '.join(dup)}")
        if sum(c.weight for c in v) <= 0:
            raise ValueError("at least one criterion needs a positive weight")
        return v

    @model_validator(mode="after")
    def _check_model(self) -> SitesConfig:
        if self.model == "mclp" and self.standard is None:
            raise ValueError("model = 'mclp' needs standard = (minutes when cost = 'time', metres when 'length')")
        if self.model in ("mclp", "pmedian") and self.demand is None:
            raise ValueError(f"model = {self.model!r} needs demand = \"INPUT\" (the layer to serve)")
        if self.candidates_raster is not None and (self.candidates_threshold is None) == (
            self.candidates_quantile is None
        ):
            raise ValueError("candidates_raster needs exactly one of candidates_threshold / candidates_quantile")
        names = {a.name for a in self.anchors}
        if len(names) != len(self.anchors):
            raise ValueError("anchor names must be unique")
        return self

    def weights(self) -> dict[str, float]:
        """Criterion name -> weight, as given."""
        return {c.name: float(c.weight) for c in self.criteria}

    def references(self) -> list[tuple[str, str | None, str]]:
        refs: list[tuple[str, str | None, str]] = [(self.candidates, None, "candidates")]
        for key in ("id_field", "name_field", "prefecture_field"):
            col = getattr(self, key)
            if col is not None:
                refs.append((self.candidates, col, key))
        for i, c in enumerate(self.criteria):
            if c.source == "column":
                refs.append((self.candidates, c.column, f"criteria[{i}].column"))
                if c.per is not None:
                    refs.append((self.candidates, c.per, f"criteria[{i}].per"))
        if self.demand is not None:
            refs.append((self.demand, self.demand_weight, "demand_weight"))
        if self.anchors_layer is not None:
            refs.append((self.anchors_layer, self.anchors_name_field, "anchors_name_field"))
        return refs
