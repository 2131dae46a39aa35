"""``iptown``: the main command group, ``run`` and ``info``; stage groups load from modules."""

from __future__ import annotations

import importlib
import logging
import sys
import warnings
from pathlib import Path

import click

from iptown_gis import __version__
from iptown_gis.cli._common import IptownGroup, executor_options, make_executor, output_path, progress_bar

#: Stage command groups: module under ``iptown_gis.cli`` -> attribute holding the group.
GROUP_MODULES = ("network", "surface", "neg", "sites", "zoning", "crs", "report", "engine")


@click.group(cls=IptownGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="iptown")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
def cli(debug: bool, verbose: int, quiet: bool) -> None:
    """Plan IP characteristic towns with New Economic Geography: networks, surfaces, NEG
    simulations, site selection and "one body, two wings" layouts."""
    level = logging.WARNING if quiet else (logging.INFO if verbose < 2 else logging.DEBUG)
    if debug:
        level = logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("iptown_gis").setLevel(level)
    # pyogrio logs "Created N records" at INFO for every write: only with -vv / --debug
    logging.getLogger("pyogrio").setLevel(logging.DEBUG if level <= logging.DEBUG else logging.WARNING)


@cli.command()
@click.argument("scenario", required=False, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), callback=output_path(folder=True),
              help="Output folder.")
@click.option("--stage", "stages", multiple=True, help="Run only this stage (repeatable).")
@click.option("--stop-after", "stop_after", default=None, metavar="STAGE",
              help="Run the stages up to and including STAGE (e.g. sites), not those after it.")
@executor_options
def run(scenario: Path | None, out_dir: Path, stages: tuple[str, ...], stop_after: str | None,
        scheduler: str | None, workers: int | None) -> None:
    """Run every stage of SCENARIO (default: the bundled Anhui study) into --out."""
    with progress_bar("iptown run") as cb:
        # the first progress line comes before the scientific stack loads (pipeline imports geopandas)
        cb(0.0, "reading the scenario")
        from iptown_gis.pipeline import run_scenario, stages_to_run
        from iptown_gis.scenario import load_scenario

        scen = load_scenario(scenario)
        # checked before a cluster starts or --out is made
        stages_to_run(scen, list(stages) or None, require=True, stop_after=stop_after)
        with make_executor(scheduler, workers, parallel=scen.section("parallel")) as ex:
            manifest = run_scenario(scen, out_dir, stages=list(stages) or None, executor=ex, progress=cb,
                                    require_stages=True, stop_after=stop_after)
    click.echo(f"{len(manifest['outputs'])} outputs from stages {', '.join(manifest['stages']) or '(none)'} "
               f"in {manifest['timings_s']['total']:.1f} s; manifest: {Path(out_dir) / 'manifest.json'}")


@cli.command()
@click.argument("scenario", required=False, type=click.Path(path_type=Path))
def info(scenario: Path | None) -> None:
    """Describe SCENARIO (default: the bundled Anhui study): inputs, sections, stages."""
    from iptown_gis.pipeline import available_stages
    from iptown_gis.scenario import load_scenario

    scen = load_scenario(scenario)
    click.echo(f"iptown_gis {__version__}")
    click.echo(f"scenario: {scen.source}  ({scen.study.name})")
    click.echo(f"CRS: {scen.study.crs or 'auto (UTM zone of the data)'}")
    click.echo("inputs:")
    for name, inp in scen.inputs.items():
        lay = f":{inp.layer}" if inp.layer else ""
        where = f"  where {inp.where}" if inp.where else ""
        click.echo(f"  {name:<20} {inp.path}{lay}{where}")
    stages = [n for n, _ in available_stages()]
    click.echo("stages: " + ", ".join(f"{n}{'' if scen.has(n) else ' (not in scenario)'}" for n in stages))


def _load_groups() -> None:
    for mod_name in GROUP_MODULES:
        try:
            mod = importlib.import_module(f"iptown_gis.cli.{mod_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"iptown_gis.cli.{mod_name}":
                continue
            raise
        cli.add_command(mod.group)


_load_groups()


def main() -> None:
    """Console-script entry point."""
    # Debian's python3-matplotlib (pulled in by QGIS) ships an mpl_toolkits that a pip
    # matplotlib cannot use; only 3-D plots are affected and iptown makes none.
    warnings.filterwarnings("ignore", message="Unable to import Axes3D", category=UserWarning)
    cli(prog_name="iptown")
