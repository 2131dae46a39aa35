# iptown_gis: the two commands that matter are `make demo` and `make test`.
# Both set up everything they need on a fresh Debian/Ubuntu machine (apt + a venv).

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
OUT ?= out
export QT_QPA_PLATFORM ?= offscreen
export PIP_DISABLE_PIP_VERSION_CHECK = 1
export MPLBACKEND = Agg

# Debian packages: QGIS 3.22 for the plugin tests (qgis: the qgis_process CLI), Chromium for the report test,
# PostgreSQL + PostGIS for the database tests; fonts-noto-cjk ("Noto Sans CJK SC") draws the Chinese names
# on maps, in the report and in QGIS (iptown_gis/io/fonts.py).
APT_RUNTIME := python3-venv python3-qgis qgis-providers fonts-noto-cjk
APT_TEST := $(APT_RUNTIME) qgis chromium chromium-driver postgresql postgresql-15-postgis-3 xvfb

.PHONY: help setup setup-test apt-runtime apt-test demo test test-core test-qgis lint typecheck \
        plugin plugin-install bench bench-quick bench-all sample-data clean

help:
	@echo "make demo   - set up, then run the whole study on the bundled Anhui sample into $(OUT)/"
	@echo "make test   - set up (apt + venv), then ruff, mypy and the whole test suite incl. QGIS"
	@echo "make plugin - build the QGIS plugin zip into dist/"
	@echo "make plugin-install - build it and install it into QGIS_PROFILE (default: your default profile)"
	@echo "make bench  - measure every performance target (PASS/FAIL) and write README's table"
	@echo "make bench-quick - the same, one run per cold case (a few minutes)"
	@echo "make bench-all   - every benchmarks/bench_*.py"

apt-runtime:
	@missing=""; for p in $(APT_RUNTIME); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "apt-get install:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; fi

apt-test:
	@missing=""; for p in $(APT_TEST); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "apt-get install:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; fi

# The venv sees Debian's PyQGIS (system site packages) and pip's scientific stack. The stack QGIS pulls in
# from Debian (scipy 1.10, matplotlib 3.6, ...) is installed into the venv first, so that pip never
# resolves against Debian's half of it (no "scipy 1.10 requires numpy<1.27" conflict); Debian's
# mpl_toolkits is a regular package that would shadow the venv's namespace one (mplot3d of the wrong
# matplotlib), so the venv's gets an __init__.py.
# setuptools ends every editable install with an "Editable installation." notice (InformationOnly: folders named
# like the package in the working directory take precedence on import); the install is quiet without it.
EDITABLE := PYTHONWARNINGS="ignore:Editable installation" $(PIP) install -q -e
VENV_STACK := "numpy>=1.24" "scipy>=1.11" "matplotlib>=3.8" "attrs>=23" "pyproj>=3.6" "shapely>=2.0" \
              "pandas>=2.0"
$(VENV)/.stamp-base: setup.cfg pyproject.toml
	@[ -x $(PY) ] || /usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q --upgrade --ignore-installed $(VENV_STACK)
	@mt=$$($(PY) -c "import matplotlib, pathlib; print(pathlib.Path(matplotlib.__file__).parent.parent / 'mpl_toolkits')"); \
	  [ ! -d "$$mt" ] || [ -f "$$mt/__init__.py" ] || touch "$$mt/__init__.py"
	@# Debian's matplotlib-*-nspkg.pth (system site packages) would bind mpl_toolkits to Debian's copy
	@# ("Unable to import Axes3D"): import the venv's first; the nspkg line then only appends its path
	@sp=$$($(PY) -c "import sysconfig; print(sysconfig.get_paths()['purelib'])"); \
	  printf '%s\n' 'import sys; exec("try:\n import mpl_toolkits\nexcept Exception:\n pass")' > "$$sp/00-iptown-mpl-toolkits.pth"
	$(EDITABLE) .
	@touch $@

$(VENV)/.stamp-dev: $(VENV)/.stamp-base
	$(EDITABLE) ".[dev]"
	@touch $@

setup: apt-runtime $(VENV)/.stamp-base

setup-test: apt-test $(VENV)/.stamp-dev

demo: setup
	$(VENV)/bin/iptown run --out $(OUT)

lint: $(VENV)/.stamp-dev
	$(VENV)/bin/ruff check iptown_gis qgis_plugin tests benchmarks scripts

typecheck: $(VENV)/.stamp-dev
	$(VENV)/bin/mypy

test-core: setup-test
	$(PY) -m pytest tests --ignore=tests/qgis -q -p no:cacheprovider

test-qgis: setup-test
	$(PY) -m pytest tests/qgis -q -p no:cacheprovider

test: setup-test lint typecheck test-core test-qgis

plugin: $(VENV)/.stamp-base
	$(PY) scripts/build_plugin.py --out dist

# The zip installed into your QGIS profile (the engine is this checkout's .venv/bin/iptown).
QGIS_PROFILE ?= $(HOME)/.local/share/QGIS/QGIS3/profiles/default
plugin-install: $(VENV)/.stamp-base
	$(PY) scripts/build_plugin.py --out dist --install "$(QGIS_PROFILE)"

# Exit status non-zero only when a measurement fails, not when a target is missed.
bench: setup-test
	$(PY) benchmarks/targets.py --json $(OUT)/bench.json --readme README.md

bench-quick: setup-test
	$(PY) benchmarks/targets.py --quick --json $(OUT)/bench-quick.json

bench-all: setup-test
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

sample-data: $(VENV)/.stamp-base
	$(PY) scripts/build_sample_data.py

clean:
	rm -rf build dist out .pytest_cache .mypy_cache .ruff_cache
