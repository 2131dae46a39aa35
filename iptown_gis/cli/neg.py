"""``iptown neg``: core-periphery (NEG) model: break points, stability, scenarios, diagrams."""

from __future__ import annotations

from pathlib import Path

import click

from iptown_gis.cli._common import echo_json, executor_options, make_executor, progress_bar


@click.group(name="neg")
def group() -> None:
    """New Economic Geography: the Fujita-Krugman-Venables core-periphery model.

    Racetrack commands use R regions on a ring with T = exp(tau * d), d = steps on the
    shorter arc (neighbour distance 1); the dynamics are d lam/dt = (omega - omega_bar) lam.
    """


def _params(func):  # type: ignore[no-untyped-def]
    func = click.option("--mu", type=float, default=0.4, show_default=True,
                        help="Expenditure share on manufactures, in (0, 1).")(func)
    func = click.option("--sigma", type=float, default=5.0, show_default=True,
                        help="Elasticity of substitution, > 1.")(func)
    return func


@group.command()
@_params
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def breakpoints(sigma: float, mu: float, as_json: bool) -> None:
    """Two-region break and sustain trade costs T_B, T_S (found numerically)."""
    from iptown_gis.neg import break_point, sustain_point

    out = {"break_T": break_point(sigma, mu), "sustain_T": sustain_point(sigma, mu)}
    if as_json:
        echo_json(out)
    else:
        click.echo(f"break point T_B = {out['break_T']:.6f}, sustain point T_S = {out['sustain_T']:.6f}")


@group.command()
@click.option("--ring", "ring", type=int, required=True, help="Number of regions R on the ring (>= 2).")
@_params
@click.option("--tau", type=float, required=True, help="Trade-cost rate: T = exp(tau * ring steps).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stability(ring: int, sigma: float, mu: float, tau: float, as_json: bool) -> None:
    """Stability of the uniform distribution on the racetrack (largest eigenvalue on the simplex)."""
    from iptown_gis.neg import racetrack_max_eigenvalue
    from iptown_gis.neg.stability import STABLE_TOL

    ev = racetrack_max_eigenvalue(ring, tau=tau, sigma=sigma, mu=mu)
    out = {"max_eigenvalue": ev, "stable": bool(ev < STABLE_TOL)}
    if as_json:
        echo_json(out)
    else:
        click.echo(f"max eigenvalue {ev:.6g}: uniform distribution is {'stable' if out['stable'] else 'unstable'}")


@group.command(name="break-tau")
@click.option("--ring", "ring", type=int, required=True, help="Number of regions R on the ring (>= 2).")
@_params
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def break_tau(ring: int, sigma: float, mu: float, as_json: bool) -> None:
    """The tau above which the uniform distribution on the ring is stable."""
    from iptown_gis.neg import racetrack_break_tau

    out = {"break_tau": racetrack_break_tau(ring, sigma=sigma, mu=mu)}
    if as_json:
        echo_json(out)
    else:
        click.echo(f"break tau = {out['break_tau']:.6f}")


@group.command()
@click.argument("scenario", required=False, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output folder.")
@executor_options
def simulate(scenario: Path | None, out_dir: Path, scheduler: str | None, workers: int | None) -> None:
    """Run the [neg] scenarios of SCENARIO (default: the bundled Anhui study) into --out."""
    from iptown_gis.pipeline import run_scenario
    from iptown_gis.scenario import load_scenario

    scen = load_scenario(scenario)
    if not scen.has("neg"):
        from iptown_gis.errors import ScenarioError

        raise ScenarioError(f"{scen.source.name} has no [neg] section")
    stages = ["network", "neg"] if scen.has("network") else ["neg"]
    with make_executor(scheduler, workers, parallel=scen.section("parallel")) as ex, \
            progress_bar("iptown neg simulate") as cb:
        # --out DIR means DIR: the neg files go there (the network stage's to DIR/network/)
        manifest = run_scenario(scen, out_dir, stages=stages, executor=ex, progress=cb,
                                stage_dirs={"neg": out_dir})
    for o in manifest["outputs"]:
        if o["stage"] == "neg":
            click.echo(str(Path(out_dir) / o["path"]))


@group.command()
@_params
@click.option("--ring", "ring", type=int, default=None, help="Racetrack bifurcation with R regions.")
@click.option("--tau-min", type=float, default=0.05, show_default=True)
@click.option("--tau-max", type=float, default=2.0, show_default=True)
@click.option("--steps", type=click.IntRange(min=2), default=25, show_default=True)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output folder.")
@executor_options
def diagram(sigma: float, mu: float, ring: int | None, tau_min: float, tau_max: float, steps: int,
            out_dir: Path, scheduler: str | None, workers: int | None) -> None:
    """Tomahawk (two regions, over T) or, with --ring, a bifurcation over tau: CSV + PNG."""
    import numpy as np

    from iptown_gis.io.atomic import ensure_writable_dir
    from iptown_gis.neg.breakpoints import ring_distance
    from iptown_gis.neg.diagrams import tomahawk, write_diagram
    from iptown_gis.neg.sweeps import neg_bifurcation

    out = ensure_writable_dir(out_dir)
    with make_executor(scheduler, workers) as ex, progress_bar("iptown neg diagram") as cb:
        if ring is None:
            paths = write_diagram(tomahawk(sigma, mu, progress=cb), out, "tomahawk", kind="tomahawk")
        else:  # one Dask task per tau with --workers/--scheduler
            df = neg_bifurcation(ring_distance(ring), np.geomspace(tau_min, tau_max, steps), sigma=sigma, mu=mu,
                                 executor=ex, progress=cb)
            paths = write_diagram(df, out, f"bifurcation_ring{ring}", kind="bifurcation")
    for p in paths:
        click.echo(str(p))
