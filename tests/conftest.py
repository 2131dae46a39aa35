"""Shared fixtures: the bundled Anhui sample (small real data)."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "anhui"
GPKG = SAMPLE / "anhui.gpkg"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def sample_gpkg() -> Path:
    return GPKG


@pytest.fixture(scope="session")
def scenario_path() -> Path:
    return SAMPLE / "scenario.toml"
