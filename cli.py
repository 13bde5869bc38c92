"""The ``misgen`` command line: a thin typer layer over envs/, agents/, analysis/ and misgen/.

Every command turns a user-facing problem (``MisgenError``, a malformed procgen state, a bad option) into one
line on stderr and exit code 2; nothing already written is overwritten unless the command says so.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import typer
from rich.console import Console

from analysis.demo import DEMO, SHIPPED_AGENT, SHIPPED_SVD
from misgen.errors import MisgenError, RecordingWriteError


app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Study goal misgeneralization: train, record, decompose, ablate, evaluate, replay.")
envs_app = typer.Typer(add_completion=False, invoke_without_command=True,
                       help="List the variants; `misgen envs sample VARIANT` shows their levels.")
app.add_typer(envs_app, name="envs")
console = Console(stderr=True)


@contextmanager
def user_errors() -> Iterator[None]:
    """Report user-facing errors in one line with exit code 2, never a traceback."""
    from envs.state_codec import StateFormatError

    try:
        yield
    except RecordingWriteError as error:  # HDF5 may crash tearing the damaged file down: leave at once
        typer.echo(f"misgen: error: {error}", err=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(2)
    except (MisgenError, StateFormatError, ValueError) as error:
        typer.echo(f"misgen: error: {error}", err=True)
        raise typer.Exit(2)
    except OSError as error:  # a full disk, a vanished file: the system's words, on one line
        where = f"{error.filename}: " if error.filename else ""
        typer.echo(f"misgen: error: {where}{error.strerror or error}", err=True)
        raise typer.Exit(2)


@envs_app.callback()
def envs(ctx: typer.Context) -> None:
    """List the variants, one line each."""
    if ctx.invoked_subcommand is not None:
        return
    from envs.variants import VARIANTS

    for variant in VARIANTS.values():
        typer.echo(f"{variant.name:<18} {variant.game:<8} {variant.description}")


@envs_app.command("sample")
def envs_sample(
    variant: str = typer.Argument(..., help="variant name (see `misgen envs`)"),
    levels: int = typer.Option(10, "--levels", min=1, help="number of levels, seeds start-level, start-level+1, ..."),
    start_level: int = typer.Option(0, "--start-level", min=0, help="first level seed"),
    mode: str = typer.Option("easy", "--mode", help="distribution mode: easy | hard"),
    region: int = typer.Option(5, "--region", min=1, help="maze variants: side of the top-right region"),
    max_maze_size: int = typer.Option(0, "--max-maze-size", min=0, help="maze variants: only mazes of at most this "
                                      "size (0: no upper bound); a seed outside the sizes names a stand-in "
                                      "(envs/levels.py)"),
    min_maze_size: int = typer.Option(0, "--min-maze-size", min=0, help="maze variants: only mazes of at least "
                                      "this size (0: no lower bound); as --max-maze-size"),
    as_json: bool = typer.Option(False, "--json", help="print JSON lines"),
) -> None:
    """Per level: level seed, size (maze_dim or level width), agent start cell, goal cell."""
    with user_errors():
        from envs.levels import sample_levels
        from envs.variants import MAX_SEED, EnvConfig

        if start_level + levels - 1 > MAX_SEED:
            raise MisgenError(f"level seeds {start_level}..{start_level + levels - 1} leave procgen's 0..{MAX_SEED}")
        config = EnvConfig(variant=variant, distribution_mode=mode, region=region, max_maze_size=max_maze_size,
                           min_maze_size=min_maze_size)
        summaries = sample_levels(config, list(range(start_level, start_level + levels)))
    if as_json:
        for summary in summaries:
            typer.echo(json.dumps(summary.as_dict()))
        return
    coords = "maze cells" if config.game == "maze" else "world cells"
    typer.echo(f"{'level_seed':>10}  {'size':>4}  {'agent':>8}  {'goal':>8}   ({coords}, x right, y up)")
    for s in summaries:
        typer.echo(f"{s.level_seed:>10}  {s.size:>4}  {str(s.agent):>8}  {str(s.goal):>8}")


@app.command()
def train(
    variant: str = typer.Argument(..., help="variant to train on (see `misgen envs`)"),
    out: Optional[Path] = typer.Option(None, "--out", help="run directory, e.g. runs/NAME (must be new unless "
                                       "--resume); required"),
    timesteps: Optional[int] = typer.Option(None, "--timesteps", min=1, help="environment steps in total "
                                            "(default: the preset's, or the run's own with --resume)"),
    preset: str = typer.Option("procgen", "--preset", help="hyperparameter preset: procgen | cpu | quick, as it "
                                 "applies to the variant's game (agents/presets.py)"),
    n_envs: Optional[int] = typer.Option(None, "--n-envs", min=1, help="parallel environments (preset's if unset)"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    seed: int = typer.Option(0, "--seed", help="seed of the learner and of procgen's level draws"),
    record: Optional[str] = typer.Option(None, "--record", help="grads,updates | grads | updates | none "
                                         "(default: the preset's)"),
    record_every: Optional[int] = typer.Option(None, "--record-every", help="record every K-th optimizer step "
                                               "(default: the preset's)"),
    record_dtype: str = typer.Option("float16", "--record-dtype", help="float16 | bfloat16 | float32"),
    record_split: str = typer.Option("", "--record-split", help="also record the gradient part by part: region | "
                                     "goal-near (maze), coin-side (coinrun); envs/splits.py"),
    checkpoint_every: Optional[int] = typer.Option(None, "--checkpoint-every", min=0, help="env steps between "
                                                   "checkpoints (0: start and end only; default: 0, or the "
                                                   "run's own with --resume)"),
    resume: bool = typer.Option(False, "--resume", help="continue the run in --out from its last checkpoint"),
    mode: str = typer.Option("easy", "--mode", help="distribution mode: easy | hard"),
    num_levels: int = typer.Option(0, "--num-levels", min=0, help="distinct training levels (0: unlimited)"),
    start_level: int = typer.Option(0, "--start-level", min=0, help="first level seed"),
    region: Optional[int] = typer.Option(None, "--region", min=1, help="maze variants: side of the top-right "
                                         "region (default: the preset's)"),
    max_maze_size: Optional[int] = typer.Option(None, "--max-maze-size", min=0, help="maze variants: only mazes "
                                                "of at most this size (0: no upper bound; default: the preset's)"),
    min_maze_size: Optional[int] = typer.Option(None, "--min-maze-size", min=0, help="maze variants: only mazes "
                                                "of at least this size (0: no lower bound; default: the preset's)"),
    backgrounds: Optional[bool] = typer.Option(None, "--backgrounds/--no-backgrounds", help="procgen's background "
                                               "images behind the level, or black (default: the preset's); "
                                               "evaluation plays the test variant the same way"),
    hp: list[str] = typer.Option([], "--hp", help="override a hyperparameter: NAME=VALUE (repeatable); "
                                 "--hp help lists them with their meanings"),
    ignore_disk_space: bool = typer.Option(False, "--ignore-disk-space", help="start even when the projected "
                                           "recording exceeds the free space"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show the progress bar"),
) -> None:
    """Train a PPO agent and record its gradient time series into runs/NAME/."""
    with user_errors():
        from agents.presets import PRESETS
        from agents.train import parse_streams
        from agents.train import train as run_training
        from envs.variants import VARIANTS

        if preset not in PRESETS:
            raise MisgenError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
        if variant not in VARIANTS:
            raise MisgenError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
        chosen = PRESETS[preset].for_game(VARIANTS[variant].game)
        if "help" in hp:
            _print_hyperparameters(chosen.ppo, f"{preset} preset's values for {VARIANTS[variant].game}")
            return
        if out is None:
            raise MisgenError("--out is required: the run directory, e.g. runs/NAME")
        overrides = dict(_split_assignment(item) for item in hp)
        if n_envs is not None:
            overrides["n_envs"] = str(n_envs)
        ppo_config = chosen.ppo.with_overrides(overrides)
        given = {"distribution_mode": mode, "num_levels": num_levels, "start_level": start_level, "region": region,
                 "max_maze_size": max_maze_size, "min_maze_size": min_maze_size, "use_backgrounds": backgrounds}
        env_config = chosen.env_config(variant, seed, **{k: v for k, v in given.items() if v is not None})
        if timesteps is None and not resume:  # a resumed run keeps its own length unless told otherwise
            timesteps = chosen.run.timesteps
        given = {"streams": parse_streams(record) if record is not None else None, "every": record_every,
                 "dtype": record_dtype, "split": record_split}
        record_config = chosen.record_config(**{k: v for k, v in given.items() if v is not None})
        result = run_training(out, env_config, ppo_config, record_config, timesteps, device=device, seed=seed,
                              checkpoint_every=checkpoint_every, resume=resume, show_progress=progress,
                              check_disk=not ignore_disk_space)
    state = "finished" if result.complete else "stopped early; continue with --resume"
    typer.echo(f"{state}: {result.timesteps} env steps, {result.optimizer_steps} optimizer steps; last 100 "
               f"episodes: return {result.mean_return:.2f}, goal {result.goal_rate:.0%}, proxy "
               f"{result.proxy_rate:.0%}; wrote {result.run.path}")


def _print_hyperparameters(config, whose: str) -> None:
    from dataclasses import fields

    from agents.presets import MEANINGS

    typer.echo(f"hyperparameters (--hp NAME=VALUE), with the {whose}:")
    for field in fields(config):
        typer.echo(f"  {field.name:<20} {str(getattr(config, field.name)):<10} {MEANINGS[field.name]}")


def _refuse_overwrite(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise MisgenError(f"{path} exists; pass --force to replace it or --out to write elsewhere")


def _refuse_inputs(output: Path, inputs: list[Path | None]) -> None:
    """An output never replaces what the command reads, --force or not: refuse an output path that resolves
    (symlinks and '..' included) to an input or is the same file (a hard link), or a directory output (which
    --force may replace whole) that holds one."""
    target = output.resolve()
    for given in inputs:
        if given is None or not given.exists():
            continue
        read = given.resolve()
        if read == target or target in read.parents or (output.exists() and os.path.samefile(output, given)):
            raise MisgenError(f"{output} would replace {given}, which this command reads: write the output "
                              "elsewhere (--force replaces earlier outputs, never inputs)")


def _report_name(name: str) -> str:
    """A report's directory name: one plain path component, so --force can only ever replace that report."""
    if not name or name in (".", "..") or any(sep in name for sep in ("/", "\\", os.sep)) or name.startswith("~"):
        raise MisgenError(f"--name must be a plain report name (no path separators, not '.' or '..'), not {name!r}")
    return name


