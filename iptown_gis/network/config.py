"""The ``[network]`` scenario section."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat

from iptown_gis.network.speeds import DEFAULT_SPEED_KMH, RAIL_SPEED_KMH
from iptown_gis.scenario import Section

__all__ = ["NetworkConfig"]


class NetworkConfig(Section):
    """Network building and the seat-to-seat cost matrix.

    Every road class speed can be overridden in ``[network.speeds]`` (class -> km/h), e.g.
    ``"国道" = 80`` or ``primary = 70``.
    """

    roads: str = Field("roads", description="input name of the road lines")
    railways: str | None = Field(None, description="input name of rail lines (joined at stations)")
    stations: str | None = Field(None, description="input name of road<->rail transfer points")
    seats: str = Field("seats", description="input name of the points for the OD matrix")
    seat_id_field: str = "adcode"
    length_field: str | None = Field(None, description="edge length column (default: geometry length)")
    length_unit: Literal["m", "km", "mi", "ft"] = "km"
    class_field: str | None = None
    speed_field: str | None = None
    oneway_field: str | None = None
    default_speed_kmh: PositiveFloat = DEFAULT_SPEED_KMH
    rail_speed_kmh: PositiveFloat = RAIL_SPEED_KMH
    speeds: dict[str, PositiveFloat] = Field(default_factory=dict)
    snap_tolerance: float = Field(1.0, ge=0)
    split_crossings: bool = False
    transfer_penalty_min: float = Field(15.0, ge=0)
    transfer_max_distance: float = Field(5000.0, gt=0)
    access_speed_kmh: PositiveFloat = 30.0
    max_snap_distance: float = Field(10_000.0, gt=0)
    snap: Literal["node", "edge"] = "node"
    weight: Literal["time", "length"] = "time"
    largest_component: bool = True
    write_network: bool = True

    def references(self) -> list[tuple[str, str | None, str]]:
        refs: list[tuple[str, str | None, str]] = [(self.roads, None, "roads"),
                                                   (self.seats, self.seat_id_field, "seat_id_field")]
        for col, key in ((self.length_field, "length_field"), (self.class_field, "class_field"),
                         (self.speed_field, "speed_field"), (self.oneway_field, "oneway_field")):
            if col is not None:
                refs.append((self.roads, col, key))
        if self.railways is not None:
            refs.append((self.railways, None, "railways"))
        if self.stations is not None:
            refs.append((self.stations, None, "stations"))
        return refs
