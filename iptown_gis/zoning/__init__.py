"""Zoning: "one body, two wings" layouts of an IP characteristic town."""