def _refuse_report_dir(path: Path, force: bool) -> None:
    """An ablation report's directory may be replaced (with --force) only when it is an earlier report."""
    if not path.exists():
        return
    if not force:
        raise MisgenError(f"{path} exists; pass --force to replace it, or --name / --out to write elsewhere")
    if not (path.is_dir() and (path / "ablation.json").is_file() and (path / "report.md").is_file()):
        raise MisgenError(f"{path} is not an earlier ablation report (ablation.json and report.md); --force "
                          "replaces only those")


MAX_STRENGTH = 3.0  # --strength: beyond 3x the learned change a policy is far from anything trained


def _strengths(text: str) -> tuple[float, ...]:
    """--strength: sorted strengths in 0..MAX_STRENGTH, with 1 (the ablation itself) added if missing."""
    try:
        values = {float(v) for v in text.split(",") if v.strip()}
    except ValueError:
        raise MisgenError(f"--strength takes comma-separated numbers, e.g. 0,0.5,1,1.5, not {text!r}") from None
    if not values or any(not 0 <= v <= MAX_STRENGTH for v in values):
        raise MisgenError(f"--strength values must lie in 0..{MAX_STRENGTH:g}, not {text!r}")
    return tuple(sorted(values | {1.0}))


def _ints(text: str, option: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise MisgenError(f"{option} takes comma-separated integers, not {text!r}") from None


@app.command()
def svd(
    run: Path = typer.Argument(..., help="run directory or recording.h5"),
    stream: str = typer.Option("updates", "--stream", help="grads | updates | grads_split/PART (a split "
                               "recording's part)"),
    center: bool = typer.Option(True, "--center/--no-center", help="subtract each parameter's mean over time"),
    steps: str = typer.Option("all", "--steps", help="all | even:N | random:N | range:A:B (optimizer steps)"),
    k: int = typer.Option(50, "--k", min=1, help="components to keep (at most the rows decomposed)"),
    method: str = typer.Option("auto", "--method", help="auto | gram | randomized | dask"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="dask.distributed scheduler address"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    shuffles: int = typer.Option(3, "--shuffles", min=0, help="surrogate copies in time for the null band"),
    null: str = typer.Option("shuffle", "--null", help="the copies: shuffle (each parameter's series permuted) | "
                             "roll (each shifted circularly: keeps its autocorrelation, the stricter null)"),
    reconstruct: str = typer.Option("1,5,20", "--reconstruct", help="ranks for the low-rank reconstruction check "
                                    "(uncentred updates, all steps, of a run directory); 'none' skips it"),
    episodes: int = typer.Option(50, "--episodes", min=1, help="episodes per reconstructed policy"),
    out: Optional[Path] = typer.Option(None, "--out", help="svd file (default RUN/svd.h5)"),
    force: bool = typer.Option(False, "--force", help="replace an existing svd file"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
) -> None:
    """Decompose a recorded stream: spectrum against nulls, time profiles, loadings; writes svd.h5 + report."""
    with user_errors():
        from misgen.recording import Recording
        from misgen.svd_file import report_directory

        if stream not in ("grads", "updates") and not stream.startswith("grads_split/"):
            raise MisgenError(f"--stream must be grads, updates or grads_split/PART, not {stream!r}")
        out = out or (run / "svd.h5" if run.is_dir() else run.with_suffix(".svd.h5"))
        if out.suffix != ".h5":
            raise MisgenError(f"--out must name an .h5 file, not {out.name}")
        _refuse_overwrite(out, force)
        _refuse_overwrite(report_directory(out), force)
        ranks = [] if reconstruct == "none" else _ints(reconstruct, "--reconstruct")
        if any(rank < 1 for rank in ranks) or (reconstruct != "none" and not ranks):
            raise MisgenError(f"--reconstruct takes ranks >= 1 (comma-separated) or 'none', not {reconstruct!r}")
        source = run / "recording.h5" if run.is_dir() else run
        for output in (out, report_directory(out)):
            _refuse_inputs(output, [source, run / "config.json" if run.is_dir() else None,
                                    run / "model.zip" if run.is_dir() else None])
        with Recording(run) as recording:  # validated before torch is imported: a bad file fails in a second
            recording.dataset(stream)
            from analysis.decompose import SVDOptions, reconstructible, reconstruction_check, run_svd
            from analysis.svd_report import save_with_report

            result, _ = run_svd(recording, SVDOptions(stream, center, steps, k, method, scheduler, device, shuffles,
                                                      surrogate=null))

            note = ""
            if ranks and run.is_dir() and reconstructible(result, recording):
                result.attrs["reconstruction"] = reconstruction_check(run, recording, result, ranks, episodes)
            elif ranks and recording.variant == "pytorch":
                note = (" (reconstruction check skipped: it plays the policies of a PPO run, and this recording is "
                        "of another training loop; scripts/seed_questions.py shows how to score its own)")
            elif ranks:
                note = " (reconstruction check skipped: it needs --no-center on the updates of every step of a run)"
        summary, report = save_with_report(result, out)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=float))
        return
    nulls = summary["nulls"]
    typer.echo(f"svd of {stream} ({'centred' if center else 'uncentred'}): {summary['steps_used']} steps x "
               f"{summary['n_params']} parameters, method {summary['method']}, {summary['k']} components")
    typer.echo(f"above time-{nulls['surrogate']} null: {nulls['n_above_shuffle']}   above "
               f"Marchenko-Pastur edge: "
               f"{nulls['n_above_mp']}   above 5/10/15 % of largest: {nulls['n_above_5pct']}/"
               f"{nulls['n_above_10pct']}/{nulls['n_above_15pct']}   effective rank {nulls['effective_rank']:.1f}")
    typer.echo(f"{'#':>3} {'singular':>10} {'time':>13} {'centre (env steps)':>19}  top layer (enrichment)")
    for c in summary["components"]:
        typer.echo(f"{c['index']:>3} {c['singular_value']:>10.4g} {c['label']:>6} ({c['position']:.2f}) "
                   f"{c['time_center_timesteps']:>19.0f}  {c['top_layers'][0]['name']} "
                   f"(x{c['top_layers'][0]['enrichment']})")
    for r in result.attrs.get("reconstruction", []):
        test = r.get("test")
        off_path = (f"; {test['variant']} off the path: goal {test['goal_off_path']['mean']:.0%}, region without it "
                    f"{test['proxy_only_off_path']['mean']:.0%}" if test and test["goal_off_path"]["mean"] is not None
                    else "")
        typer.echo(f"rank {r['rank']!s:>5}: return {r['return']['mean']:.2f}, goal {r['goal_rate']['mean']:.0%}, "
                   f"distance to final {r['distance_to_final']:.3f}{off_path}")
    typer.echo(f"wrote {out} and {report}{note}")


def _variant_config(source: Path, model, variant: Optional[str], mode: Optional[str], region: Optional[int],
                    max_maze_size: Optional[int], min_maze_size: Optional[int]):
    """The environment to evaluate on: the one the policy was trained on (a run's config.json, or the env config
    a model zip carries), changed by the options given."""
    from dataclasses import asdict

    from envs.variants import EnvConfig
    from misgen.rundir import RunDir
    from misgen.schema import dataclass_from_json

    if source.is_dir():
        base, where = RunDir(source).read_config()["env"], f"{RunDir(source).config_file}: env"
    else:
        base, where = getattr(model, "misgen_env_config", None), f"{source}: misgen_env_config"
    if base is None and variant is None:
        raise MisgenError(f"--variant is needed: {source} carries no training environment")
    trained_on = dataclass_from_json(EnvConfig, base, where) if base is not None else None
    settings = asdict(trained_on) if trained_on else {}
    if variant is not None and trained_on is not None and EnvConfig(variant=variant).game != trained_on.game:
        settings = {}  # another game: none of the training distribution's settings carry over
    settings.update({k: v for k, v in (("variant", variant), ("distribution_mode", mode), ("region", region),
                                       ("max_maze_size", max_maze_size), ("min_maze_size", min_maze_size))
                      if v is not None})
    settings.update({"num_levels": 0, "start_level": 0})  # evaluation draws its own level seeds
    return EnvConfig(**settings)


def _interval(value: dict) -> str:
    return "-" if value["mean"] is None else f"{value['mean']:.3f} ({value['low']:.3f}-{value['high']:.3f})"


SPLIT_METRICS = ("goal_reached", "proxy_reached", "proxy_only")  # the misgeneralization measure's columns


@app.command()
def evaluate(
    source: Path = typer.Argument(..., help="run directory, SB3 model zip, or 'random' (uniform actions)"),
    variant: Optional[str] = typer.Option(None, "--variant", help="variant (default: the one trained on)"),
    episodes: int = typer.Option(200, "--episodes", min=1, help="episodes, one per level seed"),
    seed: int = typer.Option(0, "--seed", help="which level seeds (the same seed gives the same levels)"),
    deterministic: bool = typer.Option(True, "--deterministic/--sample", help="argmax or sampled actions"),
    mode: Optional[str] = typer.Option(None, "--mode", help="distribution mode (default: the one trained on)"),
    region: Optional[int] = typer.Option(None, "--region", min=1, help="maze: top-right region size (default: the "
                                         "one trained on)"),
    max_maze_size: Optional[int] = typer.Option(None, "--max-maze-size", min=0, help="maze: largest maze size, 0 "
                                                "for no upper bound (default: the one trained on)"),
    min_maze_size: Optional[int] = typer.Option(None, "--min-maze-size", min=0, help="maze: smallest maze size, 0 "
                                                "for no lower bound (default: the one trained on)"),
    n_envs: int = typer.Option(16, "--n-envs", min=1, help="parallel environments"),
    record_episodes: Optional[Path] = typer.Option(None, "--record-episodes", help="write an episode file"),
    frames: bool = typer.Option(False, "--frames", help="store observations in the episode file"),
    as_json: bool = typer.Option(False, "--json", help="print every episode and the aggregate as JSON"),
) -> None:
    """Roll a policy out on fixed level seeds: return, length, goal and proxy rates with 95 % intervals, overall
    and split by whether the goal lies inside the proxy region (and, in mazes, outside it on or off the shortest path
    from the start to the region: only off it do goal and proxy come apart); on CoinRun also Langosco et al.'s two
    measures, the end reached and the coin missed where it was moved."""
    with user_errors():
        if source.is_dir():  # its config is checked before torch is imported: a bad one fails in a second
            from misgen.rundir import RunDir

            RunDir(source).read_config()
        from analysis.evaluation import RANDOM, level_seeds, load_model
        from analysis.evaluation import evaluate as run_evaluation

        model = None if str(source) == RANDOM else load_model(source)
        config = _variant_config(source, model, variant, mode, region, max_maze_size, min_maze_size)
        result = run_evaluation(model.policy if model else None, config, level_seeds(seed, episodes),
                                deterministic, sample_seed=seed, n_envs=n_envs, episodes_path=record_episodes,
                                policy_name=str(source), keep_frames=frames)
    if as_json:
        from dataclasses import asdict

        typer.echo(json.dumps({"env": asdict(config), **result.as_dict()}, indent=2))
        return
    low = config.min_maze_size or 3
    sizes = ("" if not config.restricts_sizes else f", mazes of size {low}" if low == config.max_maze_size
             else f", mazes {low} to {config.max_maze_size}" if config.max_maze_size else f", mazes from {low}")
    proxy = f"the top-right {config.region}x{config.region} region" if config.game == "maze" else "the level's end"
    ablation = getattr(model, "misgen_ablation", None) if model else None
    if ablation:
        typer.echo(f"ablated policy ({ablation['target']}; misgen ablate of {ablation.get('run', '?')})")
    typer.echo(f"{source} on {config.variant} ({config.distribution_mode}{sizes}), {episodes} levels from seed "
               f"{seed}, {'deterministic' if deterministic else 'sampled'} actions; proxy: {proxy}")
    typer.echo(f"  {'metric':<18} {'mean (95 % interval)':<24} levels")
    for metric, value in result.summary().items():
        typer.echo(f"  {metric:<18} {_interval(value):<24} {value['n']}")
    typer.echo(f"split by where the goal is, inside or outside {proxy}"
               + (", and outside on or off the shortest path from the start to it:" if config.game == "maze" else ":"))
    typer.echo(f"  {'goal':<17} {'levels':>6}   " + "   ".join(f"{m:<19}" for m in SPLIT_METRICS))
    rows = result.by_goal_region()
    if config.game == "maze":  # off the path from the start to the region, goal and proxy come apart
        rows |= {f"outside, {path.replace('_', ' ')}": summary for path, summary in result.by_goal_path().items()}
    for where, summary in rows.items():
        typer.echo(f"  {where:<17} {summary['goal_reached']['n']:>6}   "
                   + "   ".join(f"{_interval(summary[m]):<19}" for m in SPLIT_METRICS))
    if config.game == "coinrun":  # Langosco et al.'s two measures; the moved coins are the goal-outside levels
        goal_outside = rows["outside"]["goal_reached"]
        missed = {"mean": None} if goal_outside["mean"] is None else {
            "mean": 1 - goal_outside["mean"], "low": 1 - goal_outside["high"], "high": 1 - goal_outside["low"]}
        typer.echo(f"end reached {_interval(result.summary()['proxy_reached'])}; coin missed where it was moved "
                   f"{_interval(missed)} ({goal_outside['n']} levels)")
    if record_episodes:
        typer.echo(f"wrote {record_episodes}")


@app.command("svd-compact")
def svd_compact(
    run: Path = typer.Argument(..., help="run directory (its recording and model)"),
    svd_path: Optional[Path] = typer.Option(None, "--svd", help="full svd file (default RUN/svd.h5)"),
    out: Path = typer.Option(..., "--out", help="compact svd file to write (.h5), e.g. beside a shipped zip"),
    early: int = typer.Option(1, "--early", min=0, help="the N earliest components above the shuffle null"),
    late: int = typer.Option(1, "--late", min=0, help="the N latest components above the shuffle null"),
    controls: int = typer.Option(10, "--controls", min=0, help="random control directions to store"),
    bulk: int = typer.Option(0, "--bulk", min=0, help="components below the shuffle null to store, for "
                             "ablate --bulk-controls"),
    seed: int = typer.Option(0, "--seed", help="draw of the control directions and bulk components"),
    force: bool = typer.Option(False, "--force", help="replace an existing file"),
) -> None:
    """Keep the components an ablation needs in a small svd file, so that ablate runs from the model zip alone."""
    with user_errors():
        from misgen.rundir import RunDir
        from misgen.svd_file import SVDFile

        if out.suffix != ".h5":
            raise MisgenError(f"--out must end in .h5, not {out.name}")
        _refuse_overwrite(out, force)
        RunDir(run).read_config()
        svd_path = svd_path or run / "svd.h5"
        _refuse_inputs(out, [svd_path, RunDir(run).recording, RunDir(run).model, RunDir(run).config_file])
        svd_file = SVDFile.load(svd_path)
        from analysis import ablation
        from analysis.compact_svd import compact_svd

        agent = ablation.Agent.load(run)
        ablation.check_svd_matches(agent, svd_file, svd_path)
        compact = compact_svd(agent, svd_file, early, late, controls, seed, bulk)
        compact.save(out)
    typer.echo(f"wrote {out}: components {', '.join(map(str, compact.numbers))} of {svd_path} ({bulk} of them below "
               f"the shuffle null, for bulk controls), {controls} control directions, "
               f"{out.stat().st_size / 1e6:.1f} MB")


@app.command()
def ablate(
    run: Path = typer.Argument(..., help="run directory, or a model zip (with a compact --svd and --out)"),
    svd_path: Optional[Path] = typer.Option(None, "--svd", help="svd file for component targets (default RUN/svd.h5)"),
    components: Optional[str] = typer.Option(None, "--components", help="component numbers, e.g. 0,3,7"),
    early: int = typer.Option(0, "--early", min=0, help="the N earliest components above the shuffle null"),
    late: int = typer.Option(0, "--late", min=0, help="the N latest components above the shuffle null"),
    group: Optional[str] = typer.Option(None, "--group", help="parameter group NAME[:channels]"),
    channels: Optional[str] = typer.Option(None, "--channels", help="activation channels LAYER:c1,c2"),
    mode: str = typer.Option("zero", "--mode", help="groups: zero | mean | init; channels: zero | mean"),
    controls: int = typer.Option(10, "--controls", min=0, help="random controls of the same size"),
    bulk_controls: int = typer.Option(0, "--bulk-controls", min=0, help="component targets: controls that remove "
                                      "as many components below the shuffle null, rescaled to the same norm"),
    variants: str = typer.Option("train,test", "--variants", help="train,test or variant names"),
    episodes: int = typer.Option(200, "--episodes", min=1, help="episodes per policy and variant"),
    seed: int = typer.Option(0, "--seed", help="level seeds and control draws"),
    n_envs: int = typer.Option(16, "--n-envs", min=1, help="parallel environments"),
    deterministic: bool = typer.Option(True, "--deterministic/--sample", help="argmax or sampled actions"),
    strength: str = typer.Option("1", "--strength", help="dose-response: strengths a1,a2,... (0..3), each "
                                 "removing a times the change; 1 is always measured"),
    name: Optional[str] = typer.Option(None, "--name", help="report name (default from the target)"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="report directory (default RUN/ablations/NAME; "
                                           "needed for a model zip)"),
    force: bool = typer.Option(False, "--force", help="replace an existing report of the same name"),
) -> None:
    """Ablate SVD components, a parameter group or activation channels; measure goal vs proxy against controls."""
    with user_errors():
        import shutil

        from misgen.rundir import RunDir
        from misgen.svd_file import SVDFile

        if name is not None:
            _report_name(name)
            if out_dir is not None:
                raise MisgenError("give --name (a report under RUN/ablations/) or --out (a directory), not both")
        strengths = _strengths(strength)
        if out_dir is not None:
            _refuse_report_dir(out_dir, force)
        chosen = [bool(components) or bool(early) or bool(late), group is not None, channels is not None]
        if sum(chosen) != 1 or sum(bool(x) for x in (components, early, late)) > 1:
            raise MisgenError("give exactly one target: --components, --early, --late, --group or --channels")
        if bulk_controls and not chosen[0]:
            raise MisgenError("--bulk-controls are components below the shuffle null: they control component "
                              "targets (--components, --early, --late) only")
        if run.is_file():
            if out_dir is None:
                raise MisgenError(f"{run} is a model zip: give --out DIR for the report (nothing is written beside "
                                  "the zip)")
            if chosen[0] and svd_path is None:
                raise MisgenError(f"{run} is a model zip: give --svd with a compact svd file made for it")
        else:
            RunDir(run).read_config()  # validated before torch is imported: a bad file fails in a second
        if chosen[0]:
            svd_path = svd_path or run / "svd.h5"
            svd_file = SVDFile.load(svd_path)
        from analysis import ablation

        agent = ablation.Agent.load(run)
        chosen_variants = ablation.test_variants(agent, variants)
        if chosen[0]:
            ablation.check_svd_matches(agent, svd_file, svd_path)
            picked = ablation.select_components(svd_file, _ints(components, "--components") if components else None,
                                                early, late)
            target, control_list = ablation.component_ablations(agent, svd_file, picked, controls, seed,
                                                                bulk_controls)
            default_name = ("early" if early else "late" if late else "components") + "_" + "-".join(map(str, picked))
        elif group is not None:
            target, control_list = ablation.group_ablations(agent, group, mode, controls, seed)
            default_name = f"group_{group.replace(':', '_').replace(',', '-')}_{mode}"
        else:
            target, control_list = ablation.channel_ablations(agent, channels, mode, controls, seed)
            default_name = f"channels_{channels.replace(':', '_').replace(',', '-')}_{mode}"
        out = out_dir if out_dir is not None else run / "ablations" / _report_name(name or default_name)
        _refuse_report_dir(out, force)
        _refuse_inputs(out, [run, svd_path])
        if out.exists():
            shutil.rmtree(out)
        with console.status("evaluating") as status:
            results, report = ablation.run_ablation(agent, target, control_list, chosen_variants, episodes,
                                                    seed, out, n_envs, deterministic,
                                                    progress=lambda text: status.update(f"evaluating {text}"),
                                                    strengths=strengths)
    for variant, metrics in results["variants"].items():
        for metric in ("goal_reached", "proxy_reached"):
            m = metrics[metric]
            band, bulk = m["controls"]["band"], m["bulk_controls"]["band"]
            typer.echo(f"{variant:<18} {metric:<14} original {m['original']['mean']:.3f}  ablated "
                       f"{m['ablated']['mean']:.3f}  diff {m['ablated_minus_original']['mean']:+.3f}"
                       + (f"  controls {band[0]:.3f}-{band[1]:.3f}" if band else "")
                       + (f"  bulk {bulk[0]:.3f}-{bulk[1]:.3f}" if bulk else ""))
    typer.echo(f"wrote {report}")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def sweep(
    ctx: typer.Context,
    variant: Optional[str] = typer.Argument(None, help="variant to train on (not needed with --report)"),
    seeds: str = typer.Option("0-4", "--seeds", help="seeds and ranges, e.g. 0-9 or 0,2,5-7"),
    out: Path = typer.Option(..., "--out", help="sweep directory: one run per seed in OUT/seed-K/"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="address of a running dask scheduler "
                                            "(default: a local cluster on this machine)"),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="local cluster: seeds at a time "
                                          "(default: one per two cores)"),
    episodes: int = typer.Option(1000, "--episodes", min=1, help="evaluation levels per variant and seed"),
    eval_seed: int = typer.Option(0, "--eval-seed", help="level seeds of the evaluations (misgen evaluate --seed)"),
    report: bool = typer.Option(False, "--report", help="only rebuild sweep.json and report.md from what is on "
                                "disk"),
) -> None:
    """Many seeds of one misgen train command on dask, each evaluated on both distributions; one table across
    seeds. Other options (--preset, --timesteps, --hp, ...) go to misgen train."""
    with user_errors():
        from analysis import sweep as sweeps

        if report:
            if not out.is_dir():
                raise MisgenError(f"{out}: no sweep directory")
            found = sweeps.build_report(out)
            typer.echo(f"rebuilt {out / 'sweep.json'} and {out / 'report.md'} from {len(found['seeds'])} seeds")
            return
        from envs.variants import TEST_VARIANT, VARIANTS

        if variant not in VARIANTS:
            raise MisgenError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
        forbidden = [a for a in ctx.args if a.split("=")[0] in ("--seed", "--out", "--resume")]
        if forbidden:
            raise MisgenError(f"{forbidden[0]} is the sweep's to set, once per seed")
        chosen = sweeps.parse_seeds(seeds)
        if out.exists() and not out.is_dir():
            raise MisgenError(f"--out {out} is a file, not a sweep directory")
        test_variant = TEST_VARIANT.get(variant, variant)
        done = {"done": 0, "trained": 0, "failed": 0}
        statuses = {}

        def on_result(found: dict) -> None:
            statuses[found["seed"]] = found
            done[found["status"]] += 1
            text = "kept (finished earlier)" if found["status"] == "done" else found["status"]
            typer.echo(f"seed {found['seed']}: {text}" + (f": {found['error']}" if found["error"] else "")
                       + f"  [{sum(done.values())}/{len(chosen)} seeds; failed {done['failed']}]", err=True)

        sweeps.run_sweep(out, variant, test_variant, chosen, list(ctx.args), episodes, eval_seed, scheduler,
                         workers or sweeps.default_workers(), on_result)
        found = sweeps.build_report(out, variant, test_variant, statuses)
    typer.echo(f"{done['trained']} seeds trained, {done['done']} kept, {done['failed']} failed; wrote "
               f"{out / 'sweep.json'}, {out / 'report.md'}, {out / 'rates.png'}")


