"""Coordinate reference systems: choosing a metric CRS, and China's offset systems."""

from iptown_gis.crs.metric import is_geographic, metric_crs_for, to_metric

__all__ = ["is_geographic", "metric_crs_for", "to_metric"]
