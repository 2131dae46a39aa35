"""Start-up stays cheap: packages load their submodules on first use, the CLI's --help and a
one-shot OD import neither Numba nor (for --help) the scientific stack."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _modules_after(code: str) -> dict[str, bool]:
    probe = "import sys, json\n" + code + "\nprint(json.dumps({m: m in sys.modules for m in " \
            "('geopandas', 'numba', 'rasterio', 'iptown_gis.network.build', 'iptown_gis.network.od')}))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_network_package_import_is_lazy() -> None:
    got = _modules_after("import iptown_gis.network")
    assert not any(got.values()), got


def test_every_public_name_still_importable() -> None:
    import iptown_gis.io as io
    import iptown_gis.network as nw

    for pkg in (nw, io):
        for name in pkg.__all__:
            assert getattr(pkg, name) is not None, name
        assert set(pkg.__all__) <= set(dir(pkg))
    assert nw.od.od_matrix is nw.od_matrix  # submodules as attributes, as before
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        _ = nw.nope


def test_help_imports_no_scientific_stack() -> None:
    got = _modules_after("from iptown_gis.cli.main import main\nsys.argv = ['iptown', '--help']\n"
                         "try:\n    main()\nexcept SystemExit:\n    pass")
    assert not got["geopandas"], got
    assert not got["numba"], got


def test_sample_od_needs_no_numba(tmp_path, sample_gpkg) -> None:
    """The sample's 120-seat OD runs on SciPy: no Numba import, so no compile tax in a new process."""
    gpkg = sample_gpkg
    code = (f"from iptown_gis.cli.main import main\nsys.argv = ['iptown', 'network', 'od', '--roads', '{gpkg}:roads', "
            f"'--length-field', 'length_km', '--origins', '{gpkg}:seats', '--id-field', 'adcode', '--out', "
            f"'{tmp_path / 'od.csv'}']\ntry:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code")
    got = _modules_after(code)
    assert got["iptown_gis.network.od"], got
    assert not got["numba"], got
    assert (tmp_path / "od.csv").stat().st_size > 0


def test_lazy_namespace_loads_once_and_lists_names() -> None:
    """The one helper behind the lazy packages: loads on first use, caches, lists, refuses."""
    import types

    from iptown_gis._lazy import lazy_namespace

    ns: dict[str, object] = {"__all__": ["atomic_path"]}
    getattr_, dir_ = lazy_namespace("iptown_gis.io", ns, {"atomic_path": "atomic"})
    from iptown_gis.io.atomic import atomic_path

    assert "atomic_path" not in ns
    assert getattr_("atomic_path") is atomic_path
    assert ns["atomic_path"] is atomic_path  # cached: the next access is a plain lookup
    assert isinstance(getattr_("vector"), types.ModuleType)  # a submodule by its name
    assert dir_() == ["__all__", "atomic_path"]
    with pytest.raises(AttributeError, match=r"module 'iptown_gis.io' has no attribute 'nope'"):
        getattr_("nope")