@app.command()
def dynamics(
    run: Path = typer.Argument(..., help="run directory: a recording with updates, or checkpoint zips"),
    points: int = typer.Option(50, "--points", min=2, help="evenly spaced points of training"),
    levels: int = typer.Option(200, "--levels", min=1, help="levels per variant and point (greedy)"),
    observations: int = typer.Option(2000, "--observations", min=2, help="fixed observations for the "
                                     "function-space PCA (drawn once, kept in OUT/observations.npz)"),
    svd_path: Optional[Path] = typer.Option(None, "--svd", help="svd file: when its top components acted "
                                            "joins the combined figure"),
    seed: int = typer.Option(0, "--seed", help="level seeds (as misgen evaluate --seed) and the observations' draw"),
    n_envs: int = typer.Option(16, "--n-envs", min=1, help="parallel environments"),
    out: Optional[Path] = typer.Option(None, "--out", help="output directory (default RUN/dynamics)"),
    force: bool = typer.Option(False, "--force", help="replace an earlier dynamics output in --out"),
) -> None:
    """Behaviour and function over training: evaluations and the policy's outputs at points of training."""
    with user_errors():
        from misgen.rundir import RunDir

        RunDir(run).read_config()
        out = out or run / "dynamics"
        _refuse_overwrite(out / "behaviour.json", force)
        from analysis.dynamics import OUTPUT_FILES

        for name in OUTPUT_FILES:  # it writes these files into --out and replaces nothing else
            _refuse_inputs(out / name, [RunDir(run).recording, RunDir(run).model, RunDir(run).config_file, svd_path])
        if out.exists() and not out.is_dir():
            raise MisgenError(f"--out {out} is a file, not a directory")
        if svd_path is not None:
            from misgen.svd_file import SVDFile

            SVDFile.load(svd_path)
        from analysis.dynamics import run_dynamics

        with console.status("following training") as status:
            spent = run_dynamics(run, out, points, levels, observations, seed, n_envs, svd_path,
                                 progress=lambda text: status.update(f"evaluating {text}"))
    typer.echo(f"{spent['points']} points x 2 variants x {levels} levels: {spent['episodes']:,} episodes in "
               f"{spent['seconds']:.0f} s; wrote {out}/behaviour.json, behaviour.png, function.json, "
               "function_pcs.png, dynamics.png")


@app.command()
def replay(
    file: Path = typer.Argument(..., help="episode file (misgen evaluate --record-episodes, misgen ablate)"),
    episode: int = typer.Option(0, "--episode", help="episode index in the file"),
    all_episodes: bool = typer.Option(False, "--all", help="every episode, one after another (or one map)"),
    out: Optional[Path] = typer.Option(None, "--out", help="video to write: .mp4 or .gif"),
    size: int = typer.Option(512, "--size", min=64, help="frame size in pixels"),
    fps: int = typer.Option(15, "--fps", min=1),
    compare: Optional[Path] = typer.Option(None, "--compare", help="episode file to show side by side (same level)"),
    policy: Optional[Path] = typer.Option(None, "--policy", help="re-run this policy from the same initial state, "
                                          "shown side by side"),
    map_png: Optional[Path] = typer.Option(None, "--map", help="PNG of the path (or visitation heatmap with --all)"),
    force: bool = typer.Option(False, "--force", help="replace existing output files"),
) -> None:
    """Re-simulate recorded episodes, check them against the recording, and render video or a map."""
    with user_errors():
        if out is None and map_png is None:
            raise MisgenError("nothing to write: give --out VIDEO and/or --map PNG")
        if out is not None and out.suffix.lower() not in (".mp4", ".gif"):
            raise MisgenError(f"--out must end in .mp4 or .gif, not {out.name}")
        if map_png is not None and map_png.suffix.lower() != ".png":
            raise MisgenError(f"--map must end in .png, not {map_png.name}")
        for target in (out, map_png):
            if target is not None:
                _refuse_overwrite(target, force)
                _refuse_inputs(target, [file, compare, policy])
        from analysis.replay import replay as run_replay  # validates the file before procgen sees any of it

        model = None
        if policy is not None:
            from analysis.evaluation import load_model

            model = load_model(policy)
        count = run_replay(file, None if all_episodes else [episode], out, map_png, size, fps, compare,
                           model.policy if model else None, policy.name if policy else "policy")
    written = [str(p) for p in (out, map_png) if p is not None]
    typer.echo(f"replayed {count} episode(s), every step matching the recording; wrote {', '.join(written)}")


@app.command()
def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="run directory for everything the demo writes"),
    force: bool = typer.Option(False, "--force", help="replace an existing --out"),
    timesteps: int = typer.Option(DEMO.timesteps, "--timesteps", min=2048, help="env steps of training"),
    levels: int = typer.Option(DEMO.levels, "--levels", min=1, help="levels per variant for the shipped agent's "
                               "evaluation"),
    episodes: int = typer.Option(DEMO.episodes, "--episodes", min=1, help="levels per policy and variant in the "
                                 "shipped agent's ablation"),
    controls: int = typer.Option(DEMO.controls, "--controls", min=1, help="random controls, and as many bulk "
                                 "controls, in the ablation"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show the training progress bar"),
) -> None:
    """The whole workflow on a CPU in minutes: a small agent trained, recorded and decomposed here; the shipped
    agent evaluated, ablated against both kinds of control and replayed; writes report.md."""
    with user_errors():
        import shutil
        from dataclasses import replace

        from analysis.demo import run_demo

        _refuse_overwrite(out, force)
        _refuse_inputs(out, [SHIPPED_AGENT, SHIPPED_SVD])
        if out.exists():  # --force replaces an earlier demo's output, never another directory given by mistake
            if not (out / "report.md").is_file() or not (out / "config.json").is_file():
                raise MisgenError(f"{out} is not the output of an earlier misgen demo (no report.md and "
                                  f"config.json); --force replaces only that")
            shutil.rmtree(out)
        plan = replace(DEMO, timesteps=timesteps, levels=levels, episodes=episodes, controls=controls)
        report = run_demo(out, plan, progress=lambda text: typer.echo(f"misgen demo {text}", err=True),
                          show_training_progress=progress)
    typer.echo(f"demo finished; open {report}")


def _split_assignment(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name:
        raise MisgenError(f"--hp takes NAME=VALUE, not {item!r}")
    return name.strip(), value.strip()


def main() -> None:
    """The console script. click's own usage errors (an unknown option, a value out of range) get the same one
    plain line and exit code 2 as misgen's errors; ``--help`` and a bare ``misgen`` keep typer's formatting."""
    if len(sys.argv) < 2:
        app()  # prints the help
    try:
        code = typer.main.get_command(app).main(prog_name="misgen", standalone_mode=False)
    except typer.TyperException as error:  # click's ClickException and UsageError
        context = getattr(error, "ctx", None)
        where = f" (see '{context.command_path} --help')" if context is not None else ""
        typer.echo(f"misgen: error: {' '.join(error.format_message().split())}{where}", err=True)
        sys.exit(2)
    except typer.Abort:
        typer.echo("misgen: aborted", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
